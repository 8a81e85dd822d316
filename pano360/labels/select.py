"""Which unlabelled panoramas to label next: the ones whose labels would teach the model most.

Uncertainty is measured where decisions are made: at the tuned thresholds. A (half, class)
decision scores 1 when the probability sits on its threshold and 0 at probability 0 or 1
(linear in between, on each side separately, so a low threshold is not "far" from 0). A
panorama's uncertainty for a class is the larger of its two halves'; its score the sum
over classes (the expected number of decisions a label would settle).

Strategies:

* ``random``: a seeded random sample (the baseline any strategy must beat);
* ``uncertainty``: the highest scores;
* ``uncertainty+diversity`` (default): greedy, each class's uncertainty counting less the more
  of it the picks so far already cover (weight 1 / (1 + covered)), so that N picks do not
  all show the same confusing class.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from pano360.errors import Pano360Error

STRATEGIES = ("random", "uncertainty", "uncertainty+diversity")
REASON_MIN_UNCERTAINTY = 0.25  # a reason names a decision at most 3/4 of the way from its threshold to 0 or 1


class SelectError(Pano360Error, ValueError):
    pass


def decision_uncertainty(probs: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """1 at the threshold, falling linearly to 0 at probability 0 (below) or 1 (above)."""
    t = np.clip(np.asarray(thresholds, float), 1e-6, 1 - 1e-6)
    p = np.asarray(probs, float)
    distance = np.where(p < t, (t - p) / t, (p - t) / (1 - t))
    return 1.0 - np.clip(distance, 0.0, 1.0)


def rank(halves: pd.DataFrame, classes: list[str], thresholds, budget: int,
         strategy: str = "uncertainty+diversity", seed: int = 0) -> pd.DataFrame:
    """The ``budget`` panoramas to label next, best first, with the reason for each.

    ``halves``: one row per half with ``panorama``, ``image``, ``side`` and ``p_<class>``
    (as ``pano360 predict`` gives them; ``source`` is kept when present)."""
    if strategy not in STRATEGIES:
        raise SelectError(f"strategy must be one of {STRATEGIES}, not {strategy!r}")
    thresholds = np.asarray(thresholds, float)
    probs = halves[[f"p_{c}" for c in classes]].to_numpy(float)
    u = decision_uncertainty(probs, thresholds)
    panoramas = list(dict.fromkeys(halves["panorama"]))
    if budget < 1:
        raise SelectError(f"--budget must be at least 1, got {budget}")
    if budget > len(panoramas):
        raise SelectError(f"--budget {budget} is more than the {len(panoramas)} unlabelled panoramas given; "
                          f"lower --budget or give more panoramas")
    index = {p: i for i, p in enumerate(panoramas)}
    rows = halves["panorama"].map(index).to_numpy()
    per_pano = np.zeros((len(panoramas), len(classes)))
    np.maximum.at(per_pano, rows, u)
    scores = per_pano.sum(axis=1)

    if strategy == "random":
        order = list(np.random.default_rng(seed).permutation(len(panoramas))[:budget])
    elif strategy == "uncertainty":
        order = list(np.lexsort((np.arange(len(panoramas)), -scores))[:budget])  # ties: input order
    else:
        covered = np.zeros(len(classes))
        available = np.ones(len(panoramas), dtype=bool)
        order = []
        for _ in range(budget):
            gain = np.where(available, (per_pano / (1.0 + covered)).sum(axis=1), -np.inf)
            pick = int(np.argmax(gain))
            order.append(pick)
            available[pick] = False
            covered += per_pano[pick]

    picks = []
    for position, i in enumerate(order, 1):
        pano = panoramas[i]
        in_pano = rows == i
        mine = halves[in_pano]
        top = np.argsort(-per_pano[i], kind="stable")[:3]
        reasons = []
        for rank_in_panorama, c in enumerate(top):
            # A decision far from its threshold (p 0.00 against 0.16) is settled, not a reason;
            # the most uncertain class is always named.
            if per_pano[i, c] <= 0 or (rank_in_panorama and per_pano[i, c] < REASON_MIN_UNCERTAINTY):
                continue
            local = u[in_pano, c]
            half = mine.iloc[int(np.argmax(local))]
            reasons.append(f"{classes[c]} ({half['side']} p {half[f'p_{classes[c]}']:.2f}, "
                           f"threshold {thresholds[c]:.2f})")
        picks.append({"rank": position, "panorama": pano,
                      "source": mine["source"].iloc[0] if "source" in mine else "",
                      "halves": ";".join(mine["image"]), "score": round(float(scores[i]), 4),
                      "reason": ("random pick; " if strategy == "random" else "uncertain: ")
                      + (", ".join(reasons) if reasons else "no decision near its threshold")})
    return pd.DataFrame(picks)


def write_selection(picks: pd.DataFrame, path, header: str) -> None:
    """A list that `pano360 predict @FILE` and people both read: a comment with the reason
    above each panorama's path; ``<name>.csv`` beside it holds the same as a table."""
    from pathlib import Path

    from pano360.io import write_csv, write_text
    lines = [f"# {header}"]
    for pick in picks.to_dict("records"):
        lines.append(f"# {pick['rank']}. {pick['panorama']} (score {pick['score']:.2f}; halves "
                     f"{pick['halves'].replace(';', ', ')}): {pick['reason']}")
        lines.append(str(pick["source"] or pick["panorama"]))
    write_text(path, "\n".join(lines) + "\n")
    write_csv(Path(path).with_suffix(".csv"), picks)

"""Decision thresholds for multi-label scores, tuned on the validation split.

Inputs are validation probabilities ``probs`` (N, K) in [0, 1], 0/1 ``targets`` (N, K) and,
for cross-validation, ``groups`` (N,) panorama ids. A label is predicted when
``probs >= threshold``, both here and at inference.

Strategies:

* ``fixed``: one given value (default 0.5) for every class.
* ``global_f1``: one threshold for all classes that maximises micro-F1 on the pooled scores.
* ``per_class_f1``: per class the F1-maximising threshold ``t_c``, shrunk towards the global
  one: ``w * t_c + (1 - w) * t_glob`` with ``w = n_c / (n_c + shrink_k)``, ``n_c`` the class's
  val positives.
* ``per_class_precision`` / ``per_class_recall``: per class the threshold that reaches
  ``target_precision`` with the highest recall / ``target_recall`` with the highest
  precision. No shrinkage (it would break the target). Targets are point estimates on val.
* ``auto``: grouped K-fold cross-validation inside val; each candidate strategy is fitted on
  K-1 folds and scored on the held-out fold, the best mean score wins and is refitted on all
  of val. In-sample val F1 is never used to choose.

Conventions where a choice had to be made:

* Search is exact: every distinct val score is a candidate cut. The stored threshold is the
  midpoint between the chosen score and the next lower distinct score (0 below the lowest),
  so a score a hair away from a val score does not flip the decision.
* Ties in F1 go to the middle of the tied cuts (the higher threshold of the two middle ones
  when their number is even). For a precision target, ties in recall go to the higher
  threshold (better precision); for a recall target, ties in precision go to the lower
  threshold (better recall).
* Every per-class strategy uses the global micro-F1 threshold for a class with no val
  positives, with fewer than ``min_positives`` val positives, or whose precision target is
  not reached at any cut; the class indices are listed in ``details``.
* If val has no positive label at all, ``global_f1`` (and so every per-class fallback) uses
  the ``fixed`` value, with a note.
* F1 scores follow :mod:`pano360.evaluation.metrics`: a class with no positives and no predictions
  scores 1 (0/0), a false alarm on such a class scores 0.
* ``auto`` ties (within 1e-12) go to the simpler strategy, in the order of ``STRATEGIES``.
  Without ``groups`` every row is its own group (noted). With fewer groups than folds the
  number of folds drops to the number of groups; with fewer than 2 groups ``auto`` falls
  back to ``global_f1``. Both are noted in ``details["notes"]``.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Annotated, Literal

import numpy as np
from iterstrat.ml_stratifiers import IterativeStratification
from pydantic import Field, NonNegativeInt, field_validator

from pano360.io import write_json
from pano360.params import Section, validate_section
from pano360.evaluation.metrics import check_groups, check_inputs, check_thresholds, confusion_counts, f1_from_counts

STRATEGIES = ("fixed", "global_f1", "per_class_f1", "per_class_precision", "per_class_recall", "auto")
CONCRETE_STRATEGIES = STRATEGIES[:-1]
DEFAULT_CANDIDATES = ("fixed", "global_f1", "per_class_f1")
AUTO_METRICS = ("micro_f1", "macro_f1")
_TIE_TOLERANCE = 1e-12

# The settings that shape each concrete strategy, as recorded in ThresholdFit.settings.
_SETTINGS_USED = {
    "fixed": ("fixed",),
    "global_f1": ("fixed",),  # the fallback when val has no positives
    "per_class_f1": ("fixed", "min_positives", "shrink_k"),
    "per_class_precision": ("fixed", "min_positives", "target_precision"),
    "per_class_recall": ("fixed", "min_positives", "target_recall"),
}


@dataclass
class ThresholdFit:
    thresholds: np.ndarray  # (K,) float
    strategy: str           # the strategy actually used (for auto: the chosen one)
    requested: str          # what was asked for ("auto" or the same as strategy)
    settings: dict          # every setting that shaped the result
    details: dict           # per-class support, fallbacks, unreachable targets, CV scores, notes

    def to_dict(self) -> dict:
        """JSON-ready form (thresholds as a list)."""
        out = asdict(self)
        out["thresholds"] = [float(t) for t in self.thresholds]
        return out


# --- exact search over distinct scores ------------------------------------------------------

def _cuts(scores: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct scores in descending order, with TP and FP when predicting ``scores >= s``."""
    order = np.argsort(scores, kind="stable")[::-1]
    s, y = scores[order], y[order]
    tp = np.cumsum(y)
    fp = np.arange(1, s.size + 1) - tp
    last_of_run = np.r_[np.flatnonzero(s[1:] != s[:-1]), s.size - 1]
    return s[last_of_run], tp[last_of_run], fp[last_of_run]


def _threshold_at(s: np.ndarray, j: int) -> float:
    """Midpoint between cut ``j`` and the next lower distinct score (0 below the lowest)."""
    upper = s[j]
    lower = s[j + 1] if j + 1 < s.size else 0.0
    mid = (upper + lower) / 2
    # Adjacent floats can round the midpoint down onto `lower`, which would change the cut.
    return float(mid if mid > lower else upper)


def _middle_of_best(score: np.ndarray) -> int:
    best = np.flatnonzero(score == score.max())
    return int(best[(best.size - 1) // 2])


def _f1_at_cuts(tp: np.ndarray, fp: np.ndarray, n_pos: int) -> np.ndarray:
    # 2TP / (2TP + FP + FN) with FN = n_pos - TP; every cut predicts something, so no 0/0.
    return 2 * tp / (tp + fp + n_pos)


def _choose_f1(tp, fp, n_pos, cfg) -> int:
    return _middle_of_best(_f1_at_cuts(tp, fp, n_pos))


def _choose_precision(tp, fp, n_pos, cfg) -> int | None:
    feasible = tp / (tp + fp) >= cfg["target_precision"]
    if not feasible.any():
        return None
    tp_ok = np.where(feasible, tp, -1)
    # TP and FP only grow along the cuts, so the first cut with the best recall has fewest FP.
    return int(np.flatnonzero(tp_ok == tp_ok.max())[0])


def _choose_recall(tp, fp, n_pos, cfg) -> int:
    feasible = tp / n_pos >= cfg["target_recall"]  # always true at the last cut (recall 1)
    precision_ok = np.where(feasible, tp / (tp + fp), -1.0)
    return int(np.flatnonzero(precision_ok == precision_ok.max())[-1])


_CHOOSERS = {
    "per_class_f1": _choose_f1,
    "per_class_precision": _choose_precision,
    "per_class_recall": _choose_recall,
}


# --- concrete strategies --------------------------------------------------------------------

def _global_threshold(probs: np.ndarray, targets: np.ndarray, cfg: dict) -> tuple[float, list[str]]:
    n_pos = int(targets.sum())
    if n_pos == 0:
        return cfg["fixed"], [f"no positive labels: global threshold set to fixed={cfg['fixed']}"]
    s, tp, fp = _cuts(probs.ravel(), targets.ravel())
    return _threshold_at(s, _choose_f1(tp, fp, n_pos, cfg)), []


def _fit_concrete(strategy: str, probs: np.ndarray, targets: np.ndarray, cfg: dict) -> tuple[np.ndarray, dict]:
    k = probs.shape[1]
    support = targets.sum(axis=0)
    details = {"support": [int(n) for n in support]}
    if strategy == "fixed":
        return np.full(k, cfg["fixed"]), details

    t_glob, notes = _global_threshold(probs, targets, cfg)
    details.update(global_threshold=t_glob, notes=notes)
    thresholds = np.full(k, t_glob)
    if strategy == "global_f1":
        return thresholds, details

    no_positives, below_min, unreachable, raw = [], [], [], {}
    for c in range(k):
        if support[c] == 0:
            no_positives.append(c)
        elif support[c] < cfg["min_positives"]:
            below_min.append(c)
        else:
            s, tp, fp = _cuts(probs[:, c], targets[:, c])
            j = _CHOOSERS[strategy](tp, fp, int(support[c]), cfg)
            if j is None:
                unreachable.append(c)
            else:
                raw[c] = _threshold_at(s, j)

    tuned = np.array(sorted(raw), dtype=int)
    thresholds[tuned] = [raw[c] for c in tuned]
    if strategy == "per_class_f1":
        w = support[tuned] / (support[tuned] + cfg["shrink_k"])
        thresholds[tuned] = w * thresholds[tuned] + (1 - w) * t_glob
        details["shrink_weight"] = {str(c): float(wc) for c, wc in zip(tuned, w)}
    details.update(
        searched_threshold={str(c): raw[c] for c in tuned},  # before any shrinkage
        no_positives=no_positives,
        below_min_positives=below_min,
        unreachable_target=unreachable,
        fallback_global=sorted(no_positives + below_min + unreachable),
    )
    return thresholds, details


# --- grouped cross-validation ---------------------------------------------------------------

def grouped_folds(targets, groups, n_folds: int, seed: int = 0) -> np.ndarray:
    """Fold index (0..n_folds-1) per row; all rows of a group land in the same fold.

    Groups are stratified with iterative stratification on per-group labels
    ``[class in any row | class in every row]`` (the second half balances positive halves,
    not just positive panoramas). Groups are taken in sorted-id order and shuffled with
    ``RandomState(seed)``, so the result depends only on the data and the seed.
    """
    targets = np.asarray(targets).astype(bool)
    group_ids, inverse = np.unique(check_groups(groups, targets.shape[0]), return_inverse=True)
    n_groups, k = group_ids.size, targets.shape[1]
    if not 1 <= n_folds <= n_groups:
        raise ValueError(f"need 1 <= n_folds <= number of groups ({n_groups}), got {n_folds}")
    in_any = np.zeros((n_groups, k), dtype=bool)
    in_all = np.ones((n_groups, k), dtype=bool)
    np.logical_or.at(in_any, inverse, targets)
    np.logical_and.at(in_all, inverse, targets)
    labels = np.hstack([in_any, in_all])

    rng = np.random.RandomState(seed)
    perm = rng.permutation(n_groups)
    # iterstrat needs a bool matrix: with 0/1 ints it silently indexes columns 0 and 1.
    fold_of_perm = IterativeStratification(
        labels=labels[perm].astype(bool), r=np.full(n_folds, 1.0 / n_folds), random_state=rng)
    fold_of_group = np.empty(n_groups, dtype=int)
    fold_of_group[perm] = fold_of_perm
    return fold_of_group[inverse]


def _cross_validate(probs, targets, groups, cfg, folds, seed, metric, candidates) -> tuple[dict | None, list[str]]:
    """CV scores per candidate, or None when there is nothing to cross-validate on."""
    notes = []
    if groups is None:
        groups = np.arange(probs.shape[0])
        notes.append("no groups given: every row is its own group, so halves of a panorama "
                     "may fall in different folds")
    n_groups = np.unique(groups).size
    if n_groups < 2:
        notes.append(f"only {n_groups} group(s): cannot cross-validate")
        return None, notes
    n_folds = min(folds, n_groups)
    if n_folds < folds:
        notes.append(f"only {n_groups} groups: folds reduced from {folds} to {n_folds}")

    fold_of = grouped_folds(targets, groups, n_folds, seed)
    per_fold = {c: [] for c in candidates}
    for f in range(n_folds):
        held_out = fold_of == f
        if held_out.all() or not held_out.any():
            notes.append(f"fold {f} skipped: it holds all or none of the rows")
            continue
        for c in candidates:
            t, _ = _fit_concrete(c, probs[~held_out], targets[~held_out], cfg)
            per_fold[c].append(_f1_scores(probs[held_out], targets[held_out], t)[metric])
    if not per_fold[candidates[0]]:
        notes.append("no usable fold")
        return None, notes
    scores = {
        c: {"mean": float(np.mean(v)), "sd": float(np.std(v, ddof=1)) if len(v) > 1 else 0.0,
            "per_fold": [float(x) for x in v]}
        for c, v in per_fold.items()
    }
    cv = {"metric": metric, "folds_requested": folds, "folds_used": n_folds,
          "fold_rows": [int(n) for n in np.bincount(fold_of, minlength=n_folds)], "scores": scores}
    return cv, notes


# --- public API -----------------------------------------------------------------------------

class ThresholdsParams(Section):
    """params.yaml ``thresholds`` (strategies: module docstring)."""
    strategy: Literal["auto", "fixed", "global_f1", "per_class_f1", "per_class_precision",
                      "per_class_recall"] = "auto"
    fixed: Annotated[float, Field(ge=0, le=1)] = 0.5      # the `fixed` strategy's value
    min_positives: NonNegativeInt = 10   # per-class strategies: fewer val positives -> global
    shrink_k: Annotated[float, Field(ge=0, allow_inf_nan=False)] = 10.0  # per_class_f1 shrinkage
    target_precision: Annotated[float, Field(gt=0, le=1)] = 0.9
    target_recall: Annotated[float, Field(gt=0, le=1)] = 0.9
    folds: Annotated[int, Field(ge=2)] = 5   # auto: grouped CV folds inside val
    auto_metric: Literal["micro_f1", "macro_f1"] = "micro_f1"
    # auto chooses among these; the precision/recall strategies optimise another goal than
    # auto_metric and are only tried when listed
    candidates: list[Literal["fixed", "global_f1", "per_class_f1", "per_class_precision",
                             "per_class_recall"]] = list(DEFAULT_CANDIDATES)
    seed: int = 0

    @field_validator("candidates")
    @classmethod
    def _candidates(cls, value):
        if not value:
            raise ValueError("candidates must name at least one strategy")
        return value


def fit_thresholds(probs, targets, strategy: str | None = None, *, groups=None,
                   **settings) -> ThresholdFit:
    """Fit per-class thresholds on validation scores with the given strategy (see module doc).

    ``settings`` are :class:`ThresholdsParams` fields; missing ones take its defaults.
    """
    targets, probs = check_inputs(targets, probs)
    if groups is not None:
        groups = check_groups(groups, probs.shape[0])
    p = validate_section("thresholds", ThresholdsParams,
                         {**settings, **({"strategy": strategy} if strategy is not None else {})})
    strategy, fixed, min_positives, shrink_k = p.strategy, p.fixed, p.min_positives, p.shrink_k
    target_precision, target_recall, folds, seed = p.target_precision, p.target_recall, p.folds, p.seed
    auto_metric = p.auto_metric
    # Simplicity order doubles as the tie-break for auto.
    candidates = tuple(sorted(dict.fromkeys(p.candidates), key=STRATEGIES.index))

    cfg = {"fixed": float(fixed), "min_positives": int(min_positives), "shrink_k": float(shrink_k),
           "target_precision": float(target_precision), "target_recall": float(target_recall)}

    def settings_for(strategies, **extra):
        return {**{key: cfg[key] for s in strategies for key in _SETTINGS_USED[s]}, **extra}

    if strategy != "auto":
        thresholds, details = _fit_concrete(strategy, probs, targets, cfg)
        return ThresholdFit(thresholds, strategy, strategy, settings_for([strategy]), details)

    cv, notes = _cross_validate(probs, targets, groups, cfg, int(folds), seed, auto_metric, candidates)
    if cv is None:
        chosen = "global_f1"
        notes.append("auto fell back to global_f1")
    else:
        means = {c: cv["scores"][c]["mean"] for c in candidates}
        best = max(means.values())
        chosen = next(c for c in candidates if means[c] >= best - _TIE_TOLERANCE)
    thresholds, details = _fit_concrete(chosen, probs, targets, cfg)
    details["notes"] = details.get("notes", []) + notes
    details["cv"] = cv
    settings = settings_for(candidates + (chosen,), folds=int(folds), seed=seed,
                            auto_metric=auto_metric, candidates=list(candidates))
    return ThresholdFit(thresholds, chosen, "auto", settings, details)


def _f1_scores(probs: np.ndarray, targets: np.ndarray, thresholds: np.ndarray) -> dict:
    counts = confusion_counts(targets, probs >= thresholds)
    tp, fp, fn = counts["tp"], counts["fp"], counts["fn"]
    return {"micro_f1": float(f1_from_counts(tp.sum(), fp.sum(), fn.sum())),
            "macro_f1": float(f1_from_counts(tp, fp, fn).mean())}


def evaluate_thresholds(probs, targets, thresholds) -> dict:
    """``{"micro_f1", "macro_f1"}`` at ``probs >= thresholds``.

    macro_f1 is the plain mean of per-class F1 over all classes; a class with no positives
    and no predictions scores 1 (0/0), and micro-F1 uses the same rule on the pooled counts.
    """
    targets, probs = check_inputs(targets, probs)
    return _f1_scores(probs, targets, check_thresholds(thresholds, probs.shape[1]))


def compare_strategies(probs, targets, *, groups=None, **same_settings) -> dict:
    """What each strategy scores in-sample on val, next to the CV estimate ``auto`` uses.

    Returns ``{strategy: {"micro_f1", "macro_f1"[, "cv_mean", "cv_sd"]}}`` for every concrete
    strategy (the CV keys only for ``auto``'s candidates; they refer to ``auto_metric``), plus
    ``"auto": {"micro_f1", "macro_f1", "chosen", "cv_metric"}``. In-sample numbers are
    optimistic for the tuned strategies; the CV columns are the honest comparison.
    """
    same_settings = {k: v for k, v in same_settings.items() if k != "strategy"}
    auto = fit_thresholds(probs, targets, "auto", groups=groups, **same_settings)
    cv_scores = auto.details["cv"]["scores"] if auto.details["cv"] else {}
    out = {}
    for strategy in CONCRETE_STRATEGIES:
        fit = fit_thresholds(probs, targets, strategy, groups=groups, **same_settings)
        row = evaluate_thresholds(probs, targets, fit.thresholds)
        if strategy in cv_scores:
            row.update(cv_mean=cv_scores[strategy]["mean"], cv_sd=cv_scores[strategy]["sd"])
        out[strategy] = row
    out["auto"] = {**evaluate_thresholds(probs, targets, auto.thresholds), "chosen": auto.strategy,
                   "cv_metric": auto.settings["auto_metric"]}
    return out


def f1_curves(probs, targets) -> list[dict]:
    """Per class: ``{"class", "support", "thresholds", "f1"}`` for plotting F1 against threshold.

    ``thresholds`` are the distinct val scores in ascending order and ``f1[i]`` is the F1 of
    predicting ``probs >= thresholds[i]`` (0 everywhere for a class without positives).
    """
    targets, probs = check_inputs(targets, probs)
    curves = []
    for c in range(probs.shape[1]):
        s, tp, fp = _cuts(probs[:, c], targets[:, c])
        n_pos = int(targets[:, c].sum())
        curves.append({"class": c, "support": n_pos, "thresholds": s[::-1].copy(),
                       "f1": _f1_at_cuts(tp, fp, n_pos)[::-1].copy()})
    return curves


def write_thresholds_file(path, fit: ThresholdFit, classes: list[str]) -> None:
    """``models/thresholds.json``: class -> threshold, and how they were chosen."""
    result = fit.to_dict()
    write_json(path, {"classes": list(classes), "thresholds": dict(zip(classes, result["thresholds"])),
                      "strategy": fit.strategy, "requested": fit.requested, "settings": fit.settings,
                      "details": fit.details, "compare": "probability >= threshold"})

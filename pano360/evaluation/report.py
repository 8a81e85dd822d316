"""The evaluate stage's report: test metrics with panorama-bootstrap intervals, the support
behind each figure, and where the model errs (galleries, calibration)."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np
import pandas as pd
from pydantic import Field, NonNegativeInt, PositiveInt

from pano360.evaluation.bootstrap import DECISION_METRICS, confidence_intervals
from pano360.evaluation.metrics import multilabel_metrics, panorama_level
from pano360.io import write_json
from pano360.params import Section


class EvaluateParams(Section):
    """params.yaml ``evaluate``."""
    bootstrap: NonNegativeInt = 1000      # panorama resamples for the 95 % intervals; 0 = none
    seed: int = 0
    min_positives: PositiveInt = 10       # a class with fewer test positives is flagged: its AP is unstable
    errors: bool = True                   # per-class galleries of the worst false positives/negatives
    errors_per_class: Annotated[int, Field(ge=1, le=32)] = 8
    thumbnail: Annotated[int, Field(ge=32, le=256)] = 96   # gallery thumbnail size in pixels


def evaluation_report(targets, probs, thresholds, groups, params: EvaluateParams | None = None) -> dict:
    """Every test metric (tuned thresholds, 0.5, panorama level), the test set's size, and the
    95 % bootstrap interval of each decision metric."""
    params = params or EvaluateParams()
    targets, probs = np.asarray(targets), np.asarray(probs, float)
    half = np.full(targets.shape[1], 0.5)
    pano_targets, pano_probs, _ = panorama_level(targets, probs, groups)
    report = {
        "tuned": multilabel_metrics(targets, probs, thresholds),
        "at_0.5": multilabel_metrics(targets, probs, half),
        "panorama": {"tuned": multilabel_metrics(pano_targets, pano_probs, thresholds),
                     "at_0.5": multilabel_metrics(pano_targets, pano_probs, half)},
        "test_halves": int(targets.shape[0]),
        "test_panoramas": int(pano_targets.shape[0]),
        "classes_without_positives": int((targets.sum(axis=0) == 0).sum()),
        "note": "mAP averages AP over classes with at least one test positive; classes without "
                "positives are excluded (their count is classes_without_positives)",
    }
    if params.bootstrap:
        ci = confidence_intervals(targets, probs, probs >= thresholds, groups, params.bootstrap, params.seed)
        report["ci95"] = {name: {"low": low, "high": high} for name, (low, high) in ci.items()}
        report["ci95_method"] = (f"{params.bootstrap} resamples of the {report['test_panoramas']} test "
                                 f"panoramas (both halves together), seed {params.seed}, percentile interval")
    return report


DECISION_KEYS = (("mAP", ("tuned", "mAP")), ("CF1", ("tuned", "CF1")), ("OF1", ("tuned", "OF1")),
                 ("CF1@0.5", ("at_0.5", "CF1")), ("OF1@0.5", ("at_0.5", "OF1")),
                 ("pano_mAP", ("panorama", "tuned", "mAP")))


def _round(value, digits: int = 4):
    return round(float(value), digits) if value is not None and value == value else None


def decision_metrics(report: dict) -> tuple[dict, dict | None, dict | None]:
    """metrics/test.json and, with intervals, metrics/test_lo.json and metrics/test_hi.json:
    the same keys, so `dvc metrics show` prints each bound under its estimate."""
    out = {}
    for key, path in DECISION_KEYS:
        value = report
        for part in path:
            value = value[part]
        out[key] = _round(value)
    if "ci95" not in report:
        return out, None, None
    low = {k: _round(report["ci95"][k]["low"]) for k in DECISION_METRICS}
    high = {k: _round(report["ci95"][k]["high"]) for k in DECISION_METRICS}
    return out, low, high


def flag_few_positives(per_class: pd.DataFrame, min_positives: int) -> pd.DataFrame:
    """Add ``too_few_positives``: a class's AP on fewer test positives than this is unstable."""
    out = per_class.copy()
    out["too_few_positives"] = out["support"] < min_positives
    return out


def worst_errors(targets, probs, classes, k: int) -> dict[str, dict[str, list[int]]]:
    """Per class, row indices of the ``k`` highest-scoring negatives (false-positive
    candidates) and the ``k`` lowest-scoring positives (false-negative candidates)."""
    targets, probs = np.asarray(targets, bool), np.asarray(probs, float)
    out = {}
    for c, name in enumerate(classes):
        negatives, positives = np.flatnonzero(~targets[:, c]), np.flatnonzero(targets[:, c])
        fp = negatives[np.argsort(-probs[negatives, c], kind="stable")][:k]
        fn = positives[np.argsort(probs[positives, c], kind="stable")][:k]
        out[name] = {"fp": fp.tolist(), "fn": fn.tolist()}
    return out


def calibration_table(targets, probs, bins: int = 10) -> pd.DataFrame:
    """Reliability: per probability bin (all classes pooled), mean predicted probability,
    observed share of positives and the number of (half, class) pairs."""
    t, p = np.asarray(targets, float).ravel(), np.asarray(probs, float).ravel()
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    rows = []
    for b in range(bins):
        mask = which == b
        if mask.any():
            rows.append({"bin": b, "low": edges[b], "high": edges[b + 1], "predicted": float(p[mask].mean()),
                         "observed": float(t[mask].mean()), "count": int(mask.sum())})
    return pd.DataFrame(rows, columns=["bin", "low", "high", "predicted", "observed", "count"])


def write_decision_metrics(path, report: dict) -> None:
    """``path`` (metrics/test.json) with the decision numbers, and ``<stem>_lo``/``<stem>_hi``
    beside it with their interval bounds (removed when there are none), so `dvc metrics show`
    prints each bound under its estimate."""
    estimate, low, high = decision_metrics(report)
    write_json(path, estimate)
    path = Path(path)
    for bound, values in (("lo", low), ("hi", high)):
        target = path.with_name(f"{path.stem}_{bound}{path.suffix}")
        if values is None:
            target.unlink(missing_ok=True)
        else:
            write_json(target, values)

"""Multi-label evaluation metrics for half-panorama classifiers.

Notation: ``targets`` is an (N, K) 0/1 matrix, ``probs`` an (N, K) matrix of scores in
[0, 1], and a label is predicted when ``probs >= threshold`` (one threshold per class, or
one for all). Conventions for the cases a formula leaves undefined:

* **Classes without positives** get AP ``NaN`` and are left out of ``mAP`` (their number
  is reported as ``n_classes_without_positives``); sklearn would score them 0 and keep them.
* **CP / CR / CF1, OP / OR / OF1** follow ML-GCN / CSRA: a class that is never predicted has
  precision 0 and still counts in CP; CR averages only the classes with positives (their
  recall is undefined otherwise); CF1 is the harmonic mean of CP and CR. OF1 is micro-F1.
* **Per-class F1** is ``2TP / (2TP + FP + FN)``; a class with no positives and no predictions
  (0/0) scores 1 — nothing to find and nothing claimed — while any false alarm on such a
  class scores 0. ``macro_f1`` is the plain mean of these over all classes, which is not CF1.
* **sample_f1** uses ``zero_division=1`` so a correctly empty prediction on an empty half
  counts as perfect.
* **lrap** and **coverage_error** are computed over samples with at least one true label:
  sklearn gives empty samples an LRAP of 1 and a coverage of 0, which would let the many
  empty halves flatter both numbers.
* If no sample has any positive label, every number that needs one is ``NaN``.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    coverage_error,
    f1_score,
    hamming_loss,
)


def check_inputs(targets, probs) -> tuple[np.ndarray, np.ndarray]:
    """Validate an (N, K) 0/1 target matrix and a matching score matrix in [0, 1].

    Returns ``(targets as int64, probs as float64)``; raises ``ValueError`` on bad input.
    """
    targets = np.asarray(targets)
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 2 or probs.shape[0] == 0 or probs.shape[1] == 0:
        raise ValueError(f"probs must be a non-empty (N, K) matrix, got shape {probs.shape}")
    if targets.shape != probs.shape:
        raise ValueError(f"targets shape {targets.shape} does not match probs shape {probs.shape}")
    if not np.all(np.isfinite(probs)):
        raise ValueError("probs contain NaN or infinite values")
    if probs.min() < 0.0 or probs.max() > 1.0:
        raise ValueError(
            f"probs must lie in [0, 1] (got {probs.min():.4g} .. {probs.max():.4g}); "
            "pass sigmoid probabilities, not logits")
    if targets.dtype.kind not in "biuf" or not np.all(np.isin(targets, (0, 1))):
        raise ValueError("targets must contain only 0 and 1")
    return targets.astype(np.int64), probs


def check_thresholds(thresholds, n_classes: int) -> np.ndarray:
    """Broadcast a scalar or (K,) threshold to a float (K,) array; reject NaN and bad shapes."""
    t = np.asarray(thresholds, dtype=np.float64)
    if t.ndim == 0:
        t = np.full(n_classes, float(t))
    if t.shape != (n_classes,):
        raise ValueError(f"thresholds must be a scalar or have shape ({n_classes},), got {t.shape}")
    if not np.all(np.isfinite(t)):
        raise ValueError("thresholds contain NaN or infinite values")
    return t


def check_groups(groups, n: int) -> np.ndarray:
    """Validate a length-N vector of group (panorama) ids without missing values."""
    groups = np.asarray(groups)
    if groups.shape != (n,):
        raise ValueError(f"groups must have shape ({n},), got {groups.shape}")
    if groups.dtype.kind == "f" and np.isnan(groups).any():
        raise ValueError("groups contain NaN")
    if groups.dtype.kind == "O" and any(g is None for g in groups):
        raise ValueError("groups contain None")
    return groups


def confusion_counts(targets: np.ndarray, preds: np.ndarray) -> dict[str, np.ndarray]:
    """Per-class TP, FP, FN and TN counts (each a (K,) int array)."""
    t = targets.astype(bool)
    p = preds.astype(bool)
    return {
        "tp": np.sum(t & p, axis=0),
        "fp": np.sum(~t & p, axis=0),
        "fn": np.sum(t & ~p, axis=0),
        "tn": np.sum(~t & ~p, axis=0),
    }


def f1_from_counts(tp, fp, fn):
    """F1 = 2TP / (2TP + FP + FN), with 0/0 (no positives, nothing predicted) scored 1."""
    tp, fp, fn = (np.asarray(x, dtype=np.float64) for x in (tp, fp, fn))
    denom = 2 * tp + fp + fn
    return np.where(denom > 0, 2 * tp / np.where(denom > 0, denom, 1.0), 1.0)


def average_precision(targets, probs) -> np.ndarray:
    """Per-class non-interpolated AP (sklearn's definition); NaN for classes without positives."""
    targets, probs = check_inputs(targets, probs)
    ap = np.full(targets.shape[1], np.nan)
    # Only classes with positives reach sklearn, which would otherwise warn and return 0.
    for c in np.flatnonzero(targets.sum(axis=0) > 0):
        ap[c] = average_precision_score(targets[:, c], probs[:, c])
    return ap


def mean_ap(targets: np.ndarray, probs: np.ndarray) -> float:
    """mAP over the classes with positives (NaN when none has any)."""
    ap = average_precision(targets, probs)
    return float(np.nanmean(ap)) if np.isfinite(ap).any() else float("nan")


def _per_class_rates(counts: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision (0 when never predicted), recall (NaN without positives) and F1 per class."""
    tp, fp, fn = counts["tp"], counts["fp"], counts["fn"]
    n_pred, n_pos = tp + fp, tp + fn
    precision = np.where(n_pred > 0, tp / np.maximum(n_pred, 1), 0.0)
    recall = np.where(n_pos > 0, tp / np.maximum(n_pos, 1), np.nan)
    return precision, recall, f1_from_counts(tp, fp, fn)


def ranking_average_precision(targets: np.ndarray, probs: np.ndarray, chunk: int = 2048) -> float:
    """sklearn's ``label_ranking_average_precision_score``, vectorised over samples (sklearn
    ranks each sample in a Python loop: 20 s at 15,000 test halves x 50 classes, here well
    under one). Per sample, each true label's share of true labels among those scored at least
    as high, averaged; a sample whose labels are all true (or none) scores 1, as in sklearn."""
    targets, probs = np.asarray(targets, bool), np.asarray(probs, float)
    n, k = targets.shape
    scores = np.empty(n)
    for start in range(0, n, chunk):
        t, p = targets[start:start + chunk], probs[start:start + chunk]
        at_least = p[:, None, :] >= p[:, :, None]          # [i, l, j]: label j scored >= label l
        rank = at_least.sum(axis=2)
        true_rank = (at_least & t[:, None, :]).sum(axis=2)
        r = t.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(t, true_rank / rank, 0.0).sum(axis=1) / r
        scores[start:start + chunk] = np.where((r == 0) | (r == k), 1.0, mean)
    return float(scores.sum() / n) if n else float("nan")


def _harmonic(a: float, b: float) -> float:
    if np.isnan(a) or np.isnan(b):
        return float("nan")
    return 2 * a * b / (a + b) if a + b > 0 else 0.0


def multilabel_metrics(targets, probs, thresholds) -> dict:
    """Threshold-free and thresholded multi-label metrics as a flat JSON-ready dict.

    Keys: ``mAP``, ``micro_AP``, ``CP``, ``CR``, ``CF1``, ``OP``, ``OR``, ``OF1``,
    ``macro_f1``, ``sample_f1``, ``hamming_loss``, ``hamming_loss_all_negative``,
    ``subset_accuracy``, ``lrap``, ``coverage_error`` (floats) and ``n_samples``,
    ``n_classes``, ``n_classes_without_positives``, ``n_empty_samples`` (ints).
    See the module docstring for the conventions.
    """
    targets, probs = check_inputs(targets, probs)
    n, k = targets.shape
    preds = (probs >= check_thresholds(thresholds, k)).astype(np.int64)
    counts = confusion_counts(targets, preds)
    precision, recall, f1 = _per_class_rates(counts)

    has_pos = targets.sum(axis=0) > 0
    nonempty = targets.sum(axis=1) > 0
    ap = average_precision(targets, probs)
    nan = float("nan")

    cp = float(precision.mean())
    cr = float(recall[has_pos].mean()) if has_pos.any() else nan
    tp, n_pred, n_pos = counts["tp"].sum(), (counts["tp"] + counts["fp"]).sum(), targets.sum()
    op = float(tp / n_pred) if n_pred > 0 else 0.0
    or_ = float(tp / n_pos) if n_pos > 0 else nan

    return {
        "mAP": float(ap[has_pos].mean()) if has_pos.any() else nan,
        "micro_AP": float(average_precision_score(targets.ravel(), probs.ravel())) if n_pos > 0 else nan,
        "CP": cp,
        "CR": cr,
        "CF1": _harmonic(cp, cr),
        "OP": op,
        "OR": or_,
        "OF1": _harmonic(op, or_),
        "macro_f1": float(f1.mean()),
        "sample_f1": float(f1_score(targets, preds, average="samples", zero_division=1.0)),
        "hamming_loss": float(hamming_loss(targets, preds)),
        "hamming_loss_all_negative": float(targets.mean()),
        "subset_accuracy": float(accuracy_score(targets, preds)),
        "lrap": ranking_average_precision(targets[nonempty], probs[nonempty]) if nonempty.any() else nan,
        "coverage_error": float(coverage_error(targets[nonempty], probs[nonempty])) if nonempty.any() else nan,
        "n_samples": int(n),
        "n_classes": int(k),
        "n_classes_without_positives": int((~has_pos).sum()),
        "n_empty_samples": int((~nonempty).sum()),
    }


def per_class_table(targets, probs, thresholds, class_names) -> pd.DataFrame:
    """One row per class: class, support, ap, precision, recall, f1, threshold, tp, fp, fn, tn.

    Uses the same conventions as :func:`multilabel_metrics`, so the column means reproduce
    its numbers: ``precision.mean() == CP``, ``recall.mean()`` (NaN skipped) ``== CR`` and
    ``f1.mean() == macro_f1``.
    """
    targets, probs = check_inputs(targets, probs)
    k = targets.shape[1]
    names = list(class_names)
    if len(names) != k:
        raise ValueError(f"got {len(names)} class names for {k} classes")
    t = check_thresholds(thresholds, k)
    counts = confusion_counts(targets, probs >= t)
    precision, recall, f1 = _per_class_rates(counts)
    return pd.DataFrame({
        "class": names,
        "support": targets.sum(axis=0),
        "ap": average_precision(targets, probs),
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "threshold": t,
        **counts,
    })


def panorama_level(targets, probs, groups) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Aggregate half-level rows to panoramas.

    A panorama has a class if any of its halves has it, and its score is the maximum over its
    halves, so ``score >= t`` is exactly "some half is predicted". Rows come out in sorted
    group-id order; returns ``(targets_p, probs_p, group_ids)``.
    """
    targets, probs = check_inputs(targets, probs)
    group_ids, inverse = np.unique(check_groups(groups, targets.shape[0]), return_inverse=True)
    targets_p = np.zeros((group_ids.size, targets.shape[1]), dtype=targets.dtype)
    probs_p = np.zeros((group_ids.size, probs.shape[1]))
    np.maximum.at(targets_p, inverse, targets)
    np.maximum.at(probs_p, inverse, probs)  # probs >= 0, so the zero start never wins wrongly
    return targets_p, probs_p, group_ids


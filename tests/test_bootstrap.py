"""Bootstrap intervals over panoramas, and the paired comparison of runs."""
import numpy as np
import pytest
from sklearn.metrics import average_precision_score

from pano360.evaluation.bootstrap import confidence_intervals, difference, paired, resample_weights, weighted_ap
from pano360.evaluation.metrics import multilabel_metrics


def data(n_pano=40, k=3, seed=0, noise=0.35):
    rng = np.random.default_rng(seed)
    targets = (rng.random((2 * n_pano, k)) < 0.35).astype(int)
    probs = np.clip(targets * 0.6 + rng.random((2 * n_pano, k)) * noise, 0, 1).round(2)  # with ties
    groups = np.repeat([f"p{i:03d}" for i in range(n_pano)], 2)
    return targets, probs, groups


def test_resamples_draw_whole_panoramas():
    _, _, groups = data()
    weights = resample_weights(groups, 50, seed=1)
    assert weights.shape == (50, 80)
    assert (weights[:, 0::2] == weights[:, 1::2]).all()   # both halves, always together
    assert (weights.sum(axis=1) == 80).all()


def test_weighted_ap_is_sklearns_ap_with_sample_weights():
    targets, probs, groups = data()
    weights = resample_weights(groups, 4, seed=2)
    ap = weighted_ap(targets, probs, weights)
    for b in range(4):
        for c in range(targets.shape[1]):
            expected = average_precision_score(targets[:, c], probs[:, c], sample_weight=weights[b])
            assert ap[b, c] == pytest.approx(expected)


def test_interval_brackets_the_estimate_and_is_reproducible():
    targets, probs, groups = data()
    ci = confidence_intervals(targets, probs, probs >= 0.5, groups, 400, seed=3)
    point = multilabel_metrics(targets, probs, 0.5)
    assert ci["mAP"][0] <= point["mAP"] <= ci["mAP"][1]
    assert ci["CF1"][0] <= point["CF1"] <= ci["CF1"][1]
    assert ci == confidence_intervals(targets, probs, probs >= 0.5, groups, 400, seed=3)


def test_identical_runs_differ_by_exactly_zero():
    targets, probs, groups = data()
    run = {"targets": targets, "probs": probs, "decisions": probs >= 0.5}
    scored = paired({"a": run, "b": dict(run)}, groups, 300)
    for metric in ("mAP", "CF1", "OF1", "pano_mAP"):
        d = difference(scored["a"][metric], scored["b"][metric])
        assert (d["mean"], d["low"], d["high"], d["b_wins"], d["ties"]) == (0, 0, 0, 0, 1)


def test_a_run_better_on_every_panorama_wins_every_resample():
    targets, probs, groups = data()
    worse = probs.copy()
    for start in range(0, len(targets), 2):   # one confident mistake in every panorama
        c = start % targets.shape[1]
        worse[start, c] = 0.99 if targets[start, c] == 0 else 0.0
    perfect = targets.astype(float)
    scored = paired({"a": {"targets": targets, "probs": worse, "decisions": worse >= 0.5},
                     "b": {"targets": targets, "probs": perfect, "decisions": perfect >= 0.5}}, groups, 300)
    for metric in ("mAP", "CF1", "OF1"):
        assert difference(scored["a"][metric], scored["b"][metric])["b_wins"] == 1.0


def test_resampling_panoramas_gives_the_wider_honest_interval():
    """Both halves of a panorama are alike (one scene): half-level resampling would count them
    as independent evidence and report an interval that is too narrow."""
    targets, probs, groups = data(n_pano=60, noise=0.9)
    targets[1::2], probs[1::2] = targets[0::2], probs[0::2]     # the two halves agree
    by_panorama = confidence_intervals(targets, probs, probs >= 0.5, groups, 800, seed=4)
    by_half = confidence_intervals(targets, probs, probs >= 0.5, np.arange(len(groups)), 800, seed=4)
    for metric in ("mAP", "CF1", "OF1"):
        width_pano = by_panorama[metric][1] - by_panorama[metric][0]
        width_half = by_half[metric][1] - by_half[metric][0]
        assert width_pano > 1.2 * width_half, metric

import json

import numpy as np
import pytest
from sklearn.metrics import f1_score

from pano360.evaluation.thresholds import (
    STRATEGIES,
    compare_strategies,
    evaluate_thresholds,
    f1_curves,
    fit_thresholds,
    grouped_folds,
)

# Settings that switch off the guards, so a per-class fit is the raw per-class optimum.
RAW = {"min_positives": 0, "shrink_k": 0.0}


def column(scores_and_labels):
    """(N, 1) probs and targets from a list of (score, label) pairs."""
    scores, labels = zip(*scores_and_labels)
    return np.array(scores)[:, None], np.array(labels)[:, None]


def f1_at(probs, targets, t):
    """Plain loop-friendly F1 of predicting probs >= t (independent of the library code)."""
    y, pred = targets.ravel() == 1, probs.ravel() >= t
    tp = np.sum(y & pred)
    denom = 2 * tp + np.sum(~y & pred) + np.sum(y & ~pred)
    return 2 * tp / denom if denom else 1.0


def simulate(seed, n_panoramas, prevalence, separation, bias):
    """Scores sigmoid(separation * y + noise - bias), two halves per panorama."""
    rng = np.random.default_rng(seed)
    y = (rng.random((2 * n_panoramas, len(prevalence))) < prevalence).astype(int)
    logits = separation * y + rng.normal(size=y.shape) - bias
    return 1 / (1 + np.exp(-logits)), y, np.repeat(np.arange(n_panoramas), 2)


# --- exact search ---------------------------------------------------------------------------

def test_separable_class_gets_f1_one_and_threshold_between_the_groups():
    probs, targets = column([(0.8, 1), (0.7, 1), (0.6, 1), (0.3, 0), (0.2, 0), (0.1, 0)])
    fit = fit_thresholds(probs, targets, "per_class_f1", **RAW)
    assert fit.thresholds[0] == pytest.approx(0.45)
    assert evaluate_thresholds(probs, targets, fit.thresholds)["micro_f1"] == 1.0


def test_known_f1_argmax():
    # Cuts give F1 .4 .33 .57 .75 .67 .6 .73 .67: the best cut is at 0.6, next lower score 0.5.
    probs, targets = column([(0.9, 1), (0.8, 0), (0.7, 1), (0.6, 1), (0.5, 0), (0.4, 0), (0.3, 1), (0.2, 0)])
    fit = fit_thresholds(probs, targets, "per_class_f1", **RAW)
    assert fit.thresholds[0] == pytest.approx(0.55)
    assert f1_at(probs, targets, fit.thresholds[0]) == pytest.approx(0.75)


def test_f1_ties_go_to_the_middle_of_the_tied_cuts():
    # F1 = 0.5 at the cuts 0.95, 0.75 and 0.55; the middle one is stored as (0.75 + 0.7) / 2.
    probs, targets = column([(0.95, 1), (0.9, 0), (0.85, 0), (0.8, 0), (0.75, 1),
                             (0.7, 0), (0.65, 0), (0.6, 0), (0.55, 1), (0.5, 0)])
    assert fit_thresholds(probs, targets, "per_class_f1", **RAW).thresholds[0] == pytest.approx(0.725)
    # Two tied cuts (0.9 and 0.6): the higher threshold wins.
    probs, targets = column([(0.9, 1), (0.8, 0), (0.7, 0), (0.6, 1), (0.5, 0)])
    assert fit_thresholds(probs, targets, "per_class_f1", **RAW).thresholds[0] == pytest.approx(0.85)


def test_lowest_cut_stores_half_the_lowest_score():
    probs, targets = column([(0.6, 1), (0.4, 1), (0.2, 1)])
    assert fit_thresholds(probs, targets, "per_class_f1", **RAW).thresholds[0] == pytest.approx(0.1)


@pytest.mark.parametrize("seed", range(5))
def test_exact_search_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    targets = (rng.random((60, 4)) < [0.1, 0.3, 0.5, 0.05]).astype(int)
    targets[0] = 1  # every class has a positive
    probs = np.round(np.clip(0.3 * targets + rng.random(targets.shape) * 0.7, 0, 1), 2)  # with ties

    per_class = fit_thresholds(probs, targets, "per_class_f1", **RAW).thresholds
    for c in range(targets.shape[1]):
        best = max(f1_at(probs[:, c], targets[:, c], t) for t in np.unique(probs[:, c]))
        assert f1_at(probs[:, c], targets[:, c], per_class[c]) == pytest.approx(best)
        assert per_class[c] not in probs[:, c]  # a midpoint, not a val score (scores are 0.01 apart)

    t_glob = fit_thresholds(probs, targets, "global_f1").thresholds
    assert np.all(t_glob == t_glob[0])
    best = max(f1_at(probs, targets, t) for t in np.unique(probs))
    assert f1_at(probs, targets, t_glob[0]) == pytest.approx(best)


def test_f1_curves_match_brute_force():
    rng = np.random.default_rng(3)
    targets = (rng.random((40, 3)) < 0.3).astype(int)
    probs = np.round(rng.random((40, 3)), 1)
    for curve in f1_curves(probs, targets):
        c = curve["class"]
        assert np.all(np.diff(curve["thresholds"]) > 0)
        assert curve["support"] == targets[:, c].sum()
        expected = [f1_at(probs[:, c], targets[:, c], t) for t in curve["thresholds"]]
        np.testing.assert_allclose(curve["f1"], expected)


# --- concrete strategies --------------------------------------------------------------------

def test_fixed_and_global_share_one_value():
    rng = np.random.default_rng(0)
    probs, targets = rng.random((30, 3)), (rng.random((30, 3)) < 0.3).astype(int)
    fit = fit_thresholds(probs, targets, "fixed", fixed=0.3)
    assert fit.thresholds.tolist() == [0.3] * 3
    assert (fit.strategy, fit.requested, fit.settings) == ("fixed", "fixed", {"fixed": 0.3})
    assert len(set(fit_thresholds(probs, targets, "global_f1").thresholds)) == 1


PR_CLASS = [(0.9, 1), (0.8, 1), (0.7, 0), (0.6, 1), (0.5, 1), (0.4, 0), (0.3, 0), (0.2, 1)]


@pytest.mark.parametrize(("target", "expected"), [(0.8, 0.45), (0.9, 0.75), (1.0, 0.75)])
def test_precision_target_takes_the_highest_recall(target, expected):
    # Precision at the cuts: 1, 1, .67, .75, .8, .67, .57, .62.
    probs, targets = column(PR_CLASS)
    fit = fit_thresholds(probs, targets, "per_class_precision", target_precision=target, min_positives=0)
    assert fit.thresholds[0] == pytest.approx(expected)
    assert fit.details["unreachable_target"] == []


@pytest.mark.parametrize(("target", "expected"), [(0.6, 0.45), (0.8, 0.45), (1.0, 0.1)])
def test_recall_target_takes_the_highest_precision(target, expected):
    # Recall reaches .6 at the cut 0.6 and .8 at 0.5 (precision .8, the best of the rest).
    probs, targets = column(PR_CLASS)
    fit = fit_thresholds(probs, targets, "per_class_recall", target_recall=target, min_positives=0)
    assert fit.thresholds[0] == pytest.approx(expected)


def test_unreachable_precision_falls_back_to_global():
    probs = np.array([[0.9, 0.9], [0.8, 0.8], [0.7, 0.1], [0.6, 0.2]])
    targets = np.array([[0, 1], [1, 1], [0, 0], [1, 0]])  # class 0: precision never reaches 0.9
    fit = fit_thresholds(probs, targets, "per_class_precision", target_precision=0.9, min_positives=0)
    assert fit.details["unreachable_target"] == [0]
    assert fit.details["fallback_global"] == [0]
    assert fit.thresholds[0] == fit.details["global_threshold"]
    assert fit.thresholds[1] == pytest.approx(0.5)


def test_shrinkage_formula():
    rng = np.random.default_rng(1)
    targets = (rng.random((80, 3)) < [0.1, 0.3, 0.6]).astype(int)
    probs = np.clip(0.25 * targets + 0.75 * rng.random(targets.shape), 0, 1)
    raw = fit_thresholds(probs, targets, "per_class_f1", **RAW).thresholds
    t_glob = fit_thresholds(probs, targets, "global_f1").thresholds[0]
    fit = fit_thresholds(probs, targets, "per_class_f1", min_positives=0, shrink_k=7.0)
    n = targets.sum(axis=0)
    w = n / (n + 7.0)
    np.testing.assert_allclose(fit.thresholds, w * raw + (1 - w) * t_glob)
    np.testing.assert_allclose(list(fit.details["searched_threshold"].values()), raw)
    assert fit.details["global_threshold"] == t_glob


def test_min_positives_and_empty_classes_use_the_global_threshold():
    rng = np.random.default_rng(2)
    targets = np.zeros((100, 3), dtype=int)
    targets[:30, 0] = 1  # 30 positives: tuned
    targets[:4, 1] = 1   # 4 positives: below min_positives
    probs = np.clip(0.3 * targets + 0.7 * rng.random(targets.shape), 0, 1)
    fit = fit_thresholds(probs, targets, "per_class_f1", min_positives=5)
    t_glob = fit.details["global_threshold"]
    assert fit.thresholds[1] == fit.thresholds[2] == t_glob
    assert fit.thresholds[0] != t_glob
    assert fit.details["below_min_positives"] == [1]
    assert fit.details["no_positives"] == [2]
    assert fit.details["fallback_global"] == [1, 2]
    assert fit.details["support"] == [30, 4, 0]
    assert fit.settings == {"fixed": 0.5, "min_positives": 5, "shrink_k": 10.0}


def test_no_positive_labels_at_all_uses_the_fixed_value():
    fit = fit_thresholds(np.full((4, 2), 0.3), np.zeros((4, 2)), "global_f1", fixed=0.4)
    assert fit.thresholds.tolist() == [0.4, 0.4]
    assert fit.details["notes"]


# --- auto and grouped folds -----------------------------------------------------------------

def test_auto_prefers_global_when_per_class_overfits():
    # 200 val halves, 30 rare classes (~6 positives each), all with the same downward bias.
    probs, targets, groups = simulate(0, 100, np.full(30, 0.03), 2.0, 3.0)
    report = compare_strategies(probs, targets, groups=groups, **RAW)
    assert report["auto"]["chosen"] == "global_f1"
    # In-sample, plain per-class looks better; the cross-validated estimate says otherwise.
    assert report["per_class_f1"]["micro_f1"] > report["global_f1"]["micro_f1"]
    assert report["per_class_f1"]["cv_mean"] < report["global_f1"]["cv_mean"]
    assert report["fixed"]["cv_mean"] < report["global_f1"]["cv_mean"]
    assert "cv_mean" not in report["per_class_precision"]


def test_auto_prefers_per_class_for_miscalibrated_classes_with_plenty_of_data():
    probs, targets, groups = simulate(0, 1000, np.full(5, 0.2), 4.0, np.array([-1.0, 1, 3, 5, 6]))
    fit = fit_thresholds(probs, targets, groups=groups)
    assert (fit.strategy, fit.requested) == ("per_class_f1", "auto")
    scores = fit.details["cv"]["scores"]
    assert scores["per_class_f1"]["mean"] > scores["global_f1"]["mean"] + 0.2
    assert len(scores["per_class_f1"]["per_fold"]) == 5
    assert fit.settings["candidates"] == ["fixed", "global_f1", "per_class_f1"]
    assert {"folds", "seed", "auto_metric", "shrink_k", "min_positives"} <= set(fit.settings)


def test_auto_tie_goes_to_the_simpler_strategy():
    # With one class and min_positives above its support, per_class_f1 equals global_f1.
    probs, targets, groups = simulate(1, 50, np.full(1, 0.3), 2.0, 2.0)
    fit = fit_thresholds(probs, targets, groups=groups, min_positives=10_000)
    scores = fit.details["cv"]["scores"]
    assert scores["per_class_f1"]["mean"] == scores["global_f1"]["mean"] > scores["fixed"]["mean"]
    assert fit.strategy == "global_f1"


def test_grouped_folds_keep_panoramas_together_and_spread_rare_classes():
    probs, targets, groups = simulate(4, 300, np.array([0.3, 0.05, 0.01]), 2.0, 0.0)
    folds = grouped_folds(targets, groups, 5, seed=0)
    for g in np.unique(groups):
        assert len(set(folds[groups == g])) == 1
    sizes = np.bincount(folds, minlength=5)
    assert sizes.max() - sizes.min() <= 0.1 * len(groups)
    rare_panoramas = np.unique(groups[targets[:, 2] == 1])  # 11 of them
    fold_of_rare = [folds[groups == g][0] for g in rare_panoramas]
    per_fold = np.bincount(fold_of_rare, minlength=5)
    assert per_fold.max() - per_fold.min() <= 1
    # Integer and bool targets give the same folds (iterstrat needs bools internally).
    np.testing.assert_array_equal(folds, grouped_folds(targets.astype(bool), groups, 5, seed=0))


def test_deterministic_for_the_same_seed():
    probs, targets, groups = simulate(5, 80, np.full(6, 0.1), 2.0, 1.0)
    shuffled = np.random.default_rng(0).permutation(groups.max() + 1)[groups]  # ids in any order
    a = fit_thresholds(probs, targets, groups=shuffled, seed=3)
    b = fit_thresholds(probs, targets, groups=shuffled, seed=3)
    np.testing.assert_array_equal(a.thresholds, b.thresholds)
    assert a.details == b.details
    np.testing.assert_array_equal(grouped_folds(targets, groups, 5, 7), grouped_folds(targets, groups, 5, 7))


def test_few_groups_reduce_folds_and_one_group_falls_back():
    probs, targets, groups = simulate(6, 3, np.full(2, 0.5), 2.0, 0.0)
    fit = fit_thresholds(probs, targets, groups=groups, folds=5)
    assert fit.details["cv"]["folds_used"] == 3
    assert any("folds reduced" in note for note in fit.details["notes"])

    fit = fit_thresholds(probs, targets, groups=np.zeros(len(groups)))
    assert (fit.strategy, fit.requested, fit.details["cv"]) == ("global_f1", "auto", None)
    assert any("fell back" in note for note in fit.details["notes"])


def test_missing_groups_are_noted():
    probs, targets, _ = simulate(7, 20, np.full(2, 0.3), 2.0, 0.0)
    fit = fit_thresholds(probs, targets)
    assert any("no groups given" in note for note in fit.details["notes"])


def test_fit_is_json_serialisable():
    probs, targets, groups = simulate(8, 40, np.full(4, 0.2), 2.0, 1.0)
    fit = fit_thresholds(probs, targets, groups=groups, candidates=STRATEGIES[:-1])
    restored = json.loads(json.dumps(fit.to_dict(), allow_nan=False))
    assert restored["thresholds"] == fit.thresholds.tolist()
    assert set(restored["details"]["cv"]["scores"]) == set(STRATEGIES[:-1])


# --- evaluation and validation --------------------------------------------------------------

def test_evaluate_thresholds_matches_sklearn():
    rng = np.random.default_rng(9)
    targets = (rng.random((50, 4)) < [0.3, 0.2, 0.1, 0.0]).astype(int)  # last class empty
    probs = rng.random((50, 4))
    t = np.array([0.4, 0.5, 0.6, 1.0])  # the empty class is never predicted: F1 0/0 -> 1
    preds = probs >= t
    scores = evaluate_thresholds(probs, targets, t)
    assert scores["micro_f1"] == pytest.approx(f1_score(targets, preds, average="micro"))
    assert scores["macro_f1"] == pytest.approx(f1_score(targets, preds, average="macro", zero_division=1.0))


@pytest.mark.parametrize(("probs", "targets", "kwargs", "message"), [
    (np.full((3, 2), 0.5), np.zeros((3, 3)), {}, "does not match"),
    (np.array([[0.5, np.nan]]), np.zeros((1, 2)), {}, "NaN"),
    (np.array([[0.5, 1.5]]), np.zeros((1, 2)), {}, r"\[0, 1\]"),
    (np.full((2, 2), 0.5), np.full((2, 2), 2), {}, "only 0 and 1"),
    (np.full(4, 0.5), np.zeros(4), {}, "matrix"),
    (np.full((2, 2), 0.5), np.zeros((2, 2)), {"strategy": "best"}, "thresholds.strategy"),
    (np.full((2, 2), 0.5), np.zeros((2, 2)), {"groups": [1, 2, 3]}, "groups"),
    (np.full((2, 2), 0.5), np.zeros((2, 2)), {"target_precision": 0.0}, "target_precision"),
    (np.full((2, 2), 0.5), np.zeros((2, 2)), {"candidates": ["auto"]}, "candidates"),
    (np.full((2, 2), 0.5), np.zeros((2, 2)), {"folds": 1}, "folds"),
])
def test_invalid_inputs_raise(probs, targets, kwargs, message):
    with pytest.raises(ValueError, match=message):
        fit_thresholds(probs, targets, **kwargs)

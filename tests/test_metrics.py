import json
import warnings

import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    coverage_error,
    f1_score,
    hamming_loss,
    label_ranking_average_precision_score,
    precision_recall_fscore_support,
)

from pano360.evaluation.metrics import average_precision, multilabel_metrics, panorama_level, per_class_table

# 4 samples x 3 classes; at threshold 0.5 the predictions are
#   [[1,1,0],[0,1,0],[0,1,0],[0,0,0]]
TARGETS = np.array([[1, 0, 0],
                    [1, 1, 0],
                    [0, 1, 0],
                    [0, 0, 1]])
PROBS = np.array([[0.9, 0.6, 0.1],
                  [0.4, 0.8, 0.2],
                  [0.3, 0.7, 0.3],
                  [0.2, 0.1, 0.4]])


def test_overall_and_per_class_metrics_by_hand():
    m = multilabel_metrics(TARGETS, PROBS, 0.5)
    # Per class: TP 1/2/0, predicted 1/3/0, positives 2/2/1.
    # Precision 1, 2/3 and 0 (never predicted); recall 1/2, 1, 0.
    assert m["CP"] == pytest.approx(5 / 9)
    assert m["CR"] == pytest.approx(1 / 2)
    assert m["CF1"] == pytest.approx(10 / 19)
    assert m["OP"] == pytest.approx(3 / 4)
    assert m["OR"] == pytest.approx(3 / 5)
    assert m["OF1"] == pytest.approx(2 / 3)
    # Per-class F1 2/3, 4/5, 0: their mean is not the harmonic mean of CP and CR.
    assert m["macro_f1"] == pytest.approx(22 / 45)
    assert m["macro_f1"] != pytest.approx(m["CF1"], abs=0.01)
    assert m["hamming_loss"] == pytest.approx(3 / 12)
    assert m["hamming_loss_all_negative"] == pytest.approx(5 / 12)
    assert m["subset_accuracy"] == pytest.approx(1 / 4)  # only the third row is exact
    # Sample F1: 2/3, 2/3, 1, 0 (the last sample's label is missed).
    assert m["sample_f1"] == pytest.approx((2 / 3 + 2 / 3 + 1 + 0) / 4)
    assert (m["n_samples"], m["n_classes"], m["n_classes_without_positives"], m["n_empty_samples"]) == (4, 3, 0, 0)


def test_average_precision_by_hand():
    # Every class of the 4x3 example ranks its positives first, so its AP is 1.
    np.testing.assert_allclose(average_precision(TARGETS, PROBS), [1.0, 1.0, 1.0])
    # Ranked P, N, P, N: precision 1 at the first positive and 2/3 at the second.
    targets = np.array([[1], [0], [1], [0]])
    probs = np.array([[0.9], [0.8], [0.7], [0.1]])
    assert average_precision(targets, probs)[0] == pytest.approx((1 + 2 / 3) / 2)


def test_matches_sklearn_on_random_data():
    rng = np.random.default_rng(0)
    targets = (rng.random((200, 6)) < [0.4, 0.2, 0.1, 0.05, 0.3, 0.15]).astype(int)
    targets[:6] = np.eye(6, dtype=int)  # every class has a positive
    probs = np.clip(0.3 * targets + 0.7 * rng.random(targets.shape), 0, 1)
    t = np.array([0.5, 0.4, 0.6, 0.3, 0.5, 0.45])
    preds = probs >= t
    m = multilabel_metrics(targets, probs, t)

    p, r, f, _ = precision_recall_fscore_support(targets, preds, average="micro")
    assert (m["OP"], m["OR"], m["OF1"]) == pytest.approx((p, r, f))
    assert m["mAP"] == pytest.approx(average_precision_score(targets, probs, average="macro"))
    assert m["micro_AP"] == pytest.approx(average_precision_score(targets, probs, average="micro"))
    assert m["macro_f1"] == pytest.approx(f1_score(targets, preds, average="macro", zero_division=1.0))
    assert m["sample_f1"] == pytest.approx(f1_score(targets, preds, average="samples", zero_division=1.0))
    assert m["hamming_loss"] == pytest.approx(hamming_loss(targets, preds))
    assert m["subset_accuracy"] == pytest.approx(accuracy_score(targets, preds))
    nonempty = targets.sum(axis=1) > 0
    assert m["n_empty_samples"] == (~nonempty).sum() > 0
    assert m["lrap"] == pytest.approx(label_ranking_average_precision_score(targets[nonempty], probs[nonempty]))
    assert m["coverage_error"] == pytest.approx(coverage_error(targets[nonempty], probs[nonempty]))
    # sklearn over all samples would differ: empty samples score LRAP 1 and coverage 0.
    assert m["coverage_error"] > coverage_error(targets, probs)

    # CP / CR from sklearn's per-class precision and recall (never-predicted precision = 0).
    pc, rc, _, _ = precision_recall_fscore_support(targets, preds, average=None, zero_division=0.0)
    assert (m["CP"], m["CR"]) == pytest.approx((pc.mean(), rc.mean()))


def test_class_without_positives_is_excluded_from_map_and_counted():
    targets = np.c_[TARGETS, np.zeros(4, dtype=int)]
    probs = np.c_[PROBS, [0.6, 0.2, 0.1, 0.3]]  # the empty class has one false alarm at 0.5
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = multilabel_metrics(targets, probs, 0.5)
        ap = average_precision(targets, probs)
        table = per_class_table(targets, probs, 0.5, ["a", "b", "c", "empty"])
    assert np.isnan(ap[3])
    assert m["n_classes_without_positives"] == 1
    assert m["mAP"] == pytest.approx(np.mean(ap[:3]))
    assert m["mAP"] == pytest.approx(multilabel_metrics(TARGETS, PROBS, 0.5)["mAP"])
    # The empty class still counts where it can: precision 0 in CP, F1 0 (a false alarm).
    assert m["CP"] == pytest.approx((5 / 9 * 3 + 0) / 4)
    assert m["CR"] == pytest.approx(1 / 2)
    assert m["macro_f1"] == pytest.approx(22 / 45 * 3 / 4)
    assert table.loc[3, "f1"] == 0.0 and np.isnan(table.loc[3, "recall"])


def test_empty_class_never_predicted_scores_f1_one():
    targets = np.array([[1, 0], [0, 0]])
    probs = np.array([[0.9, 0.1], [0.2, 0.2]])
    m = multilabel_metrics(targets, probs, 0.5)
    assert m["macro_f1"] == 1.0
    assert m["CP"] == 0.5  # precision 0 for the never-predicted class, per ML-GCN


def test_per_class_table_columns_reproduce_the_summary():
    thresholds = np.array([0.5, 0.65, 0.35])
    table = per_class_table(TARGETS, PROBS, thresholds, ["car", "tree", "sign"])
    assert list(table.columns) == ["class", "support", "ap", "precision", "recall", "f1",
                                   "threshold", "tp", "fp", "fn", "tn"]
    assert table["support"].tolist() == [2, 2, 1]
    assert table[["tp", "fp", "fn", "tn"]].to_numpy().tolist() == [[1, 0, 1, 2], [2, 0, 0, 2], [1, 0, 0, 3]]
    assert (table[["tp", "fp", "fn", "tn"]].sum(axis=1) == 4).all()
    m = multilabel_metrics(TARGETS, PROBS, thresholds)
    assert table["precision"].mean() == pytest.approx(m["CP"])
    assert table["recall"].mean() == pytest.approx(m["CR"])
    assert table["f1"].mean() == pytest.approx(m["macro_f1"])
    np.testing.assert_allclose(table["ap"], average_precision(TARGETS, PROBS))
    with pytest.raises(ValueError, match="class names"):
        per_class_table(TARGETS, PROBS, 0.5, ["car"])


def test_panorama_level_or_of_labels_and_max_of_scores():
    targets = np.array([[1, 0], [0, 0], [0, 1], [0, 0], [0, 0]])
    probs = np.array([[0.2, 0.1], [0.7, 0.3], [0.4, 0.9], [0.1, 0.6], [0.3, 0.2]])
    groups = np.array(["p2", "p2", "p1", "p1", "p3"])
    t_p, s_p, ids = panorama_level(targets, probs, groups)
    assert ids.tolist() == ["p1", "p2", "p3"]
    assert t_p.tolist() == [[0, 1], [1, 0], [0, 0]]
    np.testing.assert_allclose(s_p, [[0.4, 0.9], [0.7, 0.3], [0.3, 0.2]])
    # Panorama decisions at the half thresholds are the OR of the half decisions.
    t = np.array([0.5, 0.5])
    half_preds = probs >= t
    assert (s_p >= t).tolist() == [half_preds[groups == g].any(axis=0).tolist() for g in ids]


def test_output_is_json_serialisable():
    m = multilabel_metrics(TARGETS, PROBS, [0.5, 0.5, 0.5])
    assert json.loads(json.dumps(m, allow_nan=False)) == m
    assert all(type(v) in (int, float) for v in m.values())


@pytest.mark.parametrize(("targets", "probs", "thresholds", "message"), [
    (TARGETS, PROBS[:3], 0.5, "does not match"),
    (TARGETS, PROBS * 2, 0.5, r"\[0, 1\]"),
    (TARGETS, PROBS, [0.5, 0.5], "thresholds"),
    (TARGETS, PROBS, [0.5, np.nan, 0.5], "NaN"),
])
def test_invalid_inputs_raise(targets, probs, thresholds, message):
    with pytest.raises(ValueError, match=message):
        multilabel_metrics(targets, probs, thresholds)


def test_ranking_average_precision_is_sklearns_with_ties_and_all_true_samples():
    """The vectorised LRAP (sklearn ranks each sample in a Python loop: 20 s of evaluate at
    15,000 test halves) gives sklearn's value, ties and samples whose labels are all true included."""
    import numpy as np
    from sklearn.metrics import label_ranking_average_precision_score
    from pano360.evaluation.metrics import ranking_average_precision
    rng = np.random.default_rng(3)
    targets = rng.random((400, 6)) < 0.35
    targets[:5] = True
    targets = targets[targets.any(axis=1)]
    for probs in (rng.random(targets.shape), np.round(rng.random(targets.shape), 1)):
        assert ranking_average_precision(targets, probs, chunk=64) == pytest.approx(
            label_ranking_average_precision_score(targets, probs), abs=1e-12)

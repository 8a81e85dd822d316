import numpy as np
import pandas as pd
import pytest

from pano360.data.partition import SPLITS, PartitionError, partition


def labels_table(n_panoramas=300, n_classes=6, seed=0, rare_in=None):
    rng = np.random.default_rng(seed)
    prevalence = 0.45 * np.arange(1, n_classes + 1) ** -1.1
    rows = []
    for p in range(n_panoramas):
        present = rng.random(n_classes) < prevalence
        where = rng.integers(0, 3, n_classes)          # left, right, both
        for s, side in enumerate(("left", "right")):
            y = present & ((where == s) | (where == 2))
            rows.append([f"p{p:04d}_{side}.jpg", f"p{p:04d}", *y.astype(int)])
    frame = pd.DataFrame(rows, columns=["image", "panorama", *[f"c{i}" for i in range(n_classes)]])
    if rare_in is not None:
        frame["rare"] = frame["panorama"].isin(rare_in).astype(int)
    return frame


FRACTIONS = {"train": 0.7, "val": 0.15, "test": 0.15}


def test_halves_of_a_panorama_stay_together_and_sizes_follow_fractions():
    frame = labels_table()
    parts, report, notes = partition(frame, FRACTIONS, seed=1)
    seen = {}
    for split in SPLITS:
        for pano in parts[split]["panorama"]:
            assert seen.setdefault(pano, split) == split
    assert sum(len(parts[s]) for s in SPLITS) == len(frame)
    assert report["panoramas_in_two_splits"] == 0
    for split, share in FRACTIONS.items():
        assert abs(report["share"][split] - share) < 0.02
    assert report["max_class_share_deviation"] < 0.05
    assert notes == []


def test_better_balanced_than_a_random_group_split():
    frame = labels_table(n_panoramas=600, seed=4)
    _, report, _ = partition(frame, FRACTIONS, seed=0)
    rng = np.random.default_rng(0)
    panos = frame["panorama"].unique()
    devs = []
    for _ in range(10):
        split = dict(zip(panos, rng.choice(SPLITS, len(panos), p=list(FRACTIONS.values()))))
        s = frame["panorama"].map(split)
        share = {k: (s == k).mean() for k in SPLITS}
        classes = [c for c in frame.columns if c.startswith("c")]
        devs.append(max(abs(frame.loc[s == k, c].sum() / frame[c].sum() - share[k])
                        for c in classes for k in SPLITS))
    assert report["max_class_share_deviation"] < np.mean(devs)


def test_deterministic_and_seed_dependent(tmp_path):
    frame = labels_table()
    a, _, _ = partition(frame, FRACTIONS, seed=7)
    b, _, _ = partition(frame.sample(frac=1, random_state=3), FRACTIONS, seed=7)  # row order irrelevant
    c, _, _ = partition(frame, FRACTIONS, seed=8)
    for s in SPLITS:
        a[s].to_csv(tmp_path / "a.csv", index=False)
        b[s].to_csv(tmp_path / "b.csv", index=False)
        assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    assert any(not a[s].equals(c[s]) for s in SPLITS)


def test_rare_class_warns_and_too_few_panoramas_fail():
    frame = labels_table(n_panoramas=40, n_classes=2, rare_in={"p0001", "p0002"})
    _, report, notes = partition(frame, FRACTIONS, seed=0)
    assert len(notes) == 1 and "'rare'" in notes[0] and "2 panorama" in notes[0]
    with pytest.raises(PartitionError, match="only 9 panoramas"):
        partition(labels_table(n_panoramas=9), FRACTIONS, seed=0)


@pytest.mark.parametrize("fractions", [{"train": 0.7, "val": 0.2, "test": 0.2},
                                       {"train": 1.2, "val": -0.1, "test": -0.1},
                                       {"train": 0.7, "valid": 0.3}])
def test_bad_fractions_are_rejected(fractions):
    with pytest.raises(PartitionError, match="partition.fractions"):
        partition(labels_table(n_panoramas=20), fractions, seed=0)


def test_reports_per_class_shares():
    frame = labels_table()
    parts, report, _ = partition(frame, FRACTIONS, seed=0)
    for c in ("c0", "c5"):
        entry = report["per_class"][c]
        assert entry["positives"] == frame[c].sum()
        assert sum(entry[s]["positives"] for s in SPLITS) == entry["positives"]
        assert entry["train"]["positives"] == parts["train"][c].sum()

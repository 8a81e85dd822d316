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


def _assignment(parts):
    return {p: s for s in SPLITS for p in parts[s]["panorama"]}


def test_a_new_round_keeps_every_earlier_split_and_balances_the_whole_set():
    """After adding 10 % more panoramas, partition reassigned everything: 18 of 39 round-1 test
    panoramas moved to train, so round 2 was tested partly on what it trained on."""
    round1 = labels_table(n_panoramas=240, seed=3)
    parts1, _, _ = partition(round1, FRACTIONS, seed=0)
    known = _assignment(parts1)
    grown = pd.concat([round1, labels_table(n_panoramas=264, seed=4).iloc[480:]
                       .assign(image=lambda f: "n" + f["image"], panorama=lambda f: "n" + f["panorama"])])
    fresh = _assignment(partition(grown, FRACTIONS, seed=0)[0])
    moved = sum(fresh[p] != s for p, s in known.items())
    assert moved > 20                           # the old behaviour: a fresh split moves many
    parts2, report, _ = partition(grown, FRACTIONS, seed=0, known=known)
    now = _assignment(parts2)
    assert all(now[p] == s for p, s in known.items())
    assert report["assignment"] == {"kept": 240, "new": 24, "assigned_not_labelled": 0}
    for split, share in FRACTIONS.items():
        assert abs(report["share"][split] - share) < 0.03
    # better balanced than giving the new panoramas random splits (mean of 20 draws)
    from pano360.data.partition import partition_report
    rng = np.random.default_rng(0)
    new_ids = [p for p in grown["panorama"].unique() if p not in known]
    random_devs = [partition_report(grown, grown["panorama"].map(
        {**known, **dict(zip(new_ids, rng.choice(SPLITS, len(new_ids), p=[0.7, 0.15, 0.15])))}))
        ["max_class_share_deviation"] for _ in range(20)]
    assert report["max_class_share_deviation"] < np.mean(random_devs)
    again, _, _ = partition(grown, FRACTIONS, seed=0, known=known)
    assert _assignment(again) == now          # deterministic


def test_a_class_new_in_a_round_reaches_val_and_test():
    round1 = labels_table(n_panoramas=100, seed=5)
    known = _assignment(partition(round1, FRACTIONS, seed=0)[0])
    new = labels_table(n_panoramas=110, seed=6).iloc[200:].assign(
        image=lambda f: "n" + f["image"], panorama=lambda f: "n" + f["panorama"])
    new_ids = sorted(new["panorama"].unique())
    grown = pd.concat([round1, new]).fillna(0)
    grown["brand_new"] = grown["panorama"].isin(new_ids[:3]).astype(int)   # 3 of the 10 new panoramas
    parts, report, _ = partition(grown, FRACTIONS, seed=0, known=known)
    for s in SPLITS:
        assert parts[s]["brand_new"].sum() > 0, s
    assert all(_assignment(parts)[p] == s for p, s in known.items())


def test_kept_assignment_file_errors_name_the_row(tmp_path):
    from pano360.data.partition import read_assignment
    assert read_assignment(tmp_path / "none.csv") is None
    (tmp_path / "a.csv").write_text("panorama,split\np1,train\np2,holdout\n")
    with pytest.raises(PartitionError, match=r"a.csv row 3: split 'holdout'"):
        read_assignment(tmp_path / "a.csv")
    (tmp_path / "b.csv").write_text("panorama,split\np1,train\np1,test\n")
    with pytest.raises(PartitionError, match=r"b.csv row 3: panorama 'p1' is listed twice"):
        read_assignment(tmp_path / "b.csv")

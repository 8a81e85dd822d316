"""`pano360 select`: which unlabelled panoramas to label next."""
import json

import numpy as np
import pandas as pd
import pytest

from pano360.cli import main
from pano360.use.predict import collect_inputs
from pano360.labels.select import decision_uncertainty, rank


@pytest.fixture
def demo(trained_demo_root):
    return trained_demo_root


def select(demo, out, *extra):
    return main(["select", str(demo / "raw/panoramas"), "--model", str(demo / "model.pt"), "--thresholds",
                 str(demo / "thresholds.json"), "--out", str(out), "--quiet", *extra])


def test_picks_are_written_with_reasons_and_read_back_as_a_list(demo, tmp_path, capsys):
    assert select(demo, tmp_path / "next.txt", "--budget", "4") == 0
    text = (tmp_path / "next.txt").read_text()
    paths = [line for line in text.splitlines() if not line.startswith("#")]
    assert len(paths) == 4 and all(p.endswith(".jpg") for p in paths)
    assert text.count("halves pano_") == 4 and "uncertain:" in text
    picks = pd.read_csv(tmp_path / "next.csv")
    assert list(picks["rank"]) == [1, 2, 3, 4] and picks["score"].is_monotonic_decreasing is not None
    assert [str(p) for p in collect_inputs([f"@{tmp_path / 'next.txt'}"])] == paths


def test_already_labelled_panoramas_are_left_out(demo, tmp_path, capsys):
    rows = (demo / "raw/labels.ndjson").read_text().splitlines()
    labelled = [r for r in rows if json.loads(r)["data_row"]["external_id"].split("_")[1] in ("0000", "0001", "0002")]
    (tmp_path / "done.ndjson").write_text("\n".join(labelled) + "\n")
    assert select(demo, tmp_path / "next.txt", "--budget", "11", "--labels", str(tmp_path / "done.ndjson")) == 0
    picked = pd.read_csv(tmp_path / "next.csv")["panorama"].tolist()
    assert len(picked) == 11 and not {"pano_0000", "pano_0001", "pano_0002"} & set(picked)
    assert select(demo, tmp_path / "n.txt", "--budget", "2", "--labels", str(demo / "raw/labels.ndjson")) == 1
    assert "every panorama given is already labelled" in capsys.readouterr().err


def test_bad_input_is_refused_before_any_work(demo, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["select", str(tmp_path / "empty"), "--budget", "2", "--model", str(demo / "model.pt"),
                 "--out", str(tmp_path / "n.txt")]) == 1
    assert "folder(s) without panoramas" in capsys.readouterr().err
    assert select(demo, tmp_path / "n.txt", "--budget", "15") == 1
    assert "--budget 15 is more than the 14 unlabelled panoramas" in capsys.readouterr().err
    assert not (tmp_path / "n.txt").exists()


def halves_table(per_panorama: dict[str, list[float]], classes=("a", "b")) -> pd.DataFrame:
    rows = []
    for pano, probs in per_panorama.items():
        for side, p in zip(("left", "right"), (probs, [0.0] * len(probs))):
            rows.append({"panorama": pano, "image": f"{pano}_{side}.jpg", "side": side,
                         **{f"p_{c}": v for c, v in zip(classes, p)}})
    return pd.DataFrame(rows)


def test_uncertainty_is_one_at_the_threshold_and_zero_at_the_ends():
    u = decision_uncertainty(np.array([[0.0, 0.2, 0.6, 1.0]]), np.array([0.2, 0.2, 0.2, 0.2]))
    assert u.tolist() == [[0.0, 1.0, 0.5, 0.0]]


def test_diversity_spreads_the_picks_over_classes():
    # three panoramas torn on class a, one less torn on class b
    table = halves_table({"p1": [0.5, 0.0], "p2": [0.49, 0.0], "p3": [0.48, 0.0], "p4": [0.0, 0.4]})
    t = np.array([0.5, 0.5])
    assert list(rank(table, ["a", "b"], t, 2, "uncertainty")["panorama"]) == ["p1", "p2"]
    diverse = rank(table, ["a", "b"], t, 2, "uncertainty+diversity")
    assert list(diverse["panorama"]) == ["p1", "p4"] and "b (left p 0.40, threshold 0.50)" in diverse["reason"][1]
    random = rank(table, ["a", "b"], t, 2, "random", seed=1)
    assert list(random["panorama"]) == list(rank(table, ["a", "b"], t, 2, "random", seed=1)["panorama"])


def test_the_reason_names_only_decisions_near_their_threshold():
    # p1 sits on a's threshold; b (p 0.01 against 0.2) and c (0.99 against 0.5) are settled
    table = halves_table({"p1": [0.5, 0.01, 0.99]}, classes=("a", "b", "c"))
    reason = rank(table, ["a", "b", "c"], np.array([0.5, 0.2, 0.5]), 1)["reason"][0]
    assert reason == "uncertain: a (left p 0.50, threshold 0.50)"

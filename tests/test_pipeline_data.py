"""Real `dvc repro` of the data stages on a tiny demo, in a temporary git repo."""
import json

import pandas as pd
import pytest

from dvc_project import make_project

pytestmark = pytest.mark.slow


def test_repro_data_stages_then_nothing_to_do(tmp_path):
    project = make_project(tmp_path / "proj", count=16, width=256)
    project.commit("tiny demo")
    out = project.dvc("repro", "partition").stdout
    for stage in ("split_images", "load_labels", "partition"):
        assert f"Running stage '{stage}'" in out

    labels = pd.read_csv(project.path / "data/interim/labels.csv")
    assert list(labels.columns[:2]) == ["image", "panorama"] and len(labels) == 32
    splits = {s: pd.read_csv(project.path / f"data/processed/{s}.csv") for s in ("train", "val", "test")}
    assert sum(len(f) for f in splits.values()) == 32
    panoramas = [set(f["panorama"]) for f in splits.values()]
    assert not (panoramas[0] & panoramas[1] or panoramas[0] & panoramas[2] or panoramas[1] & panoramas[2])
    for name in ("split", "labels", "partition"):
        assert json.loads((project.path / f"reports/{name}.json").read_text())
    assert (project.path / "plots/class_distribution.png").stat().st_size > 1000

    again = project.dvc("repro", "partition").stdout
    assert "Running stage" not in again
    assert "didn't change, skipping" in again or "up to date" in again

    # a partition param reruns partition only
    project.set_params(partition={"seed": 1})
    out = project.dvc("repro", "partition").stdout
    assert "Running stage 'partition'" in out
    assert "Running stage 'split_images'" not in out and "Running stage 'load_labels'" not in out


def test_a_missing_or_ambiguous_label_file_stops_the_first_stage(tmp_path):
    project = make_project(tmp_path / "proj", count=10, width=128)
    raw = project.path / "data/raw"
    (raw / "labels.csv").write_text("image,labels\n")  # beside labels.ndjson: which one?
    project.commit("two label files")
    out = project.dvc("repro", check=False)
    assert out.returncode != 0
    assert "2 label files in data/raw/: labels.ndjson, labels.csv; keep one, or set labels.file" in out.stderr
    assert not (project.path / "data/interim/halves").exists()  # failed before splitting anything
    (raw / "labels.csv").unlink()
    (raw / "labels.ndjson").rename(raw / "export.ndjson")
    out = project.dvc("repro", check=False)
    assert "no label file in data/raw/: expected one of labels.ndjson, labels.json, labels.csv" in out.stderr

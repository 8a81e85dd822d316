"""Two labelling rounds through the real `dvc repro`, as a user runs them: round 1 trained; the
model pre-labels and selects new panoramas from a new site folder; round 2's export labels them,
with a class new in this round and an option renamed in LabelBox; then round 2 is reproduced and
compared with round 1 on the same test set."""
import json
import shutil
import sys

import pandas as pd
import pytest

from dvc_project import make_project
from test_pipeline_data import _add_round
from test_pipeline_full import TINY

pytestmark = pytest.mark.slow


def _round2_export(raw, new, renamed=("tree", "shrub"), new_class="fountain"):
    """What LabelBox exports after round 2's labelling: every row shows the renamed option's new
    name (same schema id); two of the new panoramas' halves got the new class ticked."""
    rows = [json.loads(line) for line in (raw / "labels.ndjson").read_text().splitlines()]
    ticked = 0
    for row in rows:
        for project in row["projects"].values():
            for label in project["labels"]:
                for question in label["annotations"]["classifications"]:
                    answers = question.get("checklist_answers")
                    if answers is None:
                        continue
                    for answer in answers:
                        if answer["name"] == renamed[0]:
                            answer["name"] = renamed[1]
                    image = row["data_row"]["external_id"]
                    if any(image.startswith(f"{n}_") for n in new[:2]):
                        answers.append({"feature_id": f"f-{new_class}-{ticked}", "feature_schema_id":
                                        "clfountain000000000000000", "name": new_class, "value": new_class,
                                        "classifications": []})
                        ticked += 1
    (raw / "labels.ndjson").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return ticked


def test_two_rounds_redo_only_new_panoramas_keep_splits_and_columns_and_compare_on_one_test_set(tmp_path):
    project = make_project(tmp_path / "proj", count=16, width=192)
    project.set_params(**TINY)
    project.commit("round 1 data")
    project.dvc("repro")
    project.commit("round 1 results")
    round1 = {name: pd.read_csv(project.path / name) for name in ("data/partition.csv", "data/classes.csv")}
    classes1 = list(round1["data/classes.csv"]["column"])
    assert "tree" in classes1

    # the current model on the new photos (a new site folder): pre-labels and the next batch
    new = _add_round(project, tmp_path, count=6, seed=21, folder="site2", prefix="s2_")
    site = project.path / "data/raw/panoramas/site2"
    shutil.move(str(site), str(project.path / "data/new_site2"))
    out = project.run(sys.executable, "-m", "pano360", "predict", "data/new_site2", "--out", "pre.ndjson", "--quiet")
    assert "LabelBox pre-label annotations" in out.stdout
    keys = {json.loads(line)["dataRow"]["globalKey"] for line in (project.path / "pre.ndjson").read_text().splitlines()}
    assert keys <= {f"{n}_{side}.jpg" for n in new for side in ("left", "right")}
    out = project.run(sys.executable, "-m", "pano360", "select", "data/new_site2", "--budget", "3", "--out", "next.txt",
                      "--quiet")
    assert "3 of 6 unlabelled panoramas" in out.stdout
    shutil.move(str(project.path / "data/new_site2"), str(site))

    # round 2: the export holds their labels, a new class and a renamed option
    assert _round2_export(project.path / "data/raw", new) > 0
    project.dvc("add", "-q", "data/raw")
    out = project.dvc("repro").stdout
    assert "6 split now, 16 kept from the last run" in out
    assert "12 prepared now, 32 kept from the last run" in out
    partition2 = pd.read_csv(project.path / "data/partition.csv")
    merged = partition2.merge(round1["data/partition.csv"], on="panorama", suffixes=("", "_1"))
    assert len(merged) == 16 and (merged["split"] == merged["split_1"]).all()      # no earlier panorama moved
    classes2 = pd.read_csv(project.path / "data/classes.csv")
    assert list(classes2["column"]) == classes1 + ["fountain"]                          # renamed: same column, same place
    assert classes2.set_index("column").loc["tree", "name"] == "shrub"
    labels = pd.read_csv(project.path / "data/interim/labels.csv")
    assert list(labels.columns) == ["image", "panorama"] + classes1 + ["fountain"]
    report = json.loads((project.path / "reports/labels.json").read_text())
    assert report["renamed"]["shrub"]["column"] == "tree"

    # did round 2 help? both models on round 2's test set, paired
    out = project.run(sys.executable, "-m", "pano360", "compare", "HEAD", "workspace", "--rescore", "--quiet",
                      "--resamples", "100").stdout
    assert out.startswith("each run's model rescored") and "A = HEAD" in out
    test_halves = len(pd.read_csv(project.path / "data/processed/test.csv"))
    assert f"{test_halves} halves" in out or f"{test_halves // 2} panoramas" in out, out
    assert "fountain" in out      # the class round 1 does not know is named as left out

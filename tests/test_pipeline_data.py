"""Real `dvc repro` of the data stages on a tiny demo, in a temporary git repo."""
import json

import pandas as pd
import pytest
import yaml

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


def _add_round(project, tmp_path, count: int, seed: int, folder: str, prefix: str) -> list[str]:
    """A labelling round: ``count`` new panoramas (a site folder of their own) and their labels
    appended to the project's LabelBox export, under the same project."""
    import subprocess
    import sys
    new = tmp_path / f"new{seed}"
    subprocess.run([sys.executable, "-m", "pano360.data.demo", str(new), "--count", str(count), "--width", "256",
                    "--seed", str(seed)], check=True, capture_output=True, env=project.env)
    raw = project.path / "data/raw"
    (raw / "panoramas" / folder).mkdir(parents=True)
    names = []
    for path in sorted((new / "panoramas").iterdir()):
        path.rename(raw / "panoramas" / folder / f"{prefix}{path.name}")
        names.append(f"{prefix}{path.stem}")
    export = (raw / "labels.ndjson").read_text().splitlines()
    project_id = next(iter(json.loads(export[0])["projects"]))
    added = []
    for line in (new / "labels.ndjson").read_text().splitlines():
        row = json.loads(line.replace('"pano_', f'"{prefix}pano_').replace("/pano_", f"/{prefix}pano_"))
        row["projects"] = {project_id: next(iter(row["projects"].values()))}
        added.append(json.dumps(row))
    (raw / "labels.ndjson").write_text("\n".join(export + added) + "\n")
    return names


def _tree(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_second_round_redoes_only_new_panoramas_and_keeps_every_split(tmp_path):
    """Adding panoramas re-split and re-prepared all of them and reassigned the splits from
    scratch (18 of 39 round-1 test panoramas moved to train); site folders were ignored."""
    project = make_project(tmp_path / "proj", count=12, width=192)
    project.commit("round 1")
    out = project.dvc("repro", "partition", "prepare_halves").stdout
    assert "12 split now, 0 kept" in out and "24 prepared now, 0 kept" in out
    round1 = pd.read_csv(project.path / "data/partition.csv")
    assert len(round1) == 12 and set(round1["split"]) == {"train", "val", "test"}
    project.commit("round 1 run")

    new = _add_round(project, tmp_path, count=3, seed=11, folder="site2", prefix="s2_")
    (project.path / "data/raw/panoramas/pano_0004.jpg").unlink()   # one panorama dropped
    project.set_params(labels={"missing_image": "warn"})           # its labels remain in the export
    project.dvc("add", "-q", "data/raw")
    out = project.dvc("repro", "partition", "prepare_halves").stdout
    assert "14 panoramas → 28 halves" in out and "3 split now, 11 kept" in out and "2 stale half files removed" in out
    assert "6 prepared now, 22 kept" in out
    round2 = pd.read_csv(project.path / "data/partition.csv")
    kept = round2.merge(round1, on="panorama", suffixes=("", "_1"))
    assert len(kept) == 12 and (kept["split"] == kept["split_1"]).all()   # pano_0004 kept, for a return
    assert set(new) <= set(round2["panorama"])
    report = json.loads((project.path / "reports/partition.json").read_text())
    assert report["assignment"] == {"kept": 11, "new": 3, "assigned_not_labelled": 1}
    project.commit("round 2 run")

    # the updated folders equal a from-scratch run of the same workspace, byte for byte
    fresh = make_fresh_copy(project, tmp_path / "fresh")
    out = fresh.dvc("repro", "prepare_halves").stdout
    assert "14 split now, 0 kept" in out
    for folder in ("data/interim/halves", "data/interim/prepared"):
        assert _tree(project.path / folder) == _tree(fresh.path / folder), folder
    for name in ("data/interim/halves.csv", "data/interim/prepared.json", "reports/split.json",
                 "data/interim/halves.state.json", "data/interim/prepared.state.json"):
        assert (project.path / name).read_bytes() == (fresh.path / name).read_bytes(), name

    # an experiment run in a temporary copy (as queued ones are) that changes prepare: the same
    # folder as a run in a plain workspace
    out = project.dvc("exp", "run", "--temp", "-n", "q90", "-S", "prepare.quality=90", "prepare_halves").stdout
    assert "28 halves" in out and "Running stage 'split_images'" not in out
    shown = json.loads(project.dvc("exp", "show", "--json").stdout)
    rev = next(run["rev"] for r in shown for e in r.get("experiments") or [] for run in e.get("revs") or []
               if run.get("name") == "q90")
    fresh.set_params(prepare={"quality": 90})
    fresh.dvc("repro", "prepare_halves")

    def prepared_hash(lock_text):
        outs = yaml.safe_load(lock_text)["stages"]["prepare_halves"]["outs"]
        return next(o["md5"] for o in outs if o["path"] == "data/interim/prepared")
    assert prepared_hash(project.git("show", f"{rev}:dvc.lock").stdout) == \
        prepared_hash((fresh.path / "dvc.lock").read_text())

    # reshuffle: every split afresh, with a warning
    project.set_params(partition={"reshuffle": True})
    proc = project.dvc("repro", "partition")
    assert "cross-round" not in proc.stderr and "no longer valid" in proc.stderr


def make_fresh_copy(project, path):
    """The project's committed state in a new repo, with data/raw but no outputs or cache."""
    import shutil
    project.git("clone", "-q", str(project.path), str(path))
    from dvc_project import Project
    fresh = Project(path)
    shutil.copytree(project.path / "data/raw", path / "data/raw", dirs_exist_ok=True)
    fresh.dvc("config", "cache.type", "copy")
    return fresh

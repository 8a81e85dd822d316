"""params.yaml as one validated surface: schemas, defaults in one place, clear errors."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pano360.evaluation.report import EvaluateParams
from pano360.model.heads import HeadName, HeadsParams
from pano360.labels.records import LabelsParams
from pano360.labels.table import load_labels
from pano360.model.backbone import ModelParams
from pano360.data.panorama import SplitParams
from pano360.params import SECTIONS, ParamsError, check_unchanged, load_params
from pano360.data.partition import PartitionParams
from pano360.data.prepare import PrepareParams
from pano360.evaluation.thresholds import ThresholdsParams
from pano360.training.launch import LaunchParams
from pano360.training.loop import TrainingConfig, TrainParams

ROOT = Path(__file__).resolve().parents[1]
SCHEMAS = {"split": SplitParams, "labels": LabelsParams, "partition": PartitionParams, "prepare": PrepareParams,
           "heads": HeadsParams, "model": ModelParams, "train": TrainParams, "launch": LaunchParams, "thresholds": ThresholdsParams,
           "evaluate": EvaluateParams}
# Keys whose params.yaml value differs from the schema default on purpose: none today.
ON_PURPOSE: dict[str, str] = {}


def _flat(d, prefix=""):
    out = {}
    for k, v in d.items():
        if isinstance(v, dict) and v:
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = list(v) if isinstance(v, tuple) else v
    return out


def test_params_yaml_spells_out_exactly_the_schema_defaults():
    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    assert set(raw) <= set(SECTIONS)
    for name, schema in SCHEMAS.items():
        written = _flat(raw[name])
        defaults = _flat(schema().model_dump(mode="json"))
        assert set(written) == set(defaults), f"params.yaml {name}: keys differ from the schema"
        for key, value in defaults.items():
            if f"{name}.{key}" not in ON_PURPOSE:
                assert written[key] == value, f"params.yaml {name}.{key} = {written[key]!r}, default {value!r}"
    assert raw["head"] == TrainingConfig().head
    load_params(ROOT / "params.yaml", head=HeadName, **SCHEMAS)  # and the whole file validates


def _write(tmp_path, text):
    path = tmp_path / "params.yaml"
    path.write_text(text)
    return path


def test_unknown_key_names_section_key_and_closest_option(tmp_path):
    path = _write(tmp_path, "labels: {sources: objects}\n")
    with pytest.raises(ParamsError, match=r"labels\.sources is not an option; did you mean 'source'\?"):
        load_params(path, labels=LabelsParams)
    path = _write(tmp_path, "train: {augment: {hflipp: 0.5}}\n")
    with pytest.raises(ParamsError, match=r"train\.augment\.hflipp is not an option; did you mean 'hflip'\?"):
        load_params(path, train=TrainParams)


def test_unknown_section_is_rejected_by_every_stage(tmp_path):
    path = _write(tmp_path, "trian: {epochs: 3}\n")
    with pytest.raises(ParamsError, match=r"'trian' is not a params section; did you mean 'train'\?"):
        load_params(path, split=SplitParams)


@pytest.mark.parametrize("text, key", [
    ("train: {epochs: ten}\n", "train.epochs"),
    ("train: {lr: -1}\n", "train.lr"),
    ("train: {augment: {scale: [0.9, 0.5]}}\n", "train.augment.scale"),
    ("partition: {fractions: {train: 0.9, val: 0.2, test: 0.1}}\n", "partition.fractions"),
    ("thresholds: {strategy: best}\n", "thresholds.strategy"),
    ("split: {name_pattern: '{stem}.jpg'}\n", "split.name_pattern"),
    ("heads: {csra: {num_heads: 3}}\n", "heads.csra.num_heads"),
    ("labels: {classes: [a, a]}\n", "labels.classes"),
])
def test_wrong_values_name_the_key(tmp_path, text, key):
    name = text.split(":")[0]
    with pytest.raises(ParamsError, match=key.replace(".", r"\.")):
        load_params(_write(tmp_path, text), **{name: SCHEMAS[name]})


def test_every_labels_option_is_a_load_labels_option(tmp_path):
    """labels.radio_per_class and labels.duplicates used to be unreachable from params.yaml."""
    export = tmp_path / "labels.csv"
    export.write_text("image,labels\np0001_left.jpg,tree\np0001_right.jpg,\n")
    options = LabelsParams().model_dump(exclude={"file"})
    assert load_labels(export, **{**options, "format": "csv"}).classes == ["tree"]


def run_stage_module(name: str, cwd) -> subprocess.CompletedProcess:
    """``python -m stages.<name>`` in ``cwd`` (a project of its own), with this checkout's code."""
    return subprocess.run([sys.executable, "-m", f"stages.{name}"], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_stage_passes_duplicates_and_radio_options_through(tmp_path):
    from test_labels import label, radio, row, write_v2
    rows = [row("p0001_left.jpg", [label(radio("car?", "yes"), radio("tree?", "no"))]),
            row("p0001_right.jpg", [label(radio("car?", "no"), radio("tree?", "yes"), id="l2")]),
            row("p0001_right.jpg", [label(radio("car?", "yes"), radio("tree?", "yes"), id="l3",
                                          created="2024-03-06T11:50:00.000+00:00")])]
    write_v2(tmp_path, rows, "labels.ndjson")
    (tmp_path / "data/interim").mkdir(parents=True)
    (tmp_path / "data/interim/halves.csv").write_text("image\np0001_left.jpg\np0001_right.jpg\n")
    (tmp_path / "params.yaml").write_text(
        "labels: {file: labels.ndjson, radio_per_class: true, duplicates: latest}\n")
    out = run_stage_module("load_labels", tmp_path)
    assert out.returncode == 0, out.stderr
    table = (tmp_path / "data/interim/labels.csv").read_text().splitlines()
    assert table == ["image,panorama,car?,tree?", "p0001_left.jpg,p0001,1,0", "p0001_right.jpg,p0001,1,1"]


def test_a_typo_stops_the_stage_before_any_work(tmp_path):
    (tmp_path / "params.yaml").write_text("split: {workers: 1, on_eror: skip}\n")
    out = run_stage_module("split_images", tmp_path)
    assert out.returncode == 1
    assert "split.on_eror is not an option; did you mean 'on_error'?" in out.stderr
    assert "Traceback" not in out.stderr


def test_params_changed_while_a_stage_ran_are_detected(tmp_path):
    path = _write(tmp_path, "train: {seed: 4}\nthresholds: {folds: 3}\n")
    params = load_params(path, train=TrainParams)
    path.write_text("train: {seed: 4}\nthresholds: {folds: 4}\n")  # a section train does not read
    check_unchanged(params)
    path.write_text("train: {seed: 5}\nthresholds: {folds: 4}\n")
    with pytest.raises(ParamsError, match=r"changed while this stage ran \(train\.seed: 4 -> 5\)"):
        check_unchanged(params)


@pytest.mark.slow
def test_params_yaml_survives_dvc_exp_run_rewrite(tmp_path, env):
    """`dvc exp run -S` re-dumps params.yaml; ours is written in the style it keeps."""
    def run(*args):
        out = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True)
        assert out.returncode == 0, out.stdout + out.stderr
    original = (ROOT / "params.yaml").read_text()
    (tmp_path / "params.yaml").write_text(original)
    (tmp_path / "dvc.yaml").write_text(
        "stages:\n  s:\n    cmd: python -c \"open('o.txt','w').write('x')\"\n"
        "    params:\n    - train.seed\n    outs:\n    - o.txt\n")
    run("git", "init", "-q")
    run("dvc", "init", "-q")
    run("git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "init")
    run("git", "add", "-A")
    run("git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "files")
    run("dvc", "exp", "run", "-S", "train.seed=0")
    assert (tmp_path / "params.yaml").read_text() == original
    run("dvc", "exp", "run", "-S", "train.seed=3")
    after = (tmp_path / "params.yaml").read_text().splitlines()
    changed = [(a, b) for a, b in zip(original.splitlines(), after) if a != b]
    assert len(after) == len(original.splitlines())
    assert changed == [("  seed: 0", "  seed: 3")]

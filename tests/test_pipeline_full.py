"""The experiment workflow users run every day, end to end with the real `dvc` CLI:
repro, no-op repro, exp run -S head=…, threshold-only changes, metrics diff, queued
experiments for all heads, push/pull through a local remote."""
import json
import sys
import time

import pandas as pd
import pytest

from dvc_project import make_project

pytestmark = pytest.mark.slow

TINY = dict(
    model={"name": "test_resnet", "img_size": 64, "pretrained": False},
    heads={"mldecoder": {"num_groups": -1, "decoder_embedding": 64}},
    train={"epochs": 2, "batch_size": 8, "workers": 0, "early_stop_patience": 0, "monitor_system": False},
    thresholds={"folds": 3, "min_positives": 3},
)
DATA_STAGES = ("split_images", "prepare_halves", "load_labels", "partition")
MODEL_STAGES = ("train", "tune_thresholds", "evaluate", "export")


def ran(output: str) -> set[str]:
    stages = DATA_STAGES + MODEL_STAGES
    return {s for s in stages if f"Running stage '{s}'" in output}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The tiny project, built once by `dvc repro` and committed as the baseline."""
    project = make_project(tmp_path_factory.mktemp("e2e") / "proj", count=14, width=192)
    project.set_params(**TINY)
    project.commit("tiny demo project")
    project.first_repro = project.dvc("repro").stdout
    project.commit("baseline results")
    return project


@pytest.fixture
def project(built):
    """Each test starts from the committed baseline (params and outputs), whatever ran before."""
    built.git("checkout", "--", ".")
    built.dvc("checkout", "-f")
    return built


def test_repro_builds_everything_then_nothing(project):
    assert ran(project.first_repro) == set(DATA_STAGES + MODEL_STAGES)
    report = json.loads((project.path / "reports/evaluate.json").read_text())
    for key in ("mAP", "CP", "CR", "CF1", "OP", "OR", "OF1", "sample_f1", "hamming_loss", "subset_accuracy"):
        assert key in report["tuned"] and key in report["at_0.5"] and key in report["panorama"]["tuned"]
    thresholds = json.loads((project.path / "models/thresholds.json").read_text())
    assert set(thresholds["thresholds"]) == set(thresholds["classes"])
    tuned = json.loads((project.path / "reports/thresholds.json").read_text())
    assert {"fixed", "global_f1", "per_class_f1", "auto"} <= set(tuned["strategies"])
    preds = pd.read_csv(project.path / "data/predictions/test.csv")
    test = pd.read_csv(project.path / "data/processed/test.csv")
    assert list(preds["image"]) == list(test["image"])
    for png in ("class_distribution", "threshold_f1", "pr_curves", "per_class_ap", "confusion"):
        assert (project.path / f"plots/{png}.png").stat().st_size > 5000
    shown = project.dvc("metrics", "show").stdout.splitlines()
    assert max(len(line) for line in shown) <= 120, "\n".join(shown)
    assert ran(project.dvc("repro").stdout) == set()


def test_evaluate_names_label_columns_the_model_does_not_know(project):
    test_csv = project.path / "data/processed/test.csv"
    original = test_csv.read_text()
    frame = pd.read_csv(test_csv).assign(zebra=0)
    frame.to_csv(test_csv, index=False)
    try:
        out = project.run(sys.executable, "-m", "stages.evaluate")
    finally:
        test_csv.write_text(original)
        project.git("checkout", "--", ".")
        project.dvc("checkout", "-f")
    assert "label column(s) the model does not predict, not evaluated: zebra" in out.stderr


def test_predict_reproduces_evaluate_on_test_panoramas(project):
    test = pd.read_csv(project.path / "data/predictions/test.csv")
    listing = project.path / "test_panoramas.txt"
    listing.write_text("".join(f"data/raw/panoramas/{p}.jpg\n" for p in sorted(set(test["panorama"]))))
    project.run(sys.executable, "-m", "pano360", "predict", f"@{listing}", "--model", "models/model.pt",
                "--thresholds", "models/thresholds.json", "--out", "predict_out.csv", "--quiet")
    listing.unlink()
    got = pd.read_csv(project.path / "predict_out.csv").set_index("image").loc[test["image"]]
    (project.path / "predict_out.csv").unlink()
    (project.path / "predict_out_panoramas.csv").unlink()
    for column in [c for c in test.columns[2:] if not c.startswith("true_")]:
        assert (got[column].to_numpy() == test[column].to_numpy()).all(), column


def test_exp_run_head_reruns_model_stages_only(project):
    out = project.dvc("exp", "run", "-S", "head=fc").stdout
    # run, or taken from the run-cache when another test trained fc before
    restored = {s for s in MODEL_STAGES if f"Stage '{s}' is cached - skipping run" in out}
    assert ran(out) | restored == set(MODEL_STAGES)
    for stage in DATA_STAGES:
        assert f"Stage '{stage}' didn't change, skipping" in out
    diff = json.loads(project.dvc("metrics", "diff", "--json").stdout)
    changed = {k for entry in diff.values() for k in entry}
    assert changed & {"mAP", "CF1", "OF1", "val_mAP"}


def test_threshold_strategy_change_skips_training(project):
    out = project.dvc("exp", "run", "-S", "thresholds.strategy=global_f1").stdout
    assert ran(out) == {"tune_thresholds", "evaluate", "export"}   # the bundle carries the thresholds
    chosen = json.loads((project.path / "models/thresholds.json").read_text())["strategy"]
    assert chosen == "global_f1"


def test_queued_experiment_runs_its_own_code_and_shows(project):
    # the baseline is csra; one queued head is enough (fc runs in another test; each run costs
    # ~40 s of the suite)
    project.dvc("exp", "run", "--queue", "-S", "head=mldecoder")
    # Queued runs happen in copies of the repository and must run those copies' code, not
    # the workspace's (which may be mid-edit): break the workspace's library meanwhile.
    evaluation = project.path / "pano360/evaluation/report.py"
    original = evaluation.read_text()
    evaluation.write_text("raise RuntimeError('the workspace code ran')\n" + original)
    project.dvc("queue", "start")
    deadline = time.time() + 600
    while time.time() < deadline:
        status = project.dvc("queue", "status").stdout
        if "Queued" not in status and "Running" not in status:
            break
        time.sleep(3)
    evaluation.write_text(original)
    assert "Failed" not in status, project.dvc("queue", "logs", status.split()[0], check=False).stdout
    shown = json.loads(project.dvc("exp", "show", "--json").stdout)
    heads = set()
    for rev in shown:
        for exp in rev.get("experiments") or []:
            for run in exp.get("revs") or []:
                params = run["data"]["params"]["params.yaml"]["data"]
                if run["data"].get("metrics"):
                    heads.add(params["head"])
    assert "mldecoder" in heads


def test_img_size_invalidates_prepare_and_training_only(project):
    """model.img_size is read by prepare_halves and train, and by nothing upstream: dvc status
    names exactly those two (what follows train reruns because train's outputs change, as
    test_exp_run_head_reruns_model_stages_only shows, so it is not run again here: ~35 s)."""
    project.set_params(model={"img_size": 48})
    status = json.loads(project.dvc("status", "--json").stdout)
    assert set(status) == {"prepare_halves", "train"}, status
    project.dvc("repro", "prepare_halves")
    prepared = json.loads((project.path / "data/interim/prepared.json").read_text())
    assert prepared["size"] == 48
    project.git("checkout", "--", ".")
    project.dvc("checkout", "-f")


def test_compare_real_experiments_by_name(project):
    names = project.dvc("exp", "ls", "--name-only").stdout.split()
    if len(names) < 2:  # this test stands alone: make two experiments when no other test did
        for head in ("fc", "mldecoder"):
            project.dvc("exp", "run", "-S", f"head={head}")
        project.git("checkout", "--", ".")
        project.dvc("checkout", "-f")
        names = project.dvc("exp", "ls", "--name-only").stdout.split()
    out = project.run(sys.executable, "-m", "pano360", "compare", names[0], names[1], "--resamples", "200").stdout
    assert f"A = {names[0]}" in out and "B wins" in out and "panorama mAP" in out
    out = project.run(sys.executable, "-m", "pano360", "compare", "--exps", "workspace", "--resamples", "100").stdout
    assert all(name in out for name in names) and "indistinguishable from it" in out
    # each experiment is labelled with what it changed (every test's experiments set head)
    assert "runs differ in params.yaml:" in out and "head=" in out.split("runs differ in params.yaml:")[1]
    assert max(len(line) for line in out.splitlines()) <= 120, out  # fits a terminal


def test_push_then_fresh_clone_pulls_and_has_nothing_to_do(project, tmp_path):
    remote = tmp_path / "remote"
    project.dvc("remote", "add", "-d", "local", str(remote))
    project.commit("local remote")
    project.dvc("push")
    clone = tmp_path / "clone"
    project.git("clone", "-q", str(project.path), str(clone))
    from dvc_project import Project
    fresh = Project(clone)
    fresh.env["PYTHONPATH"] = str(clone)
    fresh.dvc("pull")
    assert (clone / "models/model.pt").is_file() and (clone / "reports/evaluate.json").is_file()
    status = fresh.dvc("status").stdout
    assert "up to date" in status
    assert ran(fresh.dvc("repro").stdout) == set()

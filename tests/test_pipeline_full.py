"""The experiment workflow users run every day, end to end with the real `dvc` CLI:
repro, no-op repro, exp run -S head=… (as grid jobs on other "machines": clones, a bare git
remote and a DVC remote), threshold-only changes, metrics diff, queued experiments, compare,
push/pull through a local remote."""
import json
import sys
import time

import pandas as pd
import pytest
import torch

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
    # the validation scores too, for choosing among experiments without test (compare --split val)
    val_preds = pd.read_csv(project.path / "data/predictions/val.csv")
    val = pd.read_csv(project.path / "data/processed/val.csv")
    assert sorted(val_preds["image"]) == sorted(val["image"])
    assert {f"p_{c}" for c in thresholds["classes"]} <= set(val_preds.columns)
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


def test_a_grid_over_machines_runs_each_experiment_in_its_own_clone(project, tmp_path):
    """A grid spread over machines, as a cluster schedules it: each job clones the baseline from
    the git remote, pulls what it needs from the DVC remote (`dvc exp run --pull`: the data
    stages' outputs, so only the model stages run), runs one experiment and pushes it back
    (`dvc exp push`); the user then pulls them and sees every run in `dvc exp show` (and
    `pano360 compare`, test_compare_real_experiments_by_name). Two jobs, one after the other,
    from separate clones.

    The first job is a two-GPU machine's: `train.nproc 2` (two gloo processes through the
    stage, as `dvc repro` starts them) with the two settings that crashed DDP at once,
    `grad_accum 2` and a backbone whose classifier keeps parameters the forward pass never
    uses (ConvNeXt with an MLP pre-logits layer); it reruns the model stages. The second
    changes evaluate's bootstrap, which reruns evaluate alone."""
    from dvc_project import Project
    origin, storage = tmp_path / "origin.git", tmp_path / "dvc-remote"
    project.run("git", "init", "-q", "--bare", "-b", "main", str(origin))
    project.git("remote", "add", "origin", str(origin))
    # the DVC remote in each repository's .dvc/config.local: the baseline commit stays the one
    # every other test starts from (a real project commits its remote in .dvc/config)
    project.dvc("remote", "add", "--local", "-d", "grid", str(storage))
    try:
        project.git("push", "-q", "origin", "main")
        project.dvc("push", "-q")
        jobs = (["head=fc", "train.nproc=2", "train.grad_accum=2", "model.name=test_convnext",
                 "+model.kwargs.head_hidden_size=32"], ["evaluate.bootstrap=50"])
        for i, changes in enumerate(jobs):
            job = Project(tmp_path / f"job{i}")   # another machine: its own clone, nothing cached
            project.git("clone", "-q", str(origin), str(job.path))
            job.env["PYTHONPATH"] = str(job.path)
            job.dvc("remote", "add", "--local", "-d", "grid", str(storage))
            run = job.dvc("exp", "run", "--pull", "--name", f"grid-{i}", *[a for c in changes for a in ("-S", c)])
            out = run.stdout
            for stage in DATA_STAGES:   # not run: their outputs came from the DVC remote
                assert f"Pulling data for stage: '{stage}'" in out and stage not in ran(out), out
            if i == 0:   # the model stages rerun, two processes trained, the metrics differ
                assert ran(out) == set(MODEL_STAGES), out
                logs = out + run.stderr
                assert logs.count("train: epoch 2/2") == 1 and "leaving out backbone.head.pre_logits.fc" in logs
                ckpt = torch.load(job.path / "models/model.pt", weights_only=False)
                assert ckpt["model"]["name"] == "test_convnext" and ckpt["epochs_run"] == 2
                diff = json.loads(job.dvc("metrics", "diff", "--json").stdout)
                assert {k for entry in diff.values() for k in entry} & {"mAP", "CF1", "OF1", "val_mAP"}
            else:
                assert ran(out) == {"evaluate"}, out
            job.dvc("exp", "push", "--run-cache", "origin", f"grid-{i}")
        project.dvc("exp", "pull", "origin")
        shown = json.loads(project.dvc("exp", "show", "--json").stdout)
        runs = {run["name"]: run["data"] for rev in shown for exp in rev.get("experiments") or []
                for run in exp.get("revs") or []}
        assert {"grid-0", "grid-1"} <= set(runs), sorted(runs)
        assert runs["grid-0"]["params"]["params.yaml"]["data"]["head"] == "fc"
        assert runs["grid-1"]["params"]["params.yaml"]["data"]["evaluate"]["bootstrap"] == 50
        assert runs["grid-1"]["metrics"]
    finally:
        project.dvc("remote", "remove", "--local", "grid", check=False)
        project.git("remote", "remove", "origin", check=False)


def test_a_queued_grid_runs_its_own_code_and_is_chosen_on_val(project):
    """A two-point grid through the queue, chosen with `pano360 compare --split val`. Its
    points change the threshold strategy, which reruns tune_thresholds, evaluate and export
    but not training (a training run would cost ~60 s of the suite; the grid test trains
    one): the queue's mechanics are the same for any change, and val.csv's decisions differ."""
    project.dvc("exp", "run", "--queue", "-S", "thresholds.strategy=fixed,global_f1")
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
        time.sleep(1)
    evaluation.write_text(original)
    # "Task  Name  Created  Status" rows, then a "Worker status" line
    tasks = [line.split()[0] for line in status.splitlines()[1:] if line.split()[-1:] in (["Success"], ["Failed"])]
    logs = [project.dvc("queue", "logs", task, check=False).stdout for task in tasks]
    assert "Failed" not in status and len(tasks) == 2, (status, logs)
    assert all(ran(log) == {"tune_thresholds", "evaluate", "export"} for log in logs), logs
    shown = json.loads(project.dvc("exp", "show", "--json").stdout)
    grid = {}
    for rev in shown:
        for exp in rev.get("experiments") or []:
            for run in exp.get("revs") or []:
                strategy = run["data"]["params"]["params.yaml"]["data"]["thresholds"]["strategy"]
                if run["data"].get("metrics") and strategy in ("fixed", "global_f1"):
                    grid[strategy] = run["name"]
    assert set(grid) == {"fixed", "global_f1"}, shown
    out = project.run(sys.executable, "-m", "pano360", "compare", grid["fixed"], grid["global_f1"], "--split", "val",
                      "--resamples", "100").stdout
    val = pd.read_csv(project.path / "data/processed/val.csv")
    assert out.startswith(f"val set: {len(val)} halves of {val['panorama'].nunique()} panoramas"), out
    assert "thresholds.strategy=fixed" in out and "thresholds.strategy=global_f1" in out
    # one model: the same val mAP (a tie), thresholds that differ
    rows = {line.split()[0]: line for line in out.splitlines() if line.split()}
    assert rows["mAP"].endswith("+0.0000  [+0.0000, +0.0000]     tie"), out


def test_img_size_invalidates_prepare_and_training_only(project):
    """model.img_size is read by prepare_halves and train, and by nothing upstream: dvc status
    names exactly those two (what follows train reruns because train's outputs change, as
    the grid test shows, so it is not run again here: ~35 s). Likewise a threshold strategy
    names tune_thresholds alone (evaluate and export follow its output, the thresholds file)."""
    project.set_params(thresholds={"strategy": "global_f1"})
    assert set(json.loads(project.dvc("status", "--json").stdout)) == {"tune_thresholds"}
    project.git("checkout", "--", "params.yaml")
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
    # --rescore: each experiment's model (read through DVC from its revision) scores the
    # workspace's test split; the same split as their own evaluate, so the same figures
    recorded = project.run(sys.executable, "-m", "pano360", "compare", names[0], names[1], "--resamples", "50",
                           "--json", str(project.path.parent / "recorded.json")).stdout
    rescored = project.run(sys.executable, "-m", "pano360", "compare", names[0], names[1], "--resamples", "50",
                           "--rescore", "--quiet", "--json", str(project.path.parent / "rescored.json")).stdout
    assert rescored.startswith("each run's model rescored") and recorded.splitlines()[0] in rescored
    a, b = (json.loads((project.path.parent / f).read_text())["metrics"] for f in ("recorded.json", "rescored.json"))
    for metric in a:
        for name in names[:2]:
            assert b[metric][name]["value"] == pytest.approx(a[metric][name]["value"], abs=1e-6), (metric, name)
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
    # the pulled folders carry their state: a forced split in the clone redoes nothing
    out = fresh.dvc("repro", "--force", "--single-item", "split_images").stdout
    assert "(0 split now, 14 kept from the last run" in out


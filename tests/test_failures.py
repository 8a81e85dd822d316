"""Failure handling of the real train stage: errors end it promptly with one message, Ctrl-C
stops it in seconds, SIGKILL of `dvc repro` leaves no trainer behind, a resume state never
crosses a change of code, and params edited during a run are noticed."""
import os
import signal
import subprocess
import sys
import time

import psutil
import pytest
import yaml

from dvc_project import VENV_BIN, make_project

pytestmark = pytest.mark.slow

TINY = dict(
    model={"name": "test_resnet", "img_size": 64, "pretrained": False},
    train={"epochs": 60, "batch_size": 4, "workers": 0, "early_stop_patience": 0, "monitor_system": True},
)


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    project = make_project(tmp_path_factory.mktemp("fail") / "proj", count=20, width=192)
    project.set_params(**TINY)
    project.commit("tiny demo project")
    project.dvc("repro", "partition", "prepare_halves")
    project.commit("data stages")
    project.params_text = (project.path / "params.yaml").read_text()
    return project


@pytest.fixture
def fresh(project):
    """The project with its committed params, no model and no resume state."""
    yield project
    (project.path / "params.yaml").write_text(project.params_text)
    subprocess.run(["rm", "-rf", "models/.resume", "models/model.pt", "models/last.pt", "dvclive"],
                   cwd=project.path)


def start_stage(project) -> subprocess.Popen:
    """`python -m stages.train` as DVC runs it, in a process group of its own."""
    return subprocess.Popen([sys.executable, "-u", "-m", "stages.train"], cwd=project.path, env=project.env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def wait_for_line(stream, text: str, timeout: float = 120) -> list[str]:
    seen, deadline = [], time.time() + timeout
    while time.time() < deadline:
        line = stream.readline()
        if not line:
            break
        seen.append(line)
        if text in line:
            return seen
    raise AssertionError(f"never printed {text!r}: {''.join(seen)[-2000:]}")


def set_train(project, **values):
    params = yaml.safe_load((project.path / "params.yaml").read_text())
    params["train"].update(values)
    (project.path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def trainers(project) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline", "cwd"]):
        try:
            if "stages.train" in " ".join(proc.info["cmdline"] or []) and proc.info["cwd"] == str(project.path):
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return found


def run_stage(project, timeout=120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "stages.train"], cwd=project.path, env=project.env,
                          capture_output=True, text=True, timeout=timeout)


def test_diverging_training_ends_promptly_with_one_message(fresh):
    """With the system monitor on, the NaN stop used to leave the process hanging for ever."""
    set_train(fresh, lr=1e6, epochs=3)
    t0 = time.time()
    out = run_stage(fresh, timeout=90)
    assert out.returncode == 1
    assert time.time() - t0 < 60
    errors = [line for line in out.stderr.splitlines() if line.startswith("train:")]
    assert len(errors) == 1 and ("NaN" in errors[0] or "nan" in errors[0])
    assert "train.clip_grad 1" in errors[0] and "set train.clip_grad" not in errors[0]
    assert "Traceback" not in out.stderr
    assert not (fresh.path / "models/model.pt").exists()


def test_an_unreadable_image_ends_training_naming_the_file(fresh):
    halves = sorted((fresh.path / "data/interim/prepared").iterdir())
    victim = halves[3]
    original = victim.read_bytes()
    victim.write_bytes(b"\xff\xd8 truncated")
    try:
        set_train(fresh, epochs=3)
        out = run_stage(fresh, timeout=90)
    finally:
        victim.write_bytes(original)
    assert out.returncode == 1
    assert f"cannot read half image {victim.relative_to(fresh.path)}" in out.stderr
    assert "Traceback" not in out.stderr


def interrupted_run(project, phase: str):
    """The stage with a SIGINT to its process group (what a terminal's Ctrl-C sends) the moment
    training reaches ``phase`` (pano360.training.phases.interrupt_at); returns (process, seconds from the
    signal to the exit, stderr)."""
    env = dict(project.env, PANO360_INTERRUPT_AT=phase)
    proc = subprocess.run([sys.executable, "-u", "-m", "stages.train"], cwd=project.path, env=env,
                          capture_output=True, text=True, timeout=120, start_new_session=True)
    ended = time.time()
    sent = [line for line in proc.stderr.splitlines() if line.startswith("interrupt-at ")]
    assert sent, f"never reached {phase}: {proc.stderr[-2000:]}"
    return proc, ended - float(sent[0].split()[2]), proc.stderr


def check_resume_state(project) -> None:
    """None, or one that loads and says which epoch it follows."""
    import torch
    states = list((project.path / "models/.resume").glob("*.pt"))
    assert len(states) <= 1
    for state in states:
        assert torch.load(state, weights_only=False)["epoch"] >= 0


# Every phase of an epoch, and the start and end of the run: "batch@3" is inside the third batch
# (after its forward pass), "validate" just after the validation pass, "resume_write" just
# before the resume state is written, "end" in the clean-up after the last epoch.
@pytest.mark.parametrize("phase", ["start", "live", "batch@3", "validate", "resume_write", "epoch_end@2",
                                   "save", "end"])
def test_ctrl_c_in_every_phase_stops_within_seconds_with_one_line(fresh, phase):
    set_train(fresh, epochs=3)
    proc, seconds, err = interrupted_run(fresh, phase)
    assert proc.returncode == 130, err[-3000:]
    assert seconds < 5, f"{seconds:.1f} s from the signal to the exit"
    assert [line for line in err.splitlines() if line.startswith("train:")] == [
        "train: interrupted; run `dvc repro` to continue from the last finished epoch"], err[-3000:]
    assert "Traceback" not in err
    check_resume_state(fresh)
    assert not list((fresh.path / "models").glob(".*.tmp")), "a temporary was left beside the checkpoints"


def test_ctrl_c_while_the_stage_imports_its_libraries(fresh):
    proc = start_stage(fresh)
    maps = f"/proc/{proc.pid}/maps"
    deadline = time.time() + 60
    while "libtorch" not in open(maps).read():  # importing torch: past Python's own start-up
        assert time.time() < deadline and proc.poll() is None
    t0 = time.time()
    os.killpg(proc.pid, signal.SIGINT)
    proc.wait(timeout=30)
    assert time.time() - t0 < 5
    err = proc.stderr.read()
    assert proc.returncode == 130, err[-3000:]
    assert err.strip() == "train: interrupted before it started; nothing was written", err[-3000:]


def test_ctrl_c_after_an_epoch_leaves_a_state_the_next_run_resumes(fresh):
    set_train(fresh, epochs=3)
    proc, seconds, err = interrupted_run(fresh, "batch@10")  # in epoch 2 (7 batches an epoch)
    assert proc.returncode == 130 and seconds < 5, err[-3000:]
    out = run_stage(fresh)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "train: resuming run" in out.stdout and "after epoch 1" in out.stdout, out.stdout


@pytest.mark.parametrize("nproc", [1, 2])
def test_sigkill_of_dvc_repro_leaves_no_trainer_running(fresh, nproc):
    """torchrun puts its workers in sessions of their own; killing dvc's group missed them."""
    set_train(fresh, nproc=nproc)
    proc = subprocess.Popen([str(VENV_BIN / "dvc"), "repro", "train"], cwd=fresh.path, env=fresh.env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    wait_for_line(proc.stdout, "train: epoch 1/60", timeout=180)
    assert trainers(fresh)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.time() + 10  # the parent-death signal is immediate; allow a busy machine
    while (alive := trainers(fresh)) and time.time() < deadline:
        time.sleep(0.1)
    for leftover in alive:
        leftover.kill()
    assert not alive, [p.info["cmdline"] for p in alive]


def test_resume_state_is_dropped_when_the_code_changes(fresh):
    proc = start_stage(fresh)
    wait_for_line(proc.stdout, "train: epoch 2/60")
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    states = list((fresh.path / "models/.resume").glob("*.pt"))
    assert len(states) == 1
    assert fresh.git("check-ignore", "-q", str(states[0].relative_to(fresh.path)), check=False).returncode == 0
    assert "models/.resume" in (fresh.path / ".dvcignore").read_text()
    losses = fresh.path / "pano360/model/losses.py"
    original = losses.read_text()
    losses.write_text(original + "\n# an edit\n")
    try:
        proc = start_stage(fresh)
        lines = wait_for_line(proc.stdout, "train: epoch 1/60")
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        losses.write_text(original)
    assert not any("resuming" in line for line in lines)
    assert not states[0].exists(), "the stale resume state was kept"


def test_params_changed_during_training_fail_the_stage(fresh):
    set_train(fresh, epochs=6, seed=4)
    proc = start_stage(fresh)
    wait_for_line(proc.stdout, "train: epoch 1/6")
    set_train(fresh, seed=5)  # what a refused `dvc exp run -S train.seed=5` leaves behind
    proc.wait(timeout=120)
    err = proc.stderr.read()
    assert proc.returncode == 1
    assert "params.yaml changed while this stage ran (train.seed: 4 -> 5)" in err
    assert not (fresh.path / "models/model.pt").exists()

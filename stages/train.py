"""DVC stage train: finetune backbone + head; writes models/model.pt (best), models/last.pt.

With train.nproc > 1 this process starts ``torchrun`` for N DDP workers and waits for them.
torchrun puts each worker in a session of its own, so killing the stage's process group
would not reach them: every process here dies with its parent (Linux parent-death signal),
so no trainer outlives the command DVC started.
"""
import os
import signal
import subprocess
import sys
from pathlib import Path


def _interrupted_while_starting(signum, frame):
    # Ctrl-C during the imports below (seconds of torch, timm, dvclive): one line, not a
    # traceback from inside a library, and nothing was written yet.
    if int(os.environ.get("RANK", "0")) == 0:
        print("train: interrupted before training started; nothing was written", file=sys.stderr, flush=True)
    os._exit(130)


signal.signal(signal.SIGINT, _interrupted_while_starting)

import yaml

# This checkout's pano360, not whatever `import pano360` finds first: a queued experiment
# runs in a copy of the repository, and must run the code DVC hashed as its dependencies.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pano360.data import DataError
from pano360.heads import HeadName, HeadsParams
from pano360.model import ModelParams
from pano360.params import ParamsError, check_unchanged, load_params
from pano360.prepare import PrepareError
from pano360.train import Paths, TrainingConfig, TrainingError, TrainParams, interrupt_at, train

def die_with_parent(parent_alive) -> None:
    """Ask Linux to SIGKILL this process when its parent exits (no-op elsewhere).
    ``parent_alive()`` then confirms the parent did not exit before the signal was armed."""
    try:
        import ctypes
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if not parent_alive():
        os._exit(1)


def _parent_is_torchrun() -> bool:
    try:
        cmdline = Path(f"/proc/{os.getppid()}/cmdline").read_bytes()
    except OSError:
        return True  # no /proc: cannot tell, assume alive
    return b"torch.distributed.run" in cmdline or b"torchrun" in cmdline


def stage_deps(stage: str, dvc_yaml: str = "dvc.yaml") -> list[str]:
    """The stage's dvc.yaml deps: what the resume fingerprint must cover."""
    spec = yaml.safe_load(Path(dvc_yaml).read_text(encoding="utf-8"))
    return [str(d) for d in spec["stages"][stage]["deps"]]


def launch(nproc: int) -> int:
    """Run this script under torchrun with ``nproc`` workers; forward Ctrl-C and wait."""
    me = os.getpid()
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
           os.path.abspath(__file__)]
    proc = subprocess.Popen(cmd, preexec_fn=lambda: die_with_parent(lambda: os.getppid() == me))
    interrupted = False
    while True:
        try:
            code = proc.wait()
            return 130 if interrupted else code
        except KeyboardInterrupt:  # torchrun got the same SIGINT and stops its workers
            interrupted = True


def main() -> int:
    worker = "LOCAL_RANK" in os.environ
    if worker:
        die_with_parent(_parent_is_torchrun)
    rank = int(os.environ.get("RANK", "0"))
    signal.signal(signal.SIGINT, signal.default_int_handler)  # from here on Ctrl-C is KeyboardInterrupt
    try:
        params = load_params(head=HeadName, heads=HeadsParams, model=ModelParams, train=TrainParams)
        if params.train.nproc > 1 and not worker:
            return launch(params.train.nproc)
        cfg = TrainingConfig(head=params.head, heads=params.heads, model=params.model, train=params.train)
        weights = params.model.pretrained_file
        if weights and rank == 0 and not Path(weights).resolve().is_relative_to(Path("weights").resolve()):
            print(f"train: warning: model.pretrained_file {weights} is outside weights/, which dvc.yaml "
                  f"tracks: replacing that file will not retrain", file=sys.stderr)
        paths = Paths(train_csv="data/processed/train.csv", val_csv="data/processed/val.csv",
                      image_dir="data/interim/prepared", prepared="data/interim/prepared.json",
                      label_schema="data/interim/label_schema.json",
                      deps=stage_deps("train"),
                      metrics="metrics/train.json")
        result = train(cfg, paths, before_save=lambda: check_unchanged(params),
                       on_phase=interrupt_at(os.environ.get("PANO360_INTERRUPT_AT")))
    except (ParamsError, PrepareError, TrainingError, DataError) as exc:
        print(f"train: {_one_line(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        if rank == 0:
            print("train: interrupted; run `dvc repro` to continue from the last finished epoch",
                  file=sys.stderr, flush=True)
        # Exit now: the interpreter's teardown (a garbage collection over torch's and DVC's
        # objects, seconds on a busy machine) and any thread still running have nothing left
        # to save: checkpoints and resume states are written whole or not at all.
        sys.stdout.flush()
        os._exit(130)
    if result:
        print(f"train: best val mAP {result['best_val_mAP']:.4f} after {result['epochs_run']} epochs "
              f"→ models/model.pt")
    return 0


def _one_line(exc: BaseException) -> str:
    """The message, without the worker traceback DataLoader adds to errors from its workers."""
    text = str(exc).strip()
    if "Original Traceback" in text:
        text = text.splitlines()[-1].split(": ", 1)[-1]
    return text


if __name__ == "__main__":
    sys.exit(main())

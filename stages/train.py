"""DVC stage train: finetune backbone + head; writes models/model.pt (best), models/last.pt.

With train.nproc > 1 (or launch.nnodes > 1) this process starts ``torchrun`` for this machine's
DDP workers running this module and waits for them; under an outer launcher (RANK and
WORLD_SIZE set) it is one of the workers (pano360.training.launch: none outlives the stage).
"""
import dataclasses
import os
import sys
from pathlib import Path

import yaml

from pano360.model.backbone import ModelParams
from pano360.model.heads import HeadName, HeadsParams
from pano360.params import check_unchanged, load_params
from pano360.stage import run_stage
from pano360.training.config import Paths, TrainingConfig, TrainParams
from pano360.training.launch import LaunchParams, guard_worker, launch, plan
from pano360.training.loop import train
from pano360.training.phases import interrupt_at

PATHS = Paths(train_csv="data/processed/train.csv", val_csv="data/processed/val.csv",
              image_dir="data/interim/prepared", prepared="data/interim/prepared.json",
              label_schema="data/interim/label_schema.json", best="models/model.pt", last="models/last.pt",
              resume_dir="models/.resume", live_dir="dvclive", metrics="metrics/train.json")
PARAMS = {"head": HeadName, "heads": HeadsParams, "model": ModelParams, "train": TrainParams}
# where it runs, not what it computes: read, validated, but not a DVC dependency of the stage
WHERE = {"launch": LaunchParams}
RANK = int(os.environ.get("RANK", "0"))


def stage_deps(stage: str, dvc_yaml: str = "dvc.yaml") -> list[str]:
    """The stage's dvc.yaml deps: what the resume fingerprint must cover."""
    spec = yaml.safe_load(Path(dvc_yaml).read_text(encoding="utf-8"))
    return [str(d) for d in spec["stages"][stage]["deps"]]


def compute(params):
    how = plan(params.train.nproc, load_params(**WHERE).launch, ["-m", "stages.train"], backend=params.train.backend)
    if how.mode == "launch":
        return launch(how.command)
    if how.note and RANK == 0:
        print(f"train: {how.note}", flush=True)
    weights = params.model.pretrained_file
    if weights and RANK == 0 and not Path(weights).resolve().is_relative_to(Path("weights").resolve()):
        print(f"train: warning: model.pretrained_file {weights} is outside weights/, which dvc.yaml "
              f"tracks: replacing that file will not retrain", file=sys.stderr)
    cfg = TrainingConfig(head=params.head, heads=params.heads, model=params.model, train=params.train)
    paths = dataclasses.replace(PATHS, deps=stage_deps("train"))
    return train(cfg, paths, before_save=lambda: check_unchanged(params),
                 on_phase=interrupt_at(os.environ.get("PANO360_INTERRUPT_AT")))


def write(params, result):
    if isinstance(result, int):  # the launcher's status: the workers wrote and printed everything
        return result
    if result:  # rank 0 (the checkpoints were written by train, after checking params.yaml)
        return f"train: best val mAP {result['best_val_mAP']:.4f} after {result['epochs_run']} epochs → {PATHS.best}"
    return None


if __name__ == "__main__":
    guard_worker()
    sys.exit(run_stage("train", PARAMS, compute, write,
                       interrupted="interrupted; run `dvc repro` to continue from the last finished epoch"))

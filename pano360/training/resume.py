"""Resuming an interrupted run: what it had reached, saved after every epoch, and the run's
identity (params, code and data), so a state is never used by another run."""
from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from pano360.io import save_torch
from pano360.training.config import Paths, TrainingConfig


@dataclass
class ResumeState:
    """How far a run got: the epoch loop's counters and history, the best weights so far, and
    the random generators. Model, optimiser, scaler and EMA live in their own objects; their
    state dicts are saved beside these."""
    epoch: int = -1                  # the last finished epoch (0-based); -1: none yet
    step: int = 0                    # optimizer steps taken
    best: float = -1.0               # best val mAP so far
    bad_epochs: int = 0              # epochs since it improved
    plateau_epochs: int = 0          # epochs since it improved or the learning rate last decayed
    lr_decays: int = 0               # plateau schedule: decays so far (lr = peak × plateau_decay^lr_decays)
    history: list = field(default_factory=list)   # one record per finished epoch
    best_state: Optional[dict] = None             # weights of the best epoch (CPU tensors)

    def save(self, path: Path, model, optimizer, scaler, ema) -> None:
        save_torch(path, {
            "model": model.state_dict(), "optimizer": optimizer.state_dict(),
            "scaler": scaler.state_dict(), "ema": ema.state_dict() if ema is not None else None,
            "epoch": self.epoch, "step": self.step, "best": self.best, "bad_epochs": self.bad_epochs,
            "plateau_epochs": self.plateau_epochs, "lr_decays": self.lr_decays,
            "history": self.history, "best_state": self.best_state,
            "torch_rng": torch.get_rng_state(), "python_rng": random.getstate(),
            "numpy_rng": np.random.get_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None})

    @staticmethod
    def read(path: Path) -> dict:
        """The saved state, on the CPU whatever the training device: the random generators'
        states must be CPU tensors, and load_state_dict moves the rest to the parameters'
        device. Raises whatever an unreadable file raises."""
        state = torch.load(path, map_location="cpu", weights_only=False)
        missing = {"model", "optimizer", "scaler", "epoch", "step", "history", "torch_rng"} - set(state)
        if missing:
            raise KeyError(f"it lacks {sorted(missing)}")
        return state

    @classmethod
    def load(cls, state: dict, model, optimizer, scaler, ema) -> "ResumeState":
        """Restore model, optimiser, scaler, EMA and the random generators from a state that
        :meth:`read` returned."""
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scaler.load_state_dict(state["scaler"])
        if ema is not None and state.get("ema") is not None:
            ema.load_state_dict(state["ema"])
        torch.set_rng_state(state["torch_rng"])
        random.setstate(state["python_rng"])
        np.random.set_state(state["numpy_rng"])
        if state.get("cuda_rng") is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda_rng"])
        return cls(epoch=state["epoch"], step=state["step"], best=state["best"], bad_epochs=state["bad_epochs"],
                   plateau_epochs=state.get("plateau_epochs", 0), lr_decays=state.get("lr_decays", 0),
                   history=state["history"], best_state=state["best_state"])


def resume_path(cfg: TrainingConfig, paths: Paths, main: bool) -> Path:
    """Where this run's resume state lives; states of other runs (other params, code or data)
    can never be resumed and are deleted (by rank 0)."""
    run_id = fingerprint(cfg, paths.deps or default_deps(paths))
    folder = Path(paths.resume_dir)
    path = folder / f"{run_id}.pt"
    if main and folder.is_dir():
        for stale in folder.glob("*.pt"):
            if stale != path:
                stale.unlink(missing_ok=True)
    return path


def _hash_path(h, path: Path) -> None:
    """Small files by content; large files and folders by name, size and modification time
    (hashing gigabytes of images at every start would cost minutes)."""
    if path.is_file():
        st = path.stat()
        h.update(f"{path.name}\0{st.st_size}\0".encode())
        if st.st_size <= 1 << 20:
            h.update(path.read_bytes())
        else:
            h.update(str(st.st_mtime_ns).encode())
    elif path.is_dir():
        for p in sorted(path.rglob("*")):
            if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc":
                h.update(str(p.relative_to(path)).encode() + b"\0")
                _hash_path(h, p)
    else:
        h.update(f"{path}: missing".encode())


def fingerprint(cfg: TrainingConfig, deps: list[str]) -> str:
    """Identity of a run: its params, code and data. A resume state from another run is stale."""
    h = hashlib.sha256(cfg.model_dump_json().encode())
    for dep in deps:
        h.update(f"\0{dep}\0".encode())
        _hash_path(h, Path(dep))
    return h.hexdigest()[:16]


def default_deps(paths: Paths) -> list[str]:
    return [paths.train_csv, paths.val_csv, paths.image_dir, str(Path(__file__).parents[1])]

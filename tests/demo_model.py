"""A small model trained on a tiny demo by the library itself, as `dvc repro` would train it."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from pano360.data.dataset import read_split
from pano360.use.inference import split_probabilities
from pano360.evaluation.thresholds import fit_thresholds, write_thresholds_file
from pano360.sample import build_splits
from pano360.training.loop import Paths, train


def trained_demo(root: Path, count: int = 14, width: int = 256, preset: str = "demo", **labels_options) -> Path:
    """Writes root/raw (panoramas + export), halves, splits, prepared halves, model.pt and
    thresholds.json; returns root."""
    build_splits(root, count=count, width=width, seed=3, preset=preset, **labels_options)
    cfg = {"model": {"name": "test_resnet", "img_size": 64},
           "train": {"epochs": 3, "batch_size": 8, "monitor_system": False, "early_stop_patience": 0}}
    train(cfg, Paths(str(root / "train.csv"), str(root / "val.csv"), str(root / "prepared"),
                     prepared=str(root / "prepared.json"), label_schema=str(root / "label_schema.json"),
                     best=str(root / "model.pt"), last=str(root / "last.pt"), resume_dir=str(root / "resume"),
                     live_dir=str(root / "live")), show_progress=False)
    val, _ = read_split(root / "val.csv")
    probs, targets, classes = split_probabilities(root / "model.pt", val, root / "prepared",
                                                  root / "prepared.json", show_progress=False)
    fit = fit_thresholds(probs, targets, "global_f1")
    write_thresholds_file(root / "thresholds.json", fit, classes)
    assert np.isfinite(fit.thresholds).all()
    return root

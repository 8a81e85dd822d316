"""Run a trained checkpoint over half images (used by tune_thresholds, evaluate and predict)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader

from .data import HalfImages, build_transform
from .model import load_checkpoint
from .train import autocast_dtype, predict


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def decode_size(data_cfg: dict) -> int:
    """The reduced JPEG decode size training used, so inference sees the same pixels."""
    return int(data_cfg["input_size"][-1] * 1.25)


def split_probabilities(model_path, frame: pd.DataFrame, image_dir, batch_size: int = 32,
                        workers: int = 0, show_progress: bool = True, desc: str = "predict"):
    """``(probs, targets, classes)`` for the halves of a split table, in table order."""
    device = default_device()
    model, ckpt = load_checkpoint(model_path, map_location=device)
    model.to(device)
    classes = ckpt["classes"]
    missing = [c for c in classes if c not in frame.columns]
    if missing:
        raise ValueError(f"the split table lacks the model's class column(s) {missing}; "
                         "was the model trained on other labels?")
    data_cfg = ckpt["data_config"]
    dataset = HalfImages(frame, image_dir, classes, build_transform(data_cfg, False), decode_size(data_cfg))
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=workers)
    probs, targets, _ = predict(model, loader, device, autocast_dtype("auto", device), desc=desc,
                                show=show_progress)
    return probs.astype(np.float64), targets.astype(np.int64), classes

"""Run a model over half images and turn its scores into tables.

Used by training (validation), tune_thresholds, evaluate and ``pano360 predict``; kept apart
from the training loop so inference never loads it.
"""
from __future__ import annotations

import contextlib

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader

from pano360.data.dataset import HalfImages, build_transform
from pano360.model.backbone import CheckpointError, load_checkpoint
from pano360.data.prepare import read_prepared, stored_names
from pano360.progress import progress


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def autocast_dtype(precision: str, device: torch.device):
    """``auto``: bf16 where the GPU supports it, else fp16 on GPU; fp32 on CPU."""
    if precision == "fp32" or (precision == "auto" and device.type != "cuda"):
        return None
    if precision == "auto":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return {"bf16": torch.bfloat16, "fp16": torch.float16}[precision]


PRECISION_NAMES = {None: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}


def checkpoint_autocast(ckpt: dict, device: torch.device):
    """The autocast dtype training validated this model in (recorded in the checkpoint as
    ``precision``), so inference scores are the ones val mAP was measured on; checkpoints
    from before it was recorded: ``auto``."""
    return autocast_dtype(ckpt.get("precision", "auto"), device)


def autocast(device: torch.device, dtype):
    return torch.autocast(device.type, dtype=dtype) if dtype else contextlib.nullcontext()


@torch.no_grad()
def predict(model, loader, device, amp_dtype=None, desc="predict", show=True, channels_last=False):
    """(probabilities, targets, mean BCE loss) over a loader, in loader order. Scores stay on
    the device until the end: no host synchronisation per batch. ``channels_last``: the
    inputs' memory format for a model converted to it (faster convolutions on GPUs)."""
    model.eval()
    logits_all, targets = [], []
    for images, y in progress(loader, desc=desc, unit="batch", disable=not show, leave=False):
        images = images.to(device, non_blocking=True)
        if channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        with autocast(device, amp_dtype):
            logits_all.append(model(images).float())
        targets.append(y)
    num_classes = len(getattr(loader.dataset, "classes", ())) or 0
    logits = torch.cat(logits_all).cpu() if logits_all else torch.zeros(0, num_classes)
    t = torch.cat(targets) if targets else torch.zeros(0, num_classes)
    loss_sum = 0.0
    if t.numel():
        loss_sum = torch.nn.functional.binary_cross_entropy_with_logits(logits, t.float(), reduction="sum").item()
    return torch.sigmoid(logits).numpy(), t.numpy(), loss_sum / max(1, t.numel())


def use_channels_last(model, device) -> bool:
    """On a GPU, convert ``model`` to channels_last (what training ran in there); returns whether
    inputs must follow."""
    if device.type != "cuda":
        return False
    model.to(memory_format=torch.channels_last)
    return True


def split_probabilities(model_path, frame: pd.DataFrame, image_dir, prepared=None, batch_size: int = 32,
                        workers: int = 0, show_progress: bool = True, desc: str = "predict"):
    """``(probs, targets, classes)`` for the halves of a split table, in table order.

    ``image_dir`` holds the prepared halves described by the ``prepared`` settings file; they
    must be prepared the way the model's training halves were."""
    device = default_device()
    model, ckpt = load_checkpoint(model_path, map_location=device)
    model.to(device)
    classes = ckpt["classes"]
    missing = [c for c in classes if c not in frame.columns]
    if missing:
        raise ValueError(f"the split table lacks the model's class column(s) {missing}; "
                         "was the model trained on other labels?")
    spec = read_prepared(prepared)
    if spec != ckpt.get("prepare"):
        raise CheckpointError(f"{image_dir} holds halves prepared as {spec}, but {model_path} was trained "
                              f"on halves prepared as {ckpt.get('prepare')}; run `dvc repro`")
    names = stored_names(frame["image"], spec)
    dataset = HalfImages(frame, image_dir, classes, build_transform(ckpt["data_config"], False), names)
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=workers)
    probs, targets, _ = predict(model, loader, device, checkpoint_autocast(ckpt, device), desc=desc,
                                show=show_progress, channels_last=use_channels_last(model, device))
    return probs.astype(np.float64), targets.astype(np.int64), classes


def score_table(ids: pd.DataFrame, probs: np.ndarray, thresholds: np.ndarray, classes: list[str],
                targets: np.ndarray | None = None) -> pd.DataFrame:
    """The one table of scores that evaluate and predict write: the identifying columns of
    ``ids``, ``p_<class>`` probabilities (6 decimals), 0/1 decisions ``<class>``
    (``probability >= threshold``), ``predicted`` (the decided classes, ``;``-joined) and, when
    ``targets`` are given, the true labels ``true_<class>``."""
    out = ids.reset_index(drop=True).copy()
    decisions = probs >= np.asarray(thresholds)
    for i, c in enumerate(classes):
        out[f"p_{c}"] = np.round(probs[:, i], 6)
    for i, c in enumerate(classes):
        out[c] = decisions[:, i].astype(int)
    out["predicted"] = [";".join(c for c, d in zip(classes, row) if d) for row in decisions]
    if targets is not None:
        for i, c in enumerate(classes):
            out[f"true_{c}"] = np.asarray(targets)[:, i].astype(int)
    return out

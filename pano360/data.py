"""Datasets over half images, with timm's transforms and reduced-size JPEG decoding.

Lives in an importable module (not a stage script) so DataLoader workers started with
``spawn`` can unpickle it.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from PIL import Image
from timm.data import create_transform
from torch.utils.data import Dataset

from .partition import class_columns

Image.MAX_IMAGE_PIXELS = 1_000_000_000
# timm/torchvision interpolation names → the PIL filter their transforms use on PIL images
PIL_FILTERS = {"bilinear": Image.Resampling.BILINEAR, "bicubic": Image.Resampling.BICUBIC,
               "nearest": Image.Resampling.NEAREST, "lanczos": Image.Resampling.LANCZOS}


def open_rgb(path: str | os.PathLike, min_size: int | None = None) -> Image.Image:
    """Open an image as RGB. For JPEGs, ``min_size`` lets libjpeg decode at 1/2, 1/4 or 1/8
    scale (DCT scaling, "draft mode") while staying at least ``min_size`` px on the short
    side — a 4096² half needed at 256 px decodes ~10× faster."""
    with Image.open(path) as img:
        if min_size and img.format == "JPEG":
            w, h = img.size
            scale = min_size / min(w, h)
            img.draft("RGB", (max(1, int(w * scale)), max(1, int(h * scale))))
        return img.convert("RGB")


def build_transform(data_config: dict, train: bool, augment: dict | None = None):
    """timm's transform for the backbone's data config (size, mean/std, interpolation).

    Training adds random-resized-crop (``scale``/``ratio``), horizontal flip and colour
    jitter from ``augment``; evaluation resizes the whole half (no centre crop: objects near
    the border are labelled too)."""
    size = data_config["input_size"][-2:]
    common = dict(input_size=size, interpolation=data_config.get("interpolation", "bilinear"),
                  mean=data_config["mean"], std=data_config["std"])
    if not train:
        return create_transform(**common, is_training=False, crop_pct=1.0, crop_mode="squash")
    augment = augment or {}
    return create_transform(
        **common, is_training=True,
        scale=tuple(augment.get("scale", (0.8, 1.0))), ratio=tuple(augment.get("ratio", (0.9, 1.1))),
        hflip=float(augment.get("hflip", 0.5)), vflip=0.0,
        color_jitter=float(augment.get("color_jitter", 0.2)),
        auto_augment=augment.get("auto_augment") or None,
        re_prob=float(augment.get("random_erasing", 0.0)))


class HalfImages(Dataset):
    """Half images of one split with their 0/1 targets (float tensor, classes in order)."""

    def __init__(self, frame: pd.DataFrame, image_dir: str | os.PathLike, classes: list[str],
                 transform, decode_size: int | None = None, cache_size: int | None = None,
                 interpolation: str = "bicubic"):
        """``cache_size``: keep each decoded half in memory, resized to this square size, so
        later epochs skip decoding. Only when the transform's first step resizes the whole
        image to that size anyway (no random crop): the pixels are then identical."""
        missing = [c for c in classes if c not in frame.columns]
        if missing:
            raise ValueError(f"split table lacks class column(s) {missing}")
        self.paths = [Path(image_dir) / name for name in frame["image"]]
        self.targets = torch.from_numpy(frame[classes].to_numpy(dtype=np.float32, copy=True))
        self.transform = transform
        self.decode_size = decode_size
        self.cache_size = cache_size
        self.cache: dict[int, Image.Image] = {}
        self.resample = PIL_FILTERS[interpolation]  # the filter the transform would resize with

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int):
        image = self.cache.get(i)
        if image is None:
            image = open_rgb(self.paths[i], self.decode_size)
            if self.cache_size:
                image = image.resize((self.cache_size, self.cache_size), self.resample)
                self.cache[i] = image
        return self.transform(image), self.targets[i]


def read_split(path: str | os.PathLike) -> tuple[pd.DataFrame, list[str]]:
    frame = pd.read_csv(path, dtype={"image": str, "panorama": str})
    return frame, class_columns(frame)


def cache_size_for(data_config: dict, augment: dict | None, n_images: int, setting="auto",
                   limit_gb: float = 2.0) -> int | None:
    """Image size to cache decoded halves at, or None. ``auto`` caches when the whole split
    fits in ``limit_gb`` and training does not random-crop (see HalfImages)."""
    augment = augment or {}
    whole = [float(v) for v in augment.get("scale", (1, 1))] == [1.0, 1.0] and \
        [float(v) for v in augment.get("ratio", (1, 1))] == [1.0, 1.0]
    if setting is False or not whole or data_config.get("interpolation", "bilinear") not in PIL_FILTERS:
        return None
    size = int(data_config["input_size"][-1])
    if setting == "auto" and n_images * size * size * 3 > limit_gb * 2**30:
        return None
    return size

"""Datasets over (prepared) half images, with timm's transforms.

Lives in an importable module (not a stage script) so DataLoader workers started with
``spawn`` can unpickle it.
"""
from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Annotated, Optional

import numpy as np
import pandas as pd
import torch
from PIL import Image
from pydantic import Field, NonNegativeFloat, field_validator
from timm.data import create_transform
from torch.utils.data import Dataset

from pano360.params import Section
from pano360.data.naming import class_columns
from pano360.data.pixels import open_rgb
from pano360.errors import Pano360Error

Image.MAX_IMAGE_PIXELS = 1_000_000_000

Probability = Annotated[float, Field(ge=0, le=1)]


class DataError(Pano360Error, RuntimeError):
    """An image the pipeline needs cannot be read; the message names it and what to do."""


class AugmentParams(Section):
    """params.yaml ``train.augment``: training-time augmentation (timm's transform factory)."""
    # random-resized-crop: area share and aspect range; [1, 1] keeps the whole half (a crop
    # can cut a labelled object out of the half while its label stays)
    scale: tuple[Annotated[float, Field(gt=0, le=1)], Annotated[float, Field(gt=0, le=1)]] = (1.0, 1.0)
    ratio: tuple[Annotated[float, Field(gt=0)], Annotated[float, Field(gt=0)]] = (1.0, 1.0)
    # horizontal flip: off unless your classes look the same mirrored (arrows, text do not)
    hflip: Probability = 0.0
    color_jitter: NonNegativeFloat = 0.2
    auto_augment: Optional[str] = None       # timm spec, e.g. rand-m9-mstd0.5
    random_erasing: Probability = 0.0

    @field_validator("scale", "ratio")
    @classmethod
    def _ordered(cls, value):
        if value[0] > value[1]:
            raise ValueError(f"must be [low, high] with low <= high, got {list(value)}")
        return value


def build_transform(data_config: dict, train: bool, augment: AugmentParams | dict | None = None):
    """timm's transform for the backbone's data config (size, mean/std, interpolation).

    Training adds random-resized-crop (``scale``/``ratio``), horizontal flip and colour
    jitter from ``augment``; evaluation resizes the whole half (no centre crop: objects near
    the border are labelled too)."""
    size = data_config["input_size"][-2:]
    common = dict(input_size=size, interpolation=data_config.get("interpolation", "bilinear"),
                  mean=data_config["mean"], std=data_config["std"])
    if not train:
        return create_transform(**common, is_training=False, crop_pct=1.0, crop_mode="squash")
    if not isinstance(augment, AugmentParams):
        augment = AugmentParams.model_validate(augment or {})
    return create_transform(
        **common, is_training=True, scale=augment.scale, ratio=augment.ratio,
        hflip=augment.hflip, vflip=0.0, color_jitter=augment.color_jitter,
        auto_augment=augment.auto_augment, re_prob=augment.random_erasing)


class HalfImages(Dataset):
    """Prepared half images of one split with their 0/1 targets (float tensor, classes in order).

    Index with ``i`` for a plain transform, or with ``(epoch, i)`` (see ``EpochSampler`` in
    train.py): the random augmentation is then seeded by ``(seed, epoch, i)`` alone, so it
    does not depend on the worker, the process rank or what was drawn before.

    ``cache``: keep each decoded image in memory; the transform (random crop included) runs
    on the cached image, so caching never changes what training sees."""

    def __init__(self, frame: pd.DataFrame, image_dir: str | os.PathLike, classes: list[str], transform,
                 file_names: list[str] | None = None, cache: bool = False, seed: int = 0):
        missing = [c for c in classes if c not in frame.columns]
        if missing:
            raise ValueError(f"split table lacks class column(s) {missing}")
        names = list(frame["image"]) if file_names is None else list(file_names)
        self.paths = [Path(image_dir) / name for name in names]
        self.targets = torch.from_numpy(frame[classes].to_numpy(dtype=np.float32, copy=True))
        self.transform = transform
        self.cache: dict[int, Image.Image] | None = {} if cache else None
        self.seed = seed

    def __len__(self) -> int:
        return len(self.paths)

    def image(self, i: int) -> Image.Image:
        image = self.cache.get(i) if self.cache is not None else None
        if image is None:
            try:
                image = open_rgb(self.paths[i])
            except Exception as exc:
                raise DataError(f"cannot read half image {self.paths[i]}: {type(exc).__name__}: {exc}; "
                                f"restore it with `dvc checkout` or re-create it with "
                                f"`dvc repro --force prepare_halves`") from None
            if self.cache is not None:
                self.cache[i] = image
        return image

    def __getitem__(self, key):
        if isinstance(key, tuple):
            epoch, i = key
            seed = int(np.random.SeedSequence([self.seed, epoch, i]).generate_state(1)[0])
            python_state = random.getstate()
            with torch.random.fork_rng(devices=[]):  # timm draws from `random` and torch
                random.seed(seed)
                torch.manual_seed(seed)
                x = self.transform(self.image(i))
            random.setstate(python_state)
            return x, self.targets[i]
        return self.transform(self.image(key)), self.targets[key]


def read_split(path: str | os.PathLike) -> tuple[pd.DataFrame, list[str]]:
    frame = pd.read_csv(path, dtype={"image": str, "panorama": str})
    return frame, class_columns(frame)


def cache_fits(n_images: int, size: int, setting="auto", limit_gb: float = 2.0) -> bool:
    """Whether to keep decoded images in RAM: ``auto`` when ``n_images`` of ``size``² RGB fit
    in ``limit_gb`` (per process)."""
    if setting == "auto":
        return n_images * size * size * 3 <= limit_gb * 2**30
    return bool(setting)

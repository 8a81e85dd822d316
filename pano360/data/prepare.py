"""Training-resolution halves: each half decoded once, reduced to the size training needs, and
stored small, so no epoch decodes a 4096² JPEG again; a rerun prepares only new or changed halves.

The prepared size follows ``model.img_size`` and the random-resized-crop range
(``train.augment.scale``): a crop keeping a share ``s`` of the area is ``sqrt(s)`` of the side,
so the prepared side is ``img_size / sqrt(min scale)`` (at most twice ``img_size``), and
exactly ``img_size`` when training never crops — then the prepared pixels are the network's
input. Training, tune_thresholds and evaluate read the prepared halves; ``pano360 predict``
runs :func:`prepare_bytes` on each half in memory, so it sees the very same pixels.

Reduction: JPEG halves are decoded at the smallest DCT scale (1/2, 1/4, 1/8) that keeps
at least the prepared size (libjpeg's "draft" mode, ~10× faster on 4096² halves), then
resized with Pillow's antialiased bicubic filter; every other format is decoded fully.
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Annotated, Literal, Union

from pydantic import Field, NonNegativeInt

import PIL
from PIL import features

from pano360.io import process_map, staging_dir
from pano360.params import Section
from pano360.data import pixels
from pano360.data.incremental import commit, file_md5, read_state, recipe_hash, reusable, state_path
from pano360.data.pixels import prepare_bytes
from pano360.progress import progress
from pano360.errors import Pano360Error

SUFFIX = {"jpeg": ".jpg", "png": ".png"}
MAX_FACTOR = 2.0  # prepared side at most this times img_size, whatever the crop range


class PrepareError(Pano360Error, RuntimeError):
    pass


class PrepareParams(Section):
    """params.yaml ``prepare``: how the training-resolution halves are stored."""
    size: Union[Literal["auto"], Annotated[int, Field(ge=16)]] = "auto"
    format: Literal["jpeg", "png"] = "jpeg"   # png: lossless, ~5× the disk
    quality: Annotated[int, Field(ge=50, le=100)] = 95   # jpeg quality (chroma kept at full resolution)
    reduced_decode: bool = True               # decode JPEG halves at reduced DCT scale
    workers: NonNegativeInt = 0               # processes; 0 = all cores


def prepared_size(size, img_size: int, min_scale: float) -> int:
    """The prepared side: ``size`` itself, or (auto) what the crop range needs."""
    if size != "auto":
        return int(size)
    if min_scale >= 1.0:
        return int(img_size)
    return int(math.ceil(img_size * min(MAX_FACTOR, 1.0 / math.sqrt(min_scale))))


SPEC_KEYS = ("size", "format", "quality", "reduced_decode", "filter", "subsampling")


def settings(params: PrepareParams, img_size: int, min_scale: float) -> dict:
    """Everything that decides the prepared pixels; stored with the halves and in the model."""
    return {"size": prepared_size(params.size, img_size, min_scale), "format": params.format,
            "quality": params.quality, "reduced_decode": params.reduced_decode,
            "filter": "bicubic", "subsampling": "4:4:4"}


def prepared_name(image: str, fmt: str) -> str:
    """File name of a half's prepared image (the half's stem, the format's extension)."""
    return Path(image).stem + SUFFIX[fmt]


def stored_names(images, spec: dict | None) -> list[str]:
    """The files that hold ``images`` (half names) on disk: the prepared ones when ``spec``
    describes a prepared folder, the halves themselves when it is None."""
    return list(images) if spec is None else [prepared_name(i, spec["format"]) for i in images]


def _prepare_one(args) -> tuple[str, str | None]:
    src, dst, spec = args
    try:
        Path(dst).parent.mkdir(parents=True, exist_ok=True)
        Path(dst).write_bytes(prepare_bytes(src, spec))
        return str(src), None
    except Exception as exc:  # reported together at the end
        return str(src), f"{type(exc).__name__}: {exc}"


# the code that decides a prepared half's bytes: a change to it redoes every half
CODE = [Path(__file__), Path(pixels.__file__)]


def half_tokens(halves_dir) -> dict[str, str]:
    """Per half, its content hash, as split_images recorded it (none for halves made otherwise)."""
    path = state_path(halves_dir)
    state = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    return {half["image"]: "md5:" + half["md5"]
            for entry in state.get("entries", {}).values() for half in entry.get("halves", []) if "md5" in half}


def prepare_folder(images: list[str], halves_dir, out_dir, spec: dict, workers: int = 0,
                   show_progress: bool = True) -> dict:
    """Write the prepared image of every half in ``images`` into ``out_dir``, redoing only halves
    that are new or whose panorama changed (:mod:`pano360.data.incremental`); prepared files of
    halves no longer listed are removed, and other settings or code redo all."""
    names: dict[str, str] = {}
    for image in images:
        name = prepared_name(image, spec["format"])
        if name in names:
            raise PrepareError(f"halves {names[name]} and {image} would both be prepared as {name}; "
                               f"rename one of the panoramas")
        names[name] = image
    recipe = recipe_hash({**spec, "pillow": PIL.__version__, "libjpeg": features.version("jpg")}, CODE)
    known = half_tokens(halves_dir)
    # a half split_images did not record (a folder made otherwise): its own content hash
    tokens = {image: known.get(image) or "md5:" + file_md5(Path(halves_dir) / image) for image in images}
    kept = {image: entry for image, entry in reusable(Path(out_dir), read_state(out_dir, recipe), tokens).items()
            if entry["files"] == [prepared_name(image, spec["format"])]}
    todo = [(name, image) for name, image in names.items() if image not in kept]
    workers = workers or os.cpu_count() or 1
    failed = []
    with staging_dir(out_dir) as tmp:
        jobs = [(Path(halves_dir) / image, tmp / name, spec) for name, image in todo]
        bar = progress(total=len(jobs), desc="prepare halves", unit="half", disable=not show_progress)
        with process_map(_prepare_one, jobs, workers, chunksize=8) as results:
            for src, error in results:
                if error:
                    failed.append(f"{src}: {error}")
                bar.update()
        bar.close()
        if failed:
            raise PrepareError(f"{len(failed)} half image(s) could not be prepared:\n  " + "\n  ".join(failed[:20])
                               + "\nRe-create them with `dvc repro --force split_images`.")
        made = {image: {"token": tokens[image], "files": [name]} for name, image in todo}
        removed = commit(out_dir, tmp, recipe, kept, made)
    return {"halves": len(names), **spec, "run": {"prepared": len(made), "kept": len(kept), "removed_files": removed}}


def read_prepared(path) -> dict | None:
    """The prepare stage's settings (None when no file is given: halves used as they are)."""
    if path is None:
        return None
    try:
        spec = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PrepareError(f"{path} does not exist; run `dvc repro prepare_halves`") from None
    return {k: spec[k] for k in SPEC_KEYS}


def bytes_on_disk(folder) -> int:
    return sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file())


__all__ = ["PrepareError", "PrepareParams", "prepare_bytes", "prepare_folder", "prepared_name",
           "prepared_size", "settings", "stored_names"]

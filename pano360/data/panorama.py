"""Split equirectangular panoramas into a left and a right half without quality loss.

JPEG halves are re-encoded with the source's own quantization tables and chroma
subsampling, which costs almost nothing (mean absolute pixel difference ~0.01 on an 8K
panorama) and keeps the file size; PNG/TIFF/WebP halves are written losslessly in their
own format. Odd widths: the left half gets the extra column (left = ceil(W/2) pixels).
EXIF orientation is applied before splitting, so halves are always stored upright with
orientation 1; ICC profiles are copied to both halves.
"""
from __future__ import annotations

import io
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from typing import Literal

from PIL import Image, ImageOps, JpegImagePlugin
from pydantic import NonNegativeInt, field_validator

from pano360.io import atomic_dir, atomic_path
from pano360.data.naming import DEFAULT_PATTERN, half_name
from pano360.params import Section
from pano360.data.pixels import check_convertible
from pano360.progress import progress
from pano360.errors import Pano360Error

# 360° cameras write up to ~16K×8K (134 MP); Pillow's default bomb guard stops at 89 MP.
Image.MAX_IMAGE_PIXELS = 1_000_000_000

IMAGE_SUFFIXES = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".tif": "TIFF",
                  ".tiff": "TIFF", ".webp": "WEBP"}
ORIENTATION_TAG = 0x0112


class SplitError(Pano360Error, RuntimeError):
    pass


class SplitParams(Section):
    """params.yaml ``split``."""
    # Half names; must match the names the halves were uploaded to LabelBox with.
    name_pattern: str = DEFAULT_PATTERN
    workers: NonNegativeInt = 0          # processes; 0 = all cores
    on_error: Literal["fail", "skip"] = "fail"

    @field_validator("name_pattern")
    @classmethod
    def _pattern(cls, pattern):
        half_name("p", "left", ".jpg", pattern)  # NamingError (a ValueError) names the problem
        return pattern


def list_panoramas(folder: str | os.PathLike, recursive: bool = False) -> list[Path]:
    """Image files in ``folder`` (sorted, so results never depend on directory order)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise SplitError(f"panorama folder {folder} does not exist")
    walk = folder.rglob("*") if recursive else folder.iterdir()
    return sorted(p for p in walk if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
                  and not p.name.startswith("."))


def half_boxes(width: int, height: int) -> tuple[tuple, tuple]:
    """PIL crop boxes of the left and right half; the left one takes the odd column."""
    mid = (width + 1) // 2
    return (0, 0, mid, height), (mid, 0, width, height)


def open_upright(path: str | os.PathLike) -> tuple[Image.Image, dict]:
    """Decode fully (so truncation is caught here) and apply EXIF orientation.

    Returns the image and the encoder settings that keep its quality when re-saved.
    """
    # Not a `with` block: the image must stay usable after this returns (no copy of an 8K
    # image just to detach it); Pillow releases the file once load() has read it.
    src = Image.open(path)
    try:
        src.load()
        check_convertible(src)  # refuse here, naming the file, what training could not read
    except Exception:
        src.close()
        raise
    fmt = src.format
    save = {"format": fmt}
    if src.info.get("icc_profile"):
        save["icc_profile"] = src.info["icc_profile"]
    if fmt == "JPEG":
        save["qtables"] = src.quantization
        sampling = JpegImagePlugin.get_sampling(src)
        if sampling >= 0:
            save["subsampling"] = sampling
    elif fmt == "WEBP":
        save["lossless"] = True
        save["quality"] = 100
    elif fmt == "TIFF":
        compression = src.info.get("compression", "raw")
        # Lossy TIFF compressions (JPEG-in-TIFF) cannot be re-used losslessly.
        save["compression"] = "tiff_lzw" if compression in ("jpeg", "tiff_jpeg") else compression
    exif = src.getexif()
    # exif_transpose copies the whole image even when nothing turns: only call it if needed
    image = ImageOps.exif_transpose(src) if exif.get(ORIENTATION_TAG, 1) != 1 else src
    exif = image.getexif()
    if ORIENTATION_TAG in exif:
        exif[ORIENTATION_TAG] = 1
    if len(exif) and fmt != "TIFF":  # a TIFF's "EXIF" is its own IFD (size, strips): not copied
        save["exif"] = exif.tobytes()
    return image, save


def split_image(image: Image.Image) -> tuple[Image.Image, Image.Image]:
    left, right = half_boxes(*image.size)
    return image.crop(left), image.crop(right)


def encode_halves(path: str | os.PathLike) -> tuple[list[tuple[str, bytes, tuple[int, int]]], bool]:
    """Split one panorama in memory: ``([(side, encoded bytes, (w, h)), ...], is_2to1)``.

    The one place halves are encoded, so ``split_images`` (which writes these bytes) and
    ``pano360 predict`` (which decodes them straight away) see identical pixels.
    """
    image, save = open_upright(path)
    width, height = image.size
    if width < 2:
        raise SplitError(f"image is {width} px wide; nothing to split")
    out = []
    for side, half in zip(("left", "right"), split_image(image)):
        buf = io.BytesIO()
        half.save(buf, **save)
        out.append((side, buf.getvalue(), half.size))
    return out, width == 2 * height


@dataclass
class SplitOutcome:
    source: str
    halves: list[dict] = field(default_factory=list)
    error: str | None = None
    not_2to1: bool = False


def split_file(path: str | os.PathLike, out_dir: str | os.PathLike,
               pattern: str = DEFAULT_PATTERN) -> SplitOutcome:
    """Split one panorama into ``out_dir``; errors are returned, never raised."""
    path, out_dir = Path(path), Path(out_dir)
    outcome = SplitOutcome(source=path.name)
    try:
        halves, is_2to1 = encode_halves(path)
        outcome.not_2to1 = not is_2to1
        for side, data, (w, h) in halves:
            name = half_name(path.stem, side, path.suffix, pattern)
            with atomic_path(out_dir / name) as tmp:
                tmp.write_bytes(data)
            outcome.halves.append({"image": name, "panorama": path.stem, "side": side,
                                   "width": w, "height": h, "source": path.name})
    except Exception as exc:  # reported per file; the run goes on with the others
        outcome.halves = []
        outcome.error = f"{type(exc).__name__}: {exc}"
    return outcome


def _split_star(args):
    return split_file(*args)


def split_folder(src_dir, out_dir, pattern: str = DEFAULT_PATTERN, workers: int = 0,
                 on_error: str = "fail", show_progress: bool = True) -> dict:
    """Split every panorama in ``src_dir`` into a fresh ``out_dir``.

    Everything readable is processed first; then, with ``on_error='fail'``, a SplitError
    lists every bad file and why (``out_dir`` is left untouched), while ``on_error='skip'``
    keeps the good halves and lists the bad files in the returned report.
    """
    if on_error not in ("fail", "skip"):
        raise SplitError(f"split.on_error must be 'fail' or 'skip', not {on_error!r}")
    sources = list_panoramas(src_dir)
    if not sources:
        raise SplitError(f"no panoramas ({', '.join(sorted(IMAGE_SUFFIXES))}) in {src_dir}")
    names: dict[str, str] = {}
    for src in sources:
        for side in ("left", "right"):
            name = half_name(src.stem, side, src.suffix, pattern)
            if name in names:
                raise SplitError(f"{src.name} and {names[name]} would both write {name}; "
                                 "rename one of them")
            names[name] = src.name
    workers = workers or os.cpu_count() or 1
    outcomes: list[SplitOutcome] = []
    with atomic_dir(out_dir) as tmp_dir:
        jobs = [(src, tmp_dir, pattern) for src in sources]
        bar = progress(total=len(jobs), desc="split panoramas", unit="pano", disable=not show_progress)
        if workers == 1:
            for job in jobs:
                outcomes.append(_split_star(job))
                bar.update()
        else:
            with ProcessPoolExecutor(max_workers=min(workers, len(jobs))) as pool:
                for outcome in pool.map(_split_star, jobs, chunksize=1):
                    outcomes.append(outcome)
                    bar.update()
        bar.close()
        failed = [o for o in outcomes if o.error]
        if failed and on_error == "fail":
            lines = "\n".join(f"  {o.source}: {o.error}" for o in failed)
            raise SplitError(
                f"{len(failed)} of {len(sources)} panoramas in {src_dir} could not be split:\n"
                f"{lines}\nFix or remove them, or set split.on_error: skip in params.yaml to "
                "leave them out (they are then listed in metrics/split.json).")
    halves = [h for o in outcomes for h in o.halves]
    return {
        "panoramas": len(sources),
        "panoramas_split": len(sources) - len(failed),
        "halves": len(halves),
        "skipped": [{"file": o.source, "error": o.error} for o in failed],
        "not_2to1": [o.source for o in outcomes if o.not_2to1 and not o.error],
        "workers": workers,
        "name_pattern": pattern,
        "manifest": halves,
    }

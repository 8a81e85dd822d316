"""Every step from a panorama file to the network's input, with numpy and Pillow alone.

One module, imported by ``split_images``, ``prepare_halves``, training, ``pano360 predict`` and
the deployment bundle's runner (which copies this file next to the ONNX model and runs without
PyTorch, timm or pano360), so all of them see identical pixels. It must therefore import
nothing but the standard library, numpy and Pillow (tests/test_bundle.py checks it).

- :func:`to_rgb`: one faithful conversion of any image Pillow opens to 8-bit RGB. Pillow's own
  ``convert("RGB")`` clips 16-bit values (a 16-bit panorama becomes nearly all white) and
  ignores transparency, hence the special cases; ``split_images`` refuses, with the file named,
  the few modes it cannot convert faithfully (:func:`check_convertible`).
- :func:`encode_halves`: a panorama split into a left and a right half without quality loss.
  JPEG halves are re-encoded with the source's own quantization tables and chroma subsampling
  (mean absolute pixel difference ~0.01 on an 8K panorama, same file size); PNG/TIFF/WebP
  halves are written losslessly in their own format. Odd widths: the left half gets the extra
  column. EXIF orientation is applied first, so halves are stored upright; ICC profiles are
  copied to both halves.
- :func:`prepare_bytes`: a half reduced to the prepared size (see ``prepare.py``): JPEG halves
  decoded at the smallest DCT scale that keeps the size, then Pillow's antialiased bicubic
  resize, stored as the prepare stage stores it.
- :func:`network_input`: the evaluation transform (timm's, with the whole half squashed to the
  input size, no crop), as a float32 CHW array.
"""
from __future__ import annotations

import io
import os

import numpy as np
from PIL import Image, ImageOps, JpegImagePlugin

# 360° cameras write up to ~16K×8K (134 MP); Pillow's default bomb guard stops at 89 MP.
Image.MAX_IMAGE_PIXELS = 1_000_000_000

IMAGE_SUFFIXES = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".tif": "TIFF",
                  ".tiff": "TIFF", ".webp": "WEBP"}
SIDES = ("left", "right")
ORIENTATION_TAG = 0x0112


SIXTEEN_BIT = ("I;16", "I;16L", "I;16B", "I;16N")
ALPHA = ("RGBA", "RGBa", "LA", "La", "PA")


class UnsupportedImage(ValueError):
    """A panorama whose pixels cannot be read faithfully; the message says what to do."""


def check_convertible(image: Image.Image) -> None:
    """UnsupportedImage (saying what to do) for an image :func:`to_rgb` cannot convert."""
    mode = image.mode
    if mode == "F":
        raise UnsupportedImage("32-bit floating-point image (mode F): its value range is unknown; "
                               "export it as 8- or 16-bit (tone-map HDR panoramas first)")
    if mode == "I":
        low, high = image.getextrema()
        if low < 0 or high > 65535:
            raise UnsupportedImage(f"32-bit integer image with values {low}..{high}, outside 16 bits; "
                                   f"export it as 8- or 16-bit")
    try:
        to_rgb(image.crop((0, 0, min(4, image.width), min(4, image.height))))
    except (ValueError, OSError) as exc:
        raise UnsupportedImage(f"image mode {mode} cannot be converted to RGB ({exc}); "
                               f"export it as 8-bit RGB, grey or 16-bit PNG/TIFF") from None


def to_rgb(image: Image.Image) -> Image.Image:
    """8-bit RGB: 16-bit grey scaled (not clipped), transparency composited onto black,
    CMYK/palette/1-bit/YCbCr converted by Pillow."""
    mode = image.mode
    if mode == "RGB":
        return image
    if mode in SIXTEEN_BIT or mode == "I":
        values = np.asarray(image, dtype=np.int64)
        if values.min() < 0 or values.max() > 65535:
            raise UnsupportedImage(f"integer image with values outside 0..65535 (mode {mode})")
        grey = ((values * 255 + 32767) // 65535).astype(np.uint8)  # rounded, 65535 -> 255
        return Image.fromarray(grey, "L").convert("RGB")
    if mode == "F":
        raise UnsupportedImage("32-bit floating-point image (mode F)")
    if mode in ALPHA or (mode in ("P", "L") and "transparency" in image.info):
        rgba = image.convert("RGBA")
        black = Image.new("RGBA", image.size, (0, 0, 0, 255))
        return Image.alpha_composite(black, rgba).convert("RGB")
    return image.convert("RGB")


def open_rgb(path) -> Image.Image:
    """Open an image (path or file object) as 8-bit RGB (:func:`to_rgb`)."""
    with Image.open(path) as img:
        img.load()
        return to_rgb(img)


# ------------------------------------------------------------------ panorama → halves

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

    The one place halves are encoded, so ``split_images`` (which writes these bytes),
    ``pano360 predict`` and the bundle's runner (which decode them straight away) see
    identical pixels.
    """
    image, save = open_upright(path)
    width, height = image.size
    if width < 2:
        raise UnsupportedImage(f"image is {width} px wide; nothing to split")
    out = []
    for side, half in zip(SIDES, split_image(image)):
        buf = io.BytesIO()
        half.save(buf, **save)
        out.append((side, buf.getvalue(), half.size))
    return out, width == 2 * height


# ------------------------------------------------------------------ half → prepared half

def prepare_image(source, spec: dict) -> Image.Image:
    """Open a half (path or file object) and return it reduced to the prepared size (RGB);
    ``spec``: the prepare stage's settings (size, format, quality, reduced_decode)."""
    size = spec["size"]
    with Image.open(source) as img:
        if spec["reduced_decode"] and img.format == "JPEG":
            img.draft("RGB", (size, size))  # smallest DCT scale still >= size on both sides
        img.load()
        rgb = to_rgb(img)
        if rgb.size != (size, size):
            rgb = rgb.resize((size, size), Image.Resampling.BICUBIC)
        return rgb


def encode_prepared(image: Image.Image, spec: dict) -> bytes:
    buf = io.BytesIO()
    if spec["format"] == "jpeg":
        image.save(buf, "JPEG", quality=spec["quality"], subsampling=0)
    else:
        image.save(buf, "PNG", compress_level=1)
    return buf.getvalue()


def prepare_bytes(source, spec: dict) -> bytes:
    """The prepared file's bytes for one half: what the stage writes and predict decodes."""
    return encode_prepared(prepare_image(source, spec), spec)


def prepared_half(data: bytes, spec: dict | None) -> Image.Image:
    """An encoded half as training reads it: prepared as the stage stores it (``spec``), or
    as it is when the model was trained on unprepared halves (``spec`` None)."""
    if spec is not None:
        data = prepare_bytes(io.BytesIO(data), spec)
    return open_rgb(io.BytesIO(data))


# ------------------------------------------------------------------ prepared half → network input

RESAMPLING = {"nearest": Image.Resampling.NEAREST, "bilinear": Image.Resampling.BILINEAR,
              "bicubic": Image.Resampling.BICUBIC, "lanczos": Image.Resampling.LANCZOS,
              "box": Image.Resampling.BOX, "hamming": Image.Resampling.HAMMING}


def network_input(image: Image.Image, size: int, interpolation: str, mean, std) -> np.ndarray:
    """The evaluation transform as float32 (3, size, size): the whole half resized to
    ``size``² with Pillow's ``interpolation`` filter, scaled to [0, 1], then ``(x - mean) / std``
    per channel — the same float32 operations, in the same order, as timm's transform."""
    if interpolation not in RESAMPLING:
        raise ValueError(f"unknown interpolation {interpolation!r}; one of {sorted(RESAMPLING)}")
    if image.size != (size, size):
        image = image.resize((size, size), RESAMPLING[interpolation])
    x = np.asarray(image, dtype=np.uint8).astype(np.float32) / np.float32(255)
    x = (x - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)
    return np.ascontiguousarray(x.transpose(2, 0, 1))

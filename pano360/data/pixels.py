"""One faithful conversion of any image Pillow opens to 8-bit RGB.

Training, evaluation and ``pano360 predict`` all read pixels through :func:`to_rgb`, and
``split_images`` refuses, with the file named, the few modes it cannot convert faithfully.
Pillow's own ``convert("RGB")`` clips 16-bit values (a 16-bit panorama becomes nearly all
white) and ignores transparency, hence the special cases below.
"""
from __future__ import annotations

import numpy as np
from PIL import Image
from pano360.errors import Pano360Error

SIXTEEN_BIT = ("I;16", "I;16L", "I;16B", "I;16N")
ALPHA = ("RGBA", "RGBa", "LA", "La", "PA")


class UnsupportedImage(Pano360Error, ValueError):
    pass


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

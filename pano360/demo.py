"""Synthetic demo data: drawn panoramas plus a LabelBox export that labels their halves.

``python -m pano360.demo OUT_DIR`` writes

* ``OUT_DIR/panoramas/pano_NNNN.jpg``: 2:1 panoramas, a sky/ground scene with procedurally
  drawn objects of eight classes (``CLASSES``) and some clutter that belongs to no class;
* ``OUT_DIR/labels.ndjson``: a LabelBox Export v2 project export with one data row per half
  image (``pano_0000_left.jpg`` ...), whose "objects present" checklist ticks each class that
  is visible in that half.

Labels are read off the pixels: every object is also drawn, as its own id, onto an id map, and
a class is ticked for a half only where enough of one of its objects shows there. The same
arguments always give byte-identical files.
"""
from __future__ import annotations

import argparse
import hashlib
import math
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from .io import atomic_dir, write_text
from .naming import DEFAULT_PATTERN, SIDES, half_name

CLASSES = ("tree", "car", "building", "person", "sign", "water", "pole", "bench")

# Share of halves meant to show each class, skewed like real data; bench is the rare class.
# Realised shares vary by chance (and an object that finds no free spot is dropped).
TARGET_FREQUENCY = {"tree": 0.42, "car": 0.38, "person": 0.28, "building": 0.22,
                    "pole": 0.18, "sign": 0.14, "water": 0.10, "bench": 0.05}
EMPTY_SHARE = 0.10      # halves kept free of objects outright; chance adds ~10 % more
STRADDLE_SHARE = 0.6    # chance that a class present in both halves is one object on the seam
# A pole's mass is its mast at one end of its box, so across the seam one side would get only
# a sliver of lamp arm: poles never straddle.
NO_STRADDLE = {"pole"}
SECOND_SHARE = 0.25     # chance of a second object of the same class in the same half
QUESTION = "objects present"

# A class counts as present in a half where at least this share of its object's drawn area,
# or this share of the half's area, is visible there. Placement keeps every object well clear
# of these limits (wholly on one side, or about half across the seam, little overlap).
MIN_OBJECT_SHARE = 0.3
MIN_HALF_SHARE = 0.015
MAX_OVERLAP = 0.2       # of the smaller bounding box, between any two objects
PLACEMENT_TRIES = 40

_START = datetime(2024, 3, 4, 8, 0, tzinfo=timezone.utc)
_ANNOTATORS = ("ana@example.org", "jo@example.org", "sam@example.org")

Colour = tuple[int, int, int]


# --- drawing ---------------------------------------------------------------------------------

class _Painter:
    """Draws each shape twice: in colour on the panorama and, as the object's id, on the id map."""

    def __init__(self, image: Image.Image, ids: Image.Image):
        self._rgb = ImageDraw.Draw(image)
        self._ids = ImageDraw.Draw(ids)
        self.object_id = 0

    def __call__(self, shape: str, xy, fill: Colour | None, **kwargs) -> None:
        getattr(self._rgb, shape)(xy, fill=fill, **kwargs)
        if "outline" in kwargs:
            kwargs["outline"] = self.object_id
        getattr(self._ids, shape)(xy, fill=None if fill is None else self.object_id, **kwargs)


class _Mirror:
    """A painter that draws everything mirrored left-right inside the box [x0, x1]."""

    def __init__(self, painter: _Painter, x0: float, x1: float):
        self.painter, self.axis = painter, x0 + x1

    def __call__(self, shape: str, xy, fill, **kwargs) -> None:
        if shape in ("line", "polygon"):
            xy = [(self.axis - x, y) for x, y in xy]
        else:  # boxes: (x0, y0, x1, y1)
            xy = (self.axis - xy[2], xy[1], self.axis - xy[0], xy[3])
        self.painter(shape, xy, fill, **kwargs)


# The generator must write the same bytes on every machine. Pixel values are therefore
# computed from basic float operations only (IEEE-exact everywhere) and 8-bit resampling
# (integer arithmetic in Pillow); the few transcendental values are computed one by one with
# Python's math and rounded to a 2**-20 grid: numpy's vectorised sin/cos/pow take
# CPU-specific code paths (AVX-512, AVX2, NEON) whose last-bit differences once changed a
# few pixels between machines.

_GRID = float(2 ** 20)


def _sin(values) -> np.ndarray:
    return np.array([round(math.sin(float(v)) * _GRID) for v in np.ravel(values)], float).reshape(
        np.shape(values)) / _GRID


def _cos(values) -> np.ndarray:
    return np.array([round(math.cos(float(v)) * _GRID) for v in np.ravel(values)], float).reshape(
        np.shape(values)) / _GRID


def _jitter(rng: np.random.Generator, base: Colour, spread: float = 18) -> Colour:
    """``base`` with a random overall brightness and a little per-channel noise."""
    rgb = np.asarray(base) * rng.uniform(0.85, 1.15) + rng.uniform(-spread, spread, 3)
    return tuple(int(v) for v in np.clip(rgb, 0, 255))


def _shade(colour: Colour, factor: float) -> Colour:
    return tuple(int(min(255, c * factor)) for c in colour)


def _tree(p: _Painter, x0, y0, x1, y1, rng) -> None:
    w, h, cx = x1 - x0, y1 - y0, (x0 + x1) / 2
    green = _jitter(rng, (45, 135, 50))
    p("rectangle", (cx - 0.08 * w, y0 + 0.5 * h, cx + 0.08 * w, y1), _jitter(rng, (105, 70, 40)))
    if rng.random() < 0.3:  # conifer
        for k in range(3):
            top, half = y0 + 0.2 * k * h, w * (0.3 + 0.1 * k)
            p("polygon", [(cx, top), (cx + half, top + 0.38 * h), (cx - half, top + 0.38 * h)],
              _shade(green, 0.75))
    else:
        p("ellipse", (x0, y0, x1, y0 + 0.72 * h), green)
        for _ in range(3):  # lighter lumps in the crown
            r = 0.16 * w
            lx, ly = rng.uniform(x0 + 0.3 * w, x1 - 0.3 * w), rng.uniform(y0 + 0.2 * h, y0 + 0.5 * h)
            p("ellipse", (lx - r, ly - r, lx + r, ly + r), _shade(green, 1.2))


def _car(p: _Painter, x0, y0, x1, y1, rng) -> None:
    w, h = x1 - x0, y1 - y0
    body = _jitter(rng, (200, 35, 40))
    p("rounded_rectangle", (x0, y0 + 0.4 * h, x1, y1 - 0.18 * h), body, radius=max(1, int(0.12 * h)))
    p("polygon", [(x0 + 0.18 * w, y0 + 0.42 * h), (x0 + 0.3 * w, y0),
                  (x1 - 0.28 * w, y0), (x1 - 0.12 * w, y0 + 0.42 * h)], body)
    p("polygon", [(x0 + 0.25 * w, y0 + 0.4 * h), (x0 + 0.34 * w, y0 + 0.12 * h),
                  (x1 - 0.32 * w, y0 + 0.12 * h), (x1 - 0.2 * w, y0 + 0.4 * h)], (170, 210, 235))
    r = 0.2 * h
    for cx in (x0 + 0.22 * w, x1 - 0.22 * w):
        p("ellipse", (cx - r, y1 - 2 * r, cx + r, y1), (25, 25, 25))
        p("ellipse", (cx - 0.45 * r, y1 - 1.45 * r, cx + 0.45 * r, y1 - 0.55 * r), (150, 150, 150))


def _building(p: _Painter, x0, y0, x1, y1, rng) -> None:
    w, h = x1 - x0, y1 - y0
    wall = _jitter(rng, ((200, 180, 145), (175, 170, 160), (190, 160, 130))[rng.integers(3)])
    p("rectangle", (x0, y0, x1, y1), wall)
    p("rectangle", (x0, y0, x1, y0 + 0.07 * h), _shade(wall, 0.6))
    glass = _jitter(rng, (50, 70, 110), 10)
    cols = int(rng.integers(3, 5))
    rows = max(3, round(3 * h / w))
    cw, ch = w / cols, 0.8 * h / rows
    for r in range(rows):
        for c in range(cols):
            wx, wy = x0 + (c + 0.25) * cw, y0 + 0.1 * h + (r + 0.2) * ch
            p("rectangle", (wx, wy, wx + 0.5 * cw, wy + 0.55 * ch), glass)
    cx = (x0 + x1) / 2
    p("rectangle", (cx - 0.1 * w, y1 - 0.12 * h, cx + 0.1 * w, y1), (70, 50, 40))


def _person(p: _Painter, x0, y0, x1, y1, rng) -> None:
    w, h, cx = x1 - x0, y1 - y0, (x0 + x1) / 2
    shirt = _jitter(rng, (165, 45, 170))
    trousers = _jitter(rng, (35, 40, 70), 10)
    arm = max(1, int(0.12 * w))
    for side in (-1, 1):
        p("line", [(cx + side * 0.28 * w, y0 + 0.27 * h), (cx + side * 0.45 * w, y0 + 0.55 * h)],
          shirt, width=arm)
        leg0, leg1 = sorted((cx + side * 0.05 * w, cx + side * 0.25 * w))
        p("rectangle", (leg0, y0 + 0.56 * h, leg1, y1), trousers)
    p("polygon", [(cx - 0.3 * w, y0 + 0.24 * h), (cx + 0.3 * w, y0 + 0.24 * h),
                  (cx + 0.25 * w, y0 + 0.6 * h), (cx - 0.25 * w, y0 + 0.6 * h)], shirt)
    r = 0.11 * h
    skin = ((240, 200, 170), (200, 150, 110), (140, 95, 65))[rng.integers(3)]
    p("ellipse", (cx - r, y0, cx + r, y0 + 2 * r), skin)


def _sign(p: _Painter, x0, y0, x1, y1, rng) -> None:
    w, cx = x1 - x0, (x0 + x1) / 2
    p("rectangle", (cx - 0.06 * w, y0 + 0.5 * w, cx + 0.06 * w, y1), _jitter(rng, (150, 150, 155), 10))
    d, inset = w / 2, 0.12 * w
    p("polygon", [(cx, y0), (x1, y0 + d), (cx, y0 + 2 * d), (x0, y0 + d)], (20, 20, 20))
    p("polygon", [(cx, y0 + inset), (x1 - inset, y0 + d), (cx, y0 + 2 * d - inset),
                  (x0 + inset, y0 + d)], _jitter(rng, (245, 205, 30), 10))
    p("rectangle", (cx - 0.05 * w, y0 + 0.45 * d, cx + 0.05 * w, y0 + 1.15 * d), (20, 20, 20))
    p("rectangle", (cx - 0.05 * w, y0 + 1.3 * d, cx + 0.05 * w, y0 + 1.45 * d), (20, 20, 20))


def _water(p: _Painter, x0, y0, x1, y1, rng) -> None:
    w, h = x1 - x0, y1 - y0
    blue = _jitter(rng, (45, 115, 205))
    p("ellipse", (x0, y0, x1, y1), blue)
    p("ellipse", (x0 + 0.15 * w, y0 + 0.2 * h, x1 - 0.1 * w, y1 - 0.15 * h), _shade(blue, 1.25))
    for _ in range(3):  # ripples
        rx, ry = rng.uniform(x0 + 0.25 * w, x1 - 0.4 * w), rng.uniform(y0 + 0.3 * h, y1 - 0.3 * h)
        p("line", [(rx, ry), (rx + 0.15 * w, ry)], (200, 225, 245), width=max(1, int(0.06 * h)))


def _pole(p: _Painter, x0, y0, x1, y1, rng) -> None:
    w, h = x1 - x0, y1 - y0
    metal = _jitter(rng, (55, 58, 65), 8)
    thick = max(2.0, 0.22 * w)
    # The mast stands at one end of the box; the lamp arm reaches to the other.
    mx = x0 if rng.random() < 0.5 else x1 - thick
    p("rectangle", (mx, y0, mx + thick, y1), metal)
    p("rectangle", (mx - 0.3 * thick, y1 - 0.04 * h, mx + 1.3 * thick, y1), metal)
    arm_end = x1 if mx == x0 else x0
    p("line", [(mx + thick / 2, y0 + 0.01 * h), (arm_end, y0 + 0.01 * h)], metal,
      width=max(1, int(0.5 * thick)))
    lamp = min(0.3 * w, 0.08 * h)
    lx = arm_end - lamp if mx == x0 else arm_end + lamp
    p("ellipse", (lx - lamp, y0, lx + lamp, y0 + 1.2 * lamp), (255, 235, 160))


def _bench(p: _Painter, x0, y0, x1, y1, rng) -> None:
    w, h = x1 - x0, y1 - y0
    wood = _jitter(rng, (175, 105, 45))
    iron = (45, 45, 50)
    for lx in (x0 + 0.08 * w, x1 - 0.14 * w):
        p("rectangle", (lx, y0, lx + 0.06 * w, y1), iron)
    for top, bottom in ((0.0, 0.16), (0.24, 0.4)):
        p("rectangle", (x0, y0 + top * h, x1, y0 + bottom * h), wood)
    p("rectangle", (x0, y0 + 0.5 * h, x1, y0 + 0.66 * h), _shade(wood, 1.15))


@dataclass(frozen=True)
class _Kind:
    draw: Callable
    width: tuple[float, float]   # fractions of the half's side, before depth scaling
    height: tuple[float, float]


_KINDS = {
    "tree": _Kind(_tree, (0.13, 0.2), (0.2, 0.3)),
    "car": _Kind(_car, (0.18, 0.26), (0.09, 0.12)),
    "building": _Kind(_building, (0.13, 0.2), (0.2, 0.32)),
    "person": _Kind(_person, (0.07, 0.09), (0.17, 0.24)),
    "sign": _Kind(_sign, (0.09, 0.12), (0.18, 0.26)),
    "water": _Kind(_water, (0.2, 0.3), (0.06, 0.09)),
    "pole": _Kind(_pole, (0.08, 0.12), (0.3, 0.4)),
    "bench": _Kind(_bench, (0.15, 0.22), (0.07, 0.1)),
}


# --- the hard preset's extra classes: small, some that a mirror image turns into another --------

def _arrow_right(p, x0, y0, x1, y1, rng) -> None:
    """A sign on a post, its arrow pointing right (mirrored, it is arrow_left)."""
    w, h, cx = x1 - x0, y1 - y0, (x0 + x1) / 2
    p("rectangle", (cx - 0.05 * w, y0 + 0.45 * h, cx + 0.05 * w, y1), _jitter(rng, (150, 150, 155), 10))
    plate = _jitter(rng, (30, 90, 170), 12)
    p("rectangle", (x0, y0, x1, y0 + 0.5 * h), plate)
    white = (240, 240, 240)
    p("rectangle", (x0 + 0.12 * w, y0 + 0.19 * h, x0 + 0.6 * w, y0 + 0.31 * h), white)
    p("polygon", [(x0 + 0.55 * w, y0 + 0.07 * h), (x1 - 0.08 * w, y0 + 0.25 * h),
                  (x0 + 0.55 * w, y0 + 0.43 * h)], white)


def _arrow_left(p, x0, y0, x1, y1, rng) -> None:
    _arrow_right(_Mirror(p, x0, x1), x0, y0, x1, y1, rng)


def _mark_r(p, x0, y0, x1, y1, rng) -> None:
    """A plate with a dark "R"-like glyph: stem left, bowl upper right, leg lower right."""
    w, h = x1 - x0, y1 - y0
    p("rectangle", (x0, y0, x1, y1), _jitter(rng, (225, 215, 170), 12))
    ink = _jitter(rng, (25, 25, 30), 6)
    stroke = max(1.0, 0.14 * w)
    p("rectangle", (x0 + 0.18 * w, y0 + 0.12 * h, x0 + 0.18 * w + stroke, y1 - 0.12 * h), ink)
    p("rectangle", (x0 + 0.18 * w, y0 + 0.12 * h, x0 + 0.68 * w, y0 + 0.12 * h + stroke), ink)
    p("rectangle", (x0 + 0.68 * w - stroke, y0 + 0.12 * h, x0 + 0.68 * w, y0 + 0.5 * h), ink)
    p("rectangle", (x0 + 0.18 * w, y0 + 0.5 * h - stroke, x0 + 0.68 * w, y0 + 0.5 * h), ink)
    p("line", [(x0 + 0.4 * w, y0 + 0.5 * h), (x0 + 0.82 * w, y1 - 0.12 * h)], ink, width=max(1, int(stroke)))


def _mark_r_mirrored(p, x0, y0, x1, y1, rng) -> None:
    _mark_r(_Mirror(p, x0, x1), x0, y0, x1, y1, rng)


def _cone(p, x0, y0, x1, y1, rng) -> None:
    w, h, cx = x1 - x0, y1 - y0, (x0 + x1) / 2
    orange = _jitter(rng, (240, 110, 20), 12)
    p("polygon", [(cx, y0), (x1 - 0.15 * w, y1 - 0.1 * h), (x0 + 0.15 * w, y1 - 0.1 * h)], orange)
    p("polygon", [(cx - 0.18 * w, y0 + 0.4 * h), (cx + 0.18 * w, y0 + 0.4 * h),
                  (cx + 0.24 * w, y0 + 0.55 * h), (cx - 0.24 * w, y0 + 0.55 * h)], (245, 245, 245))
    p("rectangle", (x0, y1 - 0.12 * h, x1, y1), (40, 40, 40))


def _hydrant(p, x0, y0, x1, y1, rng) -> None:
    w, h, cx = x1 - x0, y1 - y0, (x0 + x1) / 2
    red = _jitter(rng, (200, 30, 30), 10)
    p("ellipse", (cx - 0.3 * w, y0, cx + 0.3 * w, y0 + 0.3 * h), _shade(red, 0.8))
    p("rectangle", (cx - 0.3 * w, y0 + 0.15 * h, cx + 0.3 * w, y1 - 0.08 * h), red)
    p("rectangle", (x0, y0 + 0.35 * h, x1, y0 + 0.5 * h), red)
    p("rectangle", (cx - 0.42 * w, y1 - 0.1 * h, cx + 0.42 * w, y1), _shade(red, 0.6))


def _bin(p, x0, y0, x1, y1, rng) -> None:
    w, h = x1 - x0, y1 - y0
    body = _jitter(rng, (40, 110, 60), 12)
    p("polygon", [(x0 + 0.08 * w, y0 + 0.15 * h), (x1 - 0.08 * w, y0 + 0.15 * h),
                  (x1 - 0.16 * w, y1), (x0 + 0.16 * w, y1)], body)
    p("rectangle", (x0, y0, x1, y0 + 0.15 * h), _shade(body, 0.7))
    for k in (0.35, 0.5, 0.65):
        p("line", [(x0 + k * w, y0 + 0.25 * h), (x0 + k * w, y1 - 0.1 * h)], _shade(body, 1.3), width=1)


def _bicycle(p, x0, y0, x1, y1, rng) -> None:
    w = x1 - x0
    frame = _jitter(rng, (20, 120, 190), 15)
    tyre = (20, 20, 20)
    r = 0.24 * w
    ring = max(1, int(0.05 * w))
    for cx in (x0 + r, x1 - r):
        p("ellipse", (cx - r, y1 - 2 * r, cx + r, y1), None, outline=tyre, width=ring)
    line = max(1, int(0.05 * w))
    back, front, axle_y = (x0 + r, y1 - r), (x1 - r, y1 - r), y1 - r
    seat, bars = (x0 + 0.38 * w, y1 - 2.2 * r), (x1 - 0.3 * w, y1 - 2.4 * r)
    pedal = (x0 + 0.5 * w, axle_y)
    for a, b in ((back, pedal), (pedal, seat), (seat, back), (pedal, bars), (bars, front), (seat, bars)):
        p("line", [a, b], frame, width=line)
    p("line", [(bars[0] - 0.06 * w, bars[1]), (bars[0] + 0.08 * w, bars[1])], tyre, width=line)


def _umbrella(p, x0, y0, x1, y1, rng) -> None:
    w, h, cx = x1 - x0, y1 - y0, (x0 + x1) / 2
    canopy = _jitter(rng, ((200, 40, 120), (250, 200, 30), (60, 60, 200))[rng.integers(3)], 12)
    p("pieslice", (x0, y0, x1, y0 + 0.8 * h), canopy, start=180, end=360)
    p("line", [(cx, y0 + 0.4 * h), (cx, y1)], (60, 50, 40), width=max(1, int(0.06 * w)))


def _flag(p, x0, y0, x1, y1, rng) -> None:
    w, h = x1 - x0, y1 - y0
    p("rectangle", (x0, y0, x0 + 0.08 * w, y1), (90, 90, 95))
    colours = [_jitter(rng, c, 10) for c in ((200, 30, 40), (245, 245, 245), (30, 60, 160))]
    for k, colour in enumerate(colours):
        p("rectangle", (x0 + 0.08 * w, y0 + k * 0.15 * h, x1, y0 + (k + 1) * 0.15 * h), colour)


_HARD_KINDS = {
    **_KINDS,
    "arrow_left": _Kind(_arrow_left, (0.1, 0.12), (0.16, 0.2)),
    "arrow_right": _Kind(_arrow_right, (0.1, 0.12), (0.16, 0.2)),
    "mark_r": _Kind(_mark_r, (0.09, 0.11), (0.11, 0.13)),
    "mark_r_mirrored": _Kind(_mark_r_mirrored, (0.09, 0.11), (0.11, 0.13)),
    "cone": _Kind(_cone, (0.08, 0.1), (0.11, 0.13)),
    "hydrant": _Kind(_hydrant, (0.08, 0.1), (0.13, 0.16)),
    "bin": _Kind(_bin, (0.09, 0.11), (0.12, 0.15)),
    "bicycle": _Kind(_bicycle, (0.18, 0.22), (0.11, 0.13)),
    "umbrella": _Kind(_umbrella, (0.14, 0.18), (0.14, 0.18)),
    "flag": _Kind(_flag, (0.1, 0.12), (0.2, 0.26)),
}


@dataclass(frozen=True)
class Preset:
    """A built-in data set: its classes, how often and how big they appear, how much clutter."""
    name: str
    classes: tuple[str, ...]
    frequency: dict                     # share of halves meant to show each class
    kinds: dict
    count: int                          # default number of panoramas
    empty_share: float = EMPTY_SHARE
    straddle_share: float = STRADDLE_SHARE
    no_straddle: frozenset = frozenset(NO_STRADDLE)
    second_share: float = SECOND_SHARE
    small: tuple[float, float] | None = None   # object width as a share of the half's width
    distractors: tuple[int, int] = (0, 0)      # coloured shapes of no class, per panorama
    clutter: int = 1                           # how many times the clutter is drawn
    grain: tuple[float, float] = (6, 16)


PRESETS = {
    "demo": Preset("demo", CLASSES, TARGET_FREQUENCY, _KINDS, count=240),
    # Small objects (5-15 % of the half's width), 18 classes with a long tail, more clutter,
    # look-alike distractors and noise; two pairs of classes that a horizontal flip swaps.
    "hard": Preset(
        "hard",
        ("tree", "car", "person", "building", "pole", "sign", "bench", "water", "arrow_left", "arrow_right",
         "cone", "bin", "mark_r", "mark_r_mirrored", "hydrant", "bicycle", "umbrella", "flag"),
        {"tree": 0.30, "car": 0.26, "person": 0.22, "building": 0.18, "pole": 0.15, "sign": 0.12,
         "bench": 0.10, "water": 0.09, "arrow_left": 0.08, "arrow_right": 0.08, "cone": 0.07, "bin": 0.06,
         "mark_r": 0.06, "mark_r_mirrored": 0.06, "hydrant": 0.05, "bicycle": 0.04, "umbrella": 0.03,
         "flag": 0.025},
        _HARD_KINDS, count=480, empty_share=0.08, straddle_share=0.3, second_share=0.15,
        small=(0.05, 0.15), distractors=(3, 9), clutter=3, grain=(10, 24)),
}


# --- one panorama ----------------------------------------------------------------------------

@dataclass
class _Object:
    cls: str
    position: str                       # "left", "right" or "seam"
    box: tuple[float, float, float, float]


def _background(rng, width: int, height: int) -> tuple[Image.Image, int]:
    """Sky gradient, hazy hills and a textured ground; also the horizon row."""
    horizon = int(height * rng.uniform(0.45, 0.53))
    top = np.array([rng.uniform(40, 90), rng.uniform(90, 140), rng.uniform(170, 230)])
    low = np.array([rng.uniform(170, 220), rng.uniform(190, 230), rng.uniform(220, 250)])
    grey = rng.uniform(0, 0.7)  # from clear to overcast
    top, low = [c * (1 - grey) + c.mean() * grey for c in (top, low)]
    ground = np.array(((170, 150, 110), (140, 135, 80), (125, 120, 112), (130, 100, 70))[rng.integers(4)])
    ground = ground * rng.uniform(0.8, 1.15)
    hill = low * 0.55 + np.array([60, 80, 60]) * 0.45
    # float32 colours keep the arithmetic below in float32 (a float64 scalar would widen it).
    top, low, ground, hill = (c.astype(np.float32) for c in (top, low, ground, hill))

    sky = np.linspace(0, 1, horizon, dtype=np.float32)[:, None]
    rows = height - horizon
    # Two octaves of smoothed value noise. 8-bit images: Pillow resamples them in integer
    # fixed-point arithmetic, the same on every CPU.
    texture = sum(
        np.asarray(Image.fromarray(rng.integers(0, 256, (max(2, rows // cell), width // cell), np.uint8))
                   .resize((width, rows), Image.Resampling.BICUBIC), np.float32) * np.float32(weight / 255)
        for cell, weight in ((32, 0.6), (6, 0.4)))
    fade = 1 - np.linspace(0, 1, rows, dtype=np.float32)[:, None]
    haze = np.float32(0.5) * fade * fade * fade  # fade into the sky
    shade = (0.8 + 0.4 * texture) * (1 - haze)

    # Hills: whole periods across the width, so they join up where the panorama wraps.
    x = np.arange(width) / width * 2 * np.pi
    crest = np.zeros(width)
    for k in rng.choice(np.arange(2, 9), 3, replace=False):
        crest += rng.uniform(0.2, 1) * _sin(k * x + rng.uniform(0, 2 * np.pi))
    crest = horizon - height * rng.uniform(0.02, 0.06) * (1.5 + crest / 2.5)
    hills = np.arange(horizon)[:, None] >= crest[None, :]

    # Built one channel at a time: numpy is much faster on (height, width) planes than on
    # (height, width, 3) arrays.
    channels = []
    for c in range(3):
        plane = np.empty((height, width), np.float32)
        plane[:horizon] = top[c] * (1 - sky) + low[c] * sky
        plane[:horizon][hills] = hill[c]
        plane[horizon:] = shade * ground[c] + low[c] * haze
        channels.append(Image.fromarray(plane.clip(0, 255, out=plane).astype(np.uint8)))
    return Image.merge("RGB", channels), horizon


def _clutter(draw: ImageDraw.ImageDraw, rng, width: int, height: int, horizon: int) -> None:
    """Clouds, birds, rocks and grass tufts: things that belong to no class."""
    for _ in range(rng.integers(0, 5)):
        cx, cy = rng.uniform(0, width), rng.uniform(0.05, 0.8) * horizon
        shade = int(rng.uniform(225, 255))
        for _ in range(rng.integers(3, 6)):
            rx, ry = height * rng.uniform(0.03, 0.07), height * rng.uniform(0.015, 0.03)
            ox, oy = cx + rng.uniform(-2, 2) * rx, cy + rng.uniform(-0.5, 0.5) * ry
            draw.ellipse((ox - rx, oy - ry, ox + rx, oy + ry), fill=(shade, shade, shade))
    for _ in range(rng.integers(0, 4)):
        bx, by, s = rng.uniform(0, width), rng.uniform(0.1, 0.7) * horizon, height * 0.012
        draw.line([(bx - s, by - s / 2), (bx, by), (bx + s, by - s / 2)], fill=(30, 30, 35),
                  width=max(1, height // 256))
    for _ in range(rng.integers(3, 11)):
        r = height * rng.uniform(0.012, 0.035)
        cx, cy = rng.uniform(r, width - r), rng.uniform(horizon + r, height - r)
        angles = np.sort(rng.uniform(0, 2 * np.pi, 7))
        stone = int(rng.uniform(90, 160))
        draw.polygon([(cx + r * c, cy + 0.6 * r * s) for c, s in zip(_cos(angles), _sin(angles))],
                     fill=(stone, stone - 5, stone - 12))
    for _ in range(rng.integers(20, 60)):
        gx, gy = rng.uniform(0, width), rng.uniform(horizon, height)
        draw.line([(gx, gy), (gx + rng.uniform(-2, 2), gy - height * 0.012)], fill=(70, 80, 45))


def _distractors(draw: ImageDraw.ImageDraw, rng, width: int, height: int, horizon: int, count) -> None:
    """Small coloured shapes in the classes' colours that belong to no class."""
    half = width // 2
    palette = ((200, 35, 40), (240, 110, 20), (30, 90, 170), (40, 110, 60), (225, 215, 170), (25, 25, 30))
    for _ in range(rng.integers(count[0], count[1] + 1)):
        size = half * rng.uniform(0.02, 0.08)
        cx, cy = rng.uniform(size, width - size), rng.uniform(horizon + size, height - size)
        colour = tuple(int(v) for v in np.clip(np.asarray(palette[rng.integers(len(palette))])
                                               + rng.uniform(-20, 20, 3), 0, 255))
        shape = rng.integers(3)
        if shape == 0:
            draw.ellipse((cx - size / 2, cy - size / 3, cx + size / 2, cy + size / 3), fill=colour)
        elif shape == 1:
            draw.rectangle((cx - size / 3, cy - size / 2, cx + size / 3, cy + size / 2), fill=colour)
        else:
            draw.polygon([(cx - size / 2, cy + size / 2), (cx + size / 2, cy + size / 2), (cx, cy - size / 2)],
                         fill=colour)


def _plan(rng, preset: "Preset") -> list[tuple[str, str]]:
    """(class, position) of each object to draw, from the classes picked for each half."""
    picked = {}
    for side in SIDES:
        draws = rng.random(len(preset.classes))
        # Scaled up so that, with the empty halves, each class meets its target share.
        picked[side] = set() if rng.random() < preset.empty_share else {
            c for c, u in zip(preset.classes, draws) if u < preset.frequency[c] / (1 - preset.empty_share)}
    plan = []
    for cls in preset.classes:
        sides = [s for s in SIDES if cls in picked[s]]
        if len(sides) == 2 and cls not in preset.no_straddle and rng.random() < preset.straddle_share:
            plan.append((cls, "seam"))
            continue
        for side in sides:
            plan.append((cls, side))
            if rng.random() < preset.second_share:
                plan.append((cls, side))
    # Seam objects first: they have the least freedom of position.
    return sorted(plan, key=lambda item: item[1] != "seam")


def _overlaps(box, placed: list[_Object]) -> bool:
    x0, y0, x1, y1 = box
    area = (x1 - x0) * (y1 - y0)
    for other in placed:
        a0, b0, a1, b1 = other.box
        inter = max(0, min(x1, a1) - max(x0, a0)) * max(0, min(y1, b1) - max(y0, b0))
        if inter > MAX_OVERLAP * min(area, (a1 - a0) * (b1 - b0)):
            return True
    return False


def _place(rng, plan, width: int, height: int, horizon: int, preset: "Preset") -> list[_Object]:
    """Find a box for each planned object; one that fits nowhere after some tries is dropped."""
    half = width // 2
    margin = max(1.0, 0.02 * half)  # distance kept from the seam and from the outer edges
    placed: list[_Object] = []
    for cls, position in plan:
        kind = preset.kinds[cls]
        for _ in range(PLACEMENT_TRIES):
            near = rng.random()  # 0 at the horizon, 1 at the bottom; nearer objects look bigger
            if preset.small is None:
                scale = (0.75 + 0.4 * near) * half
                w = rng.uniform(*kind.width) * scale
                h = rng.uniform(*kind.height) * scale
            else:  # a fixed share of the half's width, the kind's own proportions
                w = rng.uniform(*preset.small) * half
                h = w * (sum(kind.height) / sum(kind.width)) * rng.uniform(0.9, 1.1)
            lowest, highest = height - margin, horizon + 0.04 * height + (h if cls == "water" else 0)
            base = highest + near * (lowest - highest)
            if position == "seam":  # 45-55 % of the box on each side (rounder shapes less)
                x0 = half - rng.uniform(0.45, 0.55) * w
            else:
                left_edge = margin if position == "left" else half + margin
                x0 = rng.uniform(left_edge, left_edge + half - 2 * margin - w)
            box = (x0, base - h, x0 + w, base)
            if not _overlaps(box, placed):
                placed.append(_Object(cls, position, box))
                break
    return placed


def _panorama(seed: int, index: int, width: int, preset: "Preset | None" = None
              ) -> tuple[Image.Image, list[_Object], list[set[str]]]:
    """Draw one panorama; return it, its objects and the classes visible in each half."""
    preset = preset or PRESETS["demo"]
    rng = np.random.default_rng([seed, index])
    height = half = width // 2
    image, horizon = _background(rng, width, height)
    for _ in range(preset.clutter):
        _clutter(ImageDraw.Draw(image), rng, width, height, horizon)
    if preset.distractors[1]:
        _distractors(ImageDraw.Draw(image), rng, width, height, horizon, preset.distractors)

    objects = _place(rng, _plan(rng, preset), width, height, horizon, preset)
    objects.sort(key=lambda o: o.box[3])  # far (higher up) objects first, near ones over them
    ids = Image.new("L", (width, height), 0)
    painter = _Painter(image, ids)
    drawn_area = []
    for painter.object_id, obj in enumerate(objects, start=1):
        preset.kinds[obj.cls].draw(painter, *obj.box, rng)
        # Just drawn, the object is on top of everything, so this is its whole area.
        drawn_area.append(ids.histogram()[painter.object_id])

    present = []
    for part in (ids.crop((0, 0, half, height)), ids.crop((half, 0, width, height))):
        visible = part.histogram()[1:]
        present.append({obj.cls for obj, seen, area in zip(objects, visible, drawn_area)
                        if seen and (seen >= MIN_OBJECT_SHARE * area
                                     or seen >= MIN_HALF_SHARE * half * height)})

    # Light: overall gain and tint, a brighter side towards the sun (continuous across the
    # wrap), and grey sensor grain.
    gain = rng.uniform(0.7, 1.15) * rng.uniform(0.9, 1.1, 3)
    sun = 1 + rng.uniform(0, 0.2) * _cos(2 * np.pi * (np.arange(width) / width - rng.random()))
    grain = (rng.random((height, width), np.float32) - 0.5) * np.float32(rng.uniform(*preset.grain))
    lit = []
    for c, channel in enumerate(image.split()):
        plane = np.asarray(channel, np.float32) * (gain[c] * sun).astype(np.float32) + grain
        lit.append(Image.fromarray(plane.clip(0, 255, out=plane).astype(np.uint8)))
    return Image.merge("RGB", lit), objects, present


# --- the LabelBox export ---------------------------------------------------------------------

def _cuid(when: datetime, *key) -> str:
    """A 25-character LabelBox-style id: "c", a base-36 millisecond time, 16 hashed characters."""
    digest = int.from_bytes(hashlib.sha256(repr(key).encode()).digest()[:16], "big")
    return "c" + _base36(int(when.timestamp() * 1000), 8) + _base36(digest, 16)


def _base36(number: int, length: int) -> str:
    digits = []
    for _ in range(length):
        number, digit = divmod(number, 36)
        digits.append("0123456789abcdefghijklmnopqrstuvwxyz"[digit])
    return "".join(reversed(digits))


def _stamp(when: datetime) -> str:
    return when.isoformat(timespec="milliseconds")


class _Export:
    """Builds the export rows; ids and times follow from the seed and the order of the rows."""

    def __init__(self, seed: int, half_size: int, classes: tuple[str, ...] = CLASSES):
        self.seed, self.half_size, self.classes = seed, half_size, classes
        self.rng = np.random.default_rng([seed, 1 << 32])  # apart from the panoramas' streams
        self.clock = _START + timedelta(days=1)  # labelling starts a day after the upload
        self.dataset_id = _cuid(_START, seed, "dataset")
        self.project_id = _cuid(_START, seed, "project")
        self.batch_id = _cuid(_START, seed, "batch")
        self.schema = {name: _cuid(_START, seed, "schema", name) for name in (QUESTION, *classes)}

    def row(self, name: str, classes: set[str]) -> dict:
        seconds = round(float(self.rng.uniform(4, 40)), 1)
        created = self.clock
        updated = created + timedelta(seconds=seconds)
        self.clock = updated + timedelta(seconds=float(self.rng.uniform(2, 30)))

        def feature(kind: str) -> str:
            return _cuid(updated, self.seed, kind, name)

        classifications = []
        if classes:  # LabelBox leaves an unticked checklist out altogether
            classifications.append({
                "feature_id": feature(QUESTION), "feature_schema_id": self.schema[QUESTION],
                "name": QUESTION, "value": QUESTION.replace(" ", "_"),
                "checklist_answers": [
                    {"feature_id": feature(c), "feature_schema_id": self.schema[c],
                     "name": c, "value": c, "classifications": []}
                    for c in self.classes if c in classes]})
        label = {
            "label_kind": "Default", "version": "1.0.0", "id": _cuid(created, self.seed, "label", name),
            "label_details": {
                "created_at": _stamp(created), "updated_at": _stamp(updated),
                "created_by": _ANNOTATORS[self.rng.integers(len(_ANNOTATORS))],
                "content_last_updated_at": _stamp(updated), "reviews": []},
            "performance_details": {"seconds_to_create": seconds, "seconds_to_review": 0.0,
                                    "skipped": False},
            "annotations": {"objects": [], "relationships": [], "classifications": classifications}}
        return {
            "data_row": {
                "id": _cuid(_START, self.seed, "data_row", name), "external_id": name,
                "global_key": f"pano360-demo/halves/{name}",
                "row_data": f"https://storage.googleapis.com/pano360-demo/halves/{name}",
                "details": {
                    "dataset_id": self.dataset_id, "dataset_name": "pano360-demo halves",
                    "created_at": _stamp(_START), "updated_at": _stamp(_START),
                    "last_activity_at": _stamp(updated), "created_by": "ops@example.org"}},
            "media_attributes": {"height": self.half_size, "width": self.half_size,
                                 "mime_type": "image/jpeg"},
            "attachments": [], "metadata_fields": [],
            "projects": {self.project_id: {
                "name": "pano360 demo: objects in halves",
                "labels": [label],
                "project_details": {
                    "batch_id": self.batch_id, "batch_name": "demo-batch-1", "workflow_status": "DONE",
                    "priority": 5, "consensus_expected_label_count": 1, "workflow_history": []}}}}


# --- entry points ----------------------------------------------------------------------------

def generate(out_dir, count: int | None = None, width: int = 1024, seed: int = 0, quality: int = 90,
             name_pattern: str = DEFAULT_PATTERN, preset: str = "demo") -> dict:
    """Write ``count`` panoramas (default: the preset's) and the labels of their halves under
    ``out_dir``; return a summary. ``preset``: ``demo`` or ``hard`` (see PRESETS).

    The summary holds the realised share of halves showing each class (``class_frequency``),
    the share with no class (``empty_fraction``) and every drawn object (``objects``: panorama,
    class, position ``left``/``right``/``seam`` and pixel box).
    """
    if preset not in PRESETS:
        raise ValueError(f"preset must be one of {sorted(PRESETS)}, got {preset!r}")
    spec = PRESETS[preset]
    count = spec.count if count is None else count
    if count < 1:
        raise ValueError(f"count must be at least 1, got {count}")
    if width < 64 or width % 2:
        raise ValueError(f"width must be an even number of at least 64 pixels, got {width}")
    out_dir = Path(out_dir)
    half = width // 2
    export = _Export(seed, half, spec.classes)
    rows, objects, halves_with = [], [], dict.fromkeys(spec.classes, 0)
    empty = 0
    with atomic_dir(out_dir / "panoramas") as folder:
        for index in range(count):
            stem = f"pano_{index:04d}"
            image, drawn, present = _panorama(seed, index, width, spec)
            image.save(folder / f"{stem}.jpg", "JPEG", quality=quality)
            objects += [{"panorama": f"{stem}.jpg", "class": o.cls, "position": o.position,
                         "box": [round(v) for v in o.box]} for o in drawn]
            for side, classes in zip(SIDES, present):
                rows.append(export.row(half_name(stem, side, ".jpg", name_pattern), classes))
                empty += not classes
                for cls in classes:
                    halves_with[cls] += 1
    write_text(out_dir / "labels.ndjson", "".join(json.dumps(row) + "\n" for row in rows))
    halves = 2 * count
    return {
        "panoramas": str(out_dir / "panoramas"), "labels": str(out_dir / "labels.ndjson"),
        "preset": preset, "count": count, "width": width, "height": half, "halves": halves,
        "class_frequency": {c: round(n / halves, 4) for c, n in halves_with.items()},
        "empty_fraction": round(empty / halves, 4),
        "objects": objects,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pano360.demo",
        description="Generate demo panoramas and a LabelBox-style NDJSON export of their halves.")
    parser.add_argument("out_dir", help="folder to write panoramas/ and labels.ndjson into")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="demo",
                        help="demo: 8 large classes; hard: 18 small classes with a long tail, clutter, "
                             "noise and classes a mirror image swaps (default demo)")
    parser.add_argument("--count", type=int, help="number of panoramas (default: demo 240, hard 480)")
    parser.add_argument("--width", type=int, default=1024,
                        help="panorama width in pixels, even; height is half of it (default 1024)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--quality", type=int, default=90, help="JPEG quality (default 90)")
    parser.add_argument("--name-pattern", default=DEFAULT_PATTERN,
                        help=f"half-image name pattern (default {DEFAULT_PATTERN!r})")
    args = parser.parse_args(argv)
    try:
        summary = generate(args.out_dir, count=args.count, width=args.width, seed=args.seed,
                           quality=args.quality, name_pattern=args.name_pattern, preset=args.preset)
    except ValueError as exc:
        parser.error(str(exc))
    print(f"wrote {summary['count']} panoramas to {summary['panoramas']} "
          f"and {summary['halves']} half labels to {summary['labels']}")
    print("share of halves showing each class:")
    for cls, share in summary["class_frequency"].items():
        print(f"  {cls:<15} {share:6.1%}")
    print(f"  {'(none)':<15} {summary['empty_fraction']:6.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

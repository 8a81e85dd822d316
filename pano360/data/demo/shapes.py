"""The demo's drawn objects: one small painter function per class, each drawing the class in
its box onto the image and, as the object's id, onto an id map (so labels can be read off the
pixels). Only exact, CPU-independent maths (see ``_sin``): the files must be byte-identical on
every machine."""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

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


# --- the shapes preset: ten glyphs that differ by shape alone --------------------------------
# Every glyph is one flat colour drawn from the same distribution whatever the class, at a
# random rotation, with a random stroke where it has one: colour, size and texture say nothing
# about the class, only the outline does. Rotations keep shapes distinct (no glyph is another
# one rotated); ``_glyph_frame`` draws the colour and the angle first, the same way for all.

def _glyph_frame(rng, x0, y0, x1, y1):
    """(ink, centre x, centre y, radius, cos θ, sin θ) of a glyph in its box."""
    ink = _jitter(rng, (40, 40, 48), 14)
    angle = float(rng.uniform(0, 2 * math.pi))
    c, s = _cos([angle])[0], _sin([angle])[0]
    return ink, (x0 + x1) / 2, (y0 + y1) / 2, min(x1 - x0, y1 - y0) / 2, c, s


def _polygon(p, points, frame) -> None:
    """``points`` in the unit square [-1, 1]², rotated and scaled into the glyph's frame."""
    ink, cx, cy, r, c, s = frame
    p("polygon", [(cx + r * (c * x - s * y), cy + r * (s * x + c * y)) for x, y in points], ink)


def _regular(n: int, radius: float = 1.0, start: float = 0.0) -> list:
    angles = [start + 2 * math.pi * k / n for k in range(n)]
    return [(radius * float(x), radius * float(y)) for x, y in zip(_cos(angles), _sin(angles))]


def _circle_glyph(p, x0, y0, x1, y1, rng) -> None:
    ink, cx, cy, r, _, _ = _glyph_frame(rng, x0, y0, x1, y1)
    p("ellipse", (cx - r, cy - r, cx + r, cy + r), ink)


def _ring_glyph(p, x0, y0, x1, y1, rng) -> None:
    ink, cx, cy, r, _, _ = _glyph_frame(rng, x0, y0, x1, y1)
    p("ellipse", (cx - r, cy - r, cx + r, cy + r), None, outline=ink, width=max(1, int(r * rng.uniform(0.22, 0.4))))


def _square_glyph(p, x0, y0, x1, y1, rng) -> None:
    _polygon(p, [(-0.72, -0.72), (0.72, -0.72), (0.72, 0.72), (-0.72, 0.72)], _glyph_frame(rng, x0, y0, x1, y1))


def _triangle_glyph(p, x0, y0, x1, y1, rng) -> None:
    _polygon(p, _regular(3), _glyph_frame(rng, x0, y0, x1, y1))


def _hexagon_glyph(p, x0, y0, x1, y1, rng) -> None:
    _polygon(p, _regular(6), _glyph_frame(rng, x0, y0, x1, y1))


def _star_glyph(p, x0, y0, x1, y1, rng) -> None:
    frame = _glyph_frame(rng, x0, y0, x1, y1)
    outer, inner = _regular(5), _regular(5, 0.42, math.pi / 5)
    _polygon(p, [pt for pair in zip(outer, inner) for pt in pair], frame)


def _bars(rng) -> float:
    return float(rng.uniform(0.2, 0.34))   # the stroke: half-width of a bar, of the radius


def _plus_glyph(p, x0, y0, x1, y1, rng) -> None:
    frame = _glyph_frame(rng, x0, y0, x1, y1)
    b = _bars(rng)
    _polygon(p, [(-b, -1), (b, -1), (b, -b), (1, -b), (1, b), (b, b), (b, 1), (-b, 1), (-b, b), (-1, b),
                 (-1, -b), (-b, -b)], frame)


def _letter_l_glyph(p, x0, y0, x1, y1, rng) -> None:
    frame = _glyph_frame(rng, x0, y0, x1, y1)
    b = 2 * _bars(rng)
    _polygon(p, [(-0.7, -1), (-0.7 + b, -1), (-0.7 + b, 1 - b), (0.7, 1 - b), (0.7, 1), (-0.7, 1)], frame)


def _letter_t_glyph(p, x0, y0, x1, y1, rng) -> None:
    frame = _glyph_frame(rng, x0, y0, x1, y1)
    b = _bars(rng)
    _polygon(p, [(-0.9, -1), (0.9, -1), (0.9, -1 + 2 * b), (b, -1 + 2 * b), (b, 1), (-b, 1), (-b, -1 + 2 * b),
                 (-0.9, -1 + 2 * b)], frame)


def _arrow_glyph(p, x0, y0, x1, y1, rng) -> None:
    frame = _glyph_frame(rng, x0, y0, x1, y1)
    b = 0.8 * _bars(rng)
    _polygon(p, [(-1, -b), (0.1, -b), (0.1, -0.7), (1, 0), (0.1, 0.7), (0.1, b), (-1, b)], frame)


_SHAPE_KINDS = {name: _Kind(draw, (0.09, 0.15), (0.09, 0.15)) for name, draw in (
    ("circle", _circle_glyph), ("ring", _ring_glyph), ("square", _square_glyph), ("triangle", _triangle_glyph),
    ("hexagon", _hexagon_glyph), ("star", _star_glyph), ("plus", _plus_glyph), ("letter_l", _letter_l_glyph),
    ("letter_t", _letter_t_glyph), ("arrow", _arrow_glyph))}

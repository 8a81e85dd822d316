"""Synthetic demo data: drawn panoramas plus a LabelBox export that labels their halves.

``python -m pano360.data.demo OUT_DIR`` writes

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
import json
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from pano360.io import atomic_dir, write_text
from pano360.data.naming import DEFAULT_PATTERN, SIDES, half_name

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

from pano360.data.demo.shapes import _HARD_KINDS, _KINDS, _SHAPE_KINDS, _Painter, _cos, _sin



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
    # Ten glyphs (circle, ring, square, triangle, hexagon, star, plus, L, T, arrow) drawn in one
    # dark colour from the same distribution for every class, at random rotations, sizes and
    # strokes: only the outline tells the classes apart, so a recipe that separates colours fails.
    "shapes": Preset("shapes", tuple(_SHAPE_KINDS), {name: 0.18 for name in _SHAPE_KINDS}, _SHAPE_KINDS, count=400,
                     straddle_share=0.3, second_share=0.15),
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
    ``out_dir``; return a summary. ``preset``: ``demo``, ``hard`` or ``shapes`` (see PRESETS).

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
        prog="python -m pano360.data.demo",
        description="Generate demo panoramas and a LabelBox-style NDJSON export of their halves.")
    parser.add_argument("out_dir", help="folder to write panoramas/ and labels.ndjson into")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="demo",
                        help="demo: 8 large classes; hard: 18 small classes with a long tail, clutter, "
                             "noise and classes a mirror image swaps; shapes: 10 one-colour glyphs that "
                             "differ by shape alone (default demo)")
    parser.add_argument("--count", type=int,
                        help="number of panoramas (default: demo 240, hard 480, shapes 400)")
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

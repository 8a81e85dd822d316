"""How half images are named, how a half's name leads back to its panorama, and the label
table's reserved columns (every other column of a label or split table is a class).

The pattern uses three fields: ``{stem}`` (the panorama's file name without extension),
``{side}`` (``left`` or ``right``) and ``{ext}`` (the source extension, with its dot).
The default ``{stem}_{side}{ext}`` turns ``site7.jpg`` into ``site7_left.jpg`` and
``site7_right.jpg``; it must match the names the halves were uploaded to LabelBox with.
"""
from __future__ import annotations

import re
import string
from functools import lru_cache
from pano360.errors import Pano360Error

DEFAULT_PATTERN = "{stem}_{side}{ext}"
SIDES = ("left", "right")
# The columns of a label or split table that are not classes: the half and its panorama.
RESERVED_COLUMNS = ("image", "panorama")
_FIELDS = {"stem", "side", "ext"}


class NamingError(Pano360Error, ValueError):
    pass


def _check_pattern(pattern: str) -> list[str]:
    fields = [f for _, f, _, _ in string.Formatter().parse(pattern) if f is not None]
    unknown = set(fields) - _FIELDS
    if unknown:
        raise NamingError(
            f"name pattern {pattern!r} uses unknown field(s) {sorted(unknown)}; "
            f"only {{stem}}, {{side}} and {{ext}} are available")
    for needed in ("stem", "side"):
        if fields.count(needed) != 1:
            raise NamingError(f"name pattern {pattern!r} must contain {{{needed}}} exactly once")
    return fields


def half_name(stem: str, side: str, ext: str, pattern: str = DEFAULT_PATTERN) -> str:
    """File name of one half, e.g. ``half_name('p1', 'left', '.jpg') == 'p1_left.jpg'``."""
    _check_pattern(pattern)
    if side not in SIDES:
        raise NamingError(f"side must be one of {SIDES}, got {side!r}")
    return pattern.format(stem=stem, side=side, ext=ext)


@lru_cache(maxsize=32)
def _regex(pattern: str) -> re.Pattern:
    _check_pattern(pattern)
    out = []
    for literal, field, _, _ in string.Formatter().parse(pattern):
        out.append(re.escape(literal))
        if field == "stem":
            out.append(r"(?P<stem>.+)")
        elif field == "side":
            out.append(r"(?P<side>left|right)")
        elif field == "ext":
            out.append(r"(?P<ext>\.[A-Za-z0-9]+)")
    return re.compile("".join(out) + r"\Z")


def parse_half_name(name: str, pattern: str = DEFAULT_PATTERN) -> tuple[str, str]:
    """``(panorama stem, side)`` of a half's file name; NamingError if it does not match."""
    m = _regex(pattern).match(name)
    if m is None:
        raise NamingError(
            f"{name!r} does not match the half-image name pattern {pattern!r} "
            f"(set split.name_pattern in params.yaml to the names you uploaded)")
    return m.group("stem"), m.group("side")


def class_columns(frame) -> list[str]:
    """The class columns of a label or split table (a pandas DataFrame), in table order."""
    return [c for c in frame.columns if c not in RESERVED_COLUMNS]

"""How half images are named, how a half's name leads back to its panorama, and the label
table's reserved columns (every other column of a label or split table is a class).

The pattern uses up to four fields: ``{stem}`` (the panorama's file name without extension),
``{side}`` (``left`` or ``right``), ``{ext}`` (the source extension, with its dot) and
``{folder}`` (the panorama's subfolders below the panorama folder). The default
``{stem}_{side}{ext}`` turns ``site7.jpg`` into ``site7_left.jpg`` and ``site7_right.jpg``; it
must match the names the halves were uploaded to LabelBox with.

``{folder}`` must be followed by a separator and ``{stem}``: with ``{folder}_{stem}_{side}{ext}``,
``siteA/card2/R0010001.JPG`` gives ``siteA_card2_R0010001_left.JPG`` (the folders joined by the
separator) and ``R0010001.JPG`` directly in the panorama folder gives ``R0010001_left.JPG`` (no
folder, no separator). A panorama's id (the ``panorama`` column) is what stands for
``{folder}…{stem}`` in its halves' names: ``siteA_card2_R0010001`` here, the stem without
``{folder}``, so both halves of a panorama, and only they, share it.
"""
from __future__ import annotations

import re
import string
from functools import lru_cache
from pathlib import Path
from pano360.errors import Pano360Error

DEFAULT_PATTERN = "{stem}_{side}{ext}"
SIDES = ("left", "right")
# The columns of a label or split table that are not classes: the half and its panorama.
RESERVED_COLUMNS = ("image", "panorama")
_FIELDS = {"stem", "side", "ext", "folder"}


class NamingError(Pano360Error, ValueError):
    pass


def _tokens(pattern: str) -> list[tuple[str, str | None]]:
    return [(literal, field) for literal, field, _, _ in string.Formatter().parse(pattern)]


@lru_cache(maxsize=64)
def _folder_rule(pattern: str) -> tuple[str, str | None]:
    """``(pattern with "{folder}SEP" removed, SEP)``, or ``(pattern, None)`` without ``{folder}``.
    In the pattern returned, ``{stem}`` stands for the whole panorama id."""
    fields = [f for _, f in _tokens(pattern) if f is not None]
    unknown = set(fields) - _FIELDS
    if unknown:
        raise NamingError(
            f"name pattern {pattern!r} uses unknown field(s) {sorted(unknown)}; "
            f"only {{stem}}, {{side}}, {{ext}} and {{folder}} are available")
    for needed in ("stem", "side"):
        if fields.count(needed) != 1:
            raise NamingError(f"name pattern {pattern!r} must contain {{{needed}}} exactly once")
    if "folder" not in fields:
        return pattern, None
    match = re.search(r"\{folder\}([^{}]+)\{stem\}", pattern)
    if fields.count("folder") != 1 or match is None or "/" in match.group(1) or "\\" in match.group(1):
        raise NamingError(f"name pattern {pattern!r}: {{folder}} must appear once, followed by a separator "
                          f"(not a slash) and {{stem}}, e.g. '{{folder}}_{{stem}}_{{side}}{{ext}}'")
    return pattern[:match.start()] + pattern[match.start(1) + len(match.group(1)):], match.group(1)


def _check_pattern(pattern: str) -> None:
    _folder_rule(pattern)


def folder_parts(path, root) -> tuple[str, ...]:
    """The subfolders of ``path`` below ``root`` (empty for a file directly in ``root``)."""
    return Path(path).parent.relative_to(root).parts


def panorama_id(stem: str, folder: tuple[str, ...] | list[str] = (), pattern: str = DEFAULT_PATTERN) -> str:
    """The id of a panorama: its stem, prefixed by its folders when the pattern uses ``{folder}``."""
    _, separator = _folder_rule(pattern)
    if separator is None or not folder:
        return stem
    return separator.join(folder) + separator + stem


def half_name(stem: str, side: str, ext: str, pattern: str = DEFAULT_PATTERN,
              folder: tuple[str, ...] | list[str] = ()) -> str:
    """File name of one half, e.g. ``half_name('p1', 'left', '.jpg') == 'p1_left.jpg'``."""
    base, _ = _folder_rule(pattern)
    if side not in SIDES:
        raise NamingError(f"side must be one of {SIDES}, got {side!r}")
    return base.format(stem=panorama_id(stem, folder, pattern), side=side, ext=ext)


@lru_cache(maxsize=32)
def _regex(pattern: str) -> re.Pattern:
    base, _ = _folder_rule(pattern)
    out = []
    for literal, field in _tokens(base):
        out.append(re.escape(literal))
        if field == "stem":
            out.append(r"(?P<stem>.+)")
        elif field == "side":
            out.append(r"(?P<side>left|right)")
        elif field == "ext":
            out.append(r"(?P<ext>\.[A-Za-z0-9]+)")
    return re.compile("".join(out) + r"\Z")


def parse_half_name(name: str, pattern: str = DEFAULT_PATTERN) -> tuple[str, str]:
    """``(panorama id, side)`` of a half's file name; NamingError if it does not match."""
    m = _regex(pattern).match(name)
    if m is None:
        raise NamingError(
            f"{name!r} does not match the half-image name pattern {pattern!r} "
            f"(set split.name_pattern in params.yaml to the names you uploaded)")
    return m.group("stem"), m.group("side")


def class_columns(frame) -> list[str]:
    """The class columns of a label or split table (a pandas DataFrame), in table order."""
    return [c for c in frame.columns if c not in RESERVED_COLUMNS]

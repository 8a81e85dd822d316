"""Where the raw inputs are: the panorama folder and the label export.

``labels.file`` in params.yaml names the export, or a folder holding exactly one of
LABEL_FILE_NAMES (the default, ``data/raw``), so a CSV export can stay ``labels.csv``.
The split stage checks this before any work, so a missing or ambiguous label file is
reported at once instead of after every panorama has been split.
"""
from __future__ import annotations

from pathlib import Path
from pano360.errors import Pano360Error

DEFAULT_LABELS = "data/raw"
LABEL_FILE_NAMES = ("labels.ndjson", "labels.json", "labels.csv")


class RawDataError(Pano360Error, ValueError):
    pass


def find_label_file(path: str | Path = DEFAULT_LABELS) -> Path:
    """The label export that ``labels.file`` (a file or a folder) points to."""
    path = Path(path)
    if path.is_file():
        return path
    if not path.exists():
        raise RawDataError(f"labels.file {str(path)!r} does not exist; put your LabelBox export (or CSV) "
                           f"there, or set labels.file in params.yaml to its path")
    found = [path / name for name in LABEL_FILE_NAMES if (path / name).is_file()]
    if not found:
        raise RawDataError(f"no label file in {path}/: expected one of {', '.join(LABEL_FILE_NAMES)} "
                           f"(a LabelBox export, NDJSON or JSON, or a CSV 'image,labels'); put it there "
                           f"or set labels.file in params.yaml to its path")
    if len(found) > 1:
        raise RawDataError(f"{len(found)} label files in {path}/: {', '.join(p.name for p in found)}; "
                           f"keep one, or set labels.file in params.yaml to the one to read")
    return found[0]

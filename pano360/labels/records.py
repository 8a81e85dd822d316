"""The label reader's shared types and helpers: the records an export is parsed into
(rows, labels, questions), the table it ends as, its errors, and how a file's format is told."""
from __future__ import annotations

import contextlib
import csv
import io
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import Any, Iterable, Iterator, Literal, Optional
from urllib.parse import unquote, urlsplit

import pandas as pd
from pydantic import field_validator


from pano360.data.naming import RESERVED_COLUMNS
from pano360.errors import Pano360Error
from pano360.params import Section

FORMATS = ("labelbox_v2", "labelbox_v1", "csv")


LABEL_CHOICES = ("latest", "first_created", "selected")


SOURCES = ("classifications", "objects", "both")


MATCH_FIELDS = ("name", "value")


DROP_REASONS = ("not_image", "not_in_project", "unlabelled", "status_not_allowed", "skipped",
                "duplicate", "missing_image")


YES_ANSWERS = frozenset({"yes", "true"})


SHOWN = 10  # names listed in one message before "and N more"


class LabelError(Pano360Error, ValueError):
    """A label file that cannot be read as asked; the message names the file, the place and the fix."""


@dataclass
class LabelTable:
    frame: pd.DataFrame
    classes: list[str]
    report: dict
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Question:
    """A global radio or checklist question of one label, with its ticked options."""
    name: str | None
    value: str | None
    kind: str  # "radio" | "checklist" | "text" (free text: never a class)
    answers: tuple[tuple[str | None, str | None], ...]  # (name, value) of each ticked option
    schema_id: str | None = None                       # the ontology node (LabelBox feature_schema_id)
    answer_ids: tuple[str | None, ...] = ()            # the ticked options' schema ids


@dataclass
class Label:
    where: str
    id: str
    created: datetime | None
    updated: datetime | None
    skipped: bool | None  # None: the export does not say
    questions: list[Question]
    objects: list[tuple[str | None, str | None]]  # (name, value) of each object


@dataclass
class Row:
    """One data row (one half image) with its labels in the chosen project."""
    where: str
    image: str
    labels: list[Label]
    not_image: bool = False
    in_project: bool = True
    status: str | None = None
    selected_label_id: str | None = None


# ---------------------------------------------------------------- small helpers


def listing(items: Iterable[str]) -> str:
    items = list(items)
    shown = ", ".join(items[:SHOWN])
    return shown + (f" and {len(items) - SHOWN} more" if len(items) > SHOWN else "")


@contextlib.contextmanager
def at_record(path, where: str) -> Iterator[None]:
    """Report a record of unexpected shape as a LabelError naming it, not as a bare KeyError."""
    try:
        yield
    except (AttributeError, KeyError, TypeError) as exc:
        raise LabelError(f"{path}: {where}: unexpected structure ({type(exc).__name__}: {exc}); "
                         f"pass the file exactly as LabelBox exported it") from exc


def url_basename(url: str | None) -> str:
    return PurePosixPath(unquote(urlsplit(url).path)).name if url else ""


def key_basename(key: str | None) -> str:
    return PurePosixPath(key).name if key else ""


def timestamp(value: Any, where: str, path) -> datetime | None:
    if value in (None, ""):
        return None
    text = str(value)
    try:
        # Python 3.10's fromisoformat does not accept the "Z" that v1 exports use
        stamp = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    except ValueError as exc:
        raise LabelError(f"{path}: {where}: timestamp {text!r} is not ISO 8601; "
                         f"pass the file exactly as LabelBox exported it") from exc
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=timezone.utc)


def norm_status(status: str) -> str:
    return re.sub(r"[\s_]+", "", status).casefold()


def label_order(label: Label) -> tuple:
    return (label.created, label.updated or label.created, label.id)


def class_name(pair: tuple[str | None, str | None], match_on: str) -> str | None:
    name, value = pair
    first, second = (name, value) if match_on == "name" else (value, name)
    return first or second or None


# ---------------------------------------------------------------- reading and detecting


def read_text(path) -> str:
    try:
        return Path(path).read_text(encoding="utf-8-sig")  # -sig: spreadsheet CSVs start with a BOM
    except UnicodeDecodeError as exc:
        raise LabelError(f"{path}: not UTF-8 text (byte {exc.start}); save the file as UTF-8") from exc


def json_records(text: str, path) -> list[tuple[str, Any]]:
    """``(where, object)`` for each element of a JSON array or each non-blank NDJSON line."""
    if text.lstrip().startswith("["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise LabelError(f"{path}: line {exc.lineno}: not valid JSON ({exc.msg}); "
                             f"export the labels again") from exc
        if not isinstance(data, list):
            raise LabelError(f"{path}: expected a JSON array; export the labels again")
        return [(f"element [{i}]", obj) for i, obj in enumerate(data)]
    records = []
    # split on "\n" only: str.splitlines would also break at U+2028 inside JSON strings
    for number, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            records.append((f"line {number}", json.loads(line)))
        except json.JSONDecodeError as exc:
            raise LabelError(f"{path}: line {number}: not valid JSON ({exc.msg} at column {exc.colno}); "
                             f"repair or delete that line, or export the labels again") from exc
    return records


def csv_columns(header: list[str]) -> tuple[int, int] | None:
    names = [name.strip().casefold() for name in header]
    if "image" in names and "labels" in names:
        return names.index("image"), names.index("labels")
    return None


def sniff(text: str, path) -> tuple[str, list[tuple[str, Any]] | None]:
    """The file's format, and its JSON records when it is JSON (so they are parsed once)."""
    head = text.lstrip()
    if not head:
        raise LabelError(f"{path}: the file is empty; export the labels again")
    if head[0] in "[{":
        records = json_records(text, path)
        if not records:
            raise LabelError(f"{path}: the JSON holds no data rows; export the labels again")
        first = records[0][1]
        if isinstance(first, dict) and "data_row" in first:
            return "labelbox_v2", records
        if head[0] == "[" and isinstance(first, dict) and ("DataRow ID" in first or "Label" in first):
            return "labelbox_v1", records
        raise LabelError(f"{path}: {records[0][0]}: JSON, but neither a LabelBox v2 data row (no "
                         f"'data_row') nor a v1 label (no 'DataRow ID'); export with LabelBox "
                         f"Export v2 (NDJSON) or write a CSV with header 'image,labels'")
    if csv_columns(next(csv.reader(io.StringIO(head)), [])) is not None:
        return "csv", None
    raise LabelError(f"{path}: neither a LabelBox export (JSON/NDJSON) nor a CSV with header "
                     f"'image,labels'; export with LabelBox Export v2 or fix the CSV header")


def detect_format(path) -> str:
    """``"labelbox_v2"``, ``"labelbox_v1"`` or ``"csv"``; LabelError naming the file if none fits."""
    return sniff(read_text(path), path)[0]


class LabelsParams(Section):
    """params.yaml ``labels``: where the label export is and how to read it (module docstring)."""
    # A label export file, or a folder holding exactly one of LABEL_FILE_NAMES.
    file: str = "data/raw"
    format: Literal["auto", "labelbox_v2", "labelbox_v1", "csv"] = "auto"
    # None: discover from the export (sorted); or the class columns in a fixed order.
    classes: Optional[list[str]] = None
    unknown_classes: Literal["error", "ignore"] = "error"
    questions: Optional[list[str]] = None
    source: Literal["classifications", "objects", "both"] = "classifications"
    match_on: Literal["name", "value"] = "name"
    label_choice: Literal["latest", "first_created", "selected"] = "latest"
    statuses: Optional[list[str]] = None
    project_id: Optional[str] = None
    missing_image: Literal["error", "warn"] = "error"
    duplicates: Literal["error", "latest"] = "error"
    radio_per_class: bool = False

    @field_validator("classes")
    @classmethod
    def _classes(cls, classes):
        if classes is None:
            return classes
        if not classes or not all(isinstance(c, str) and c for c in classes):
            raise ValueError("must be a non-empty list of class names")
        if len(set(classes)) != len(classes):
            raise ValueError(f"lists a class twice: {classes}")
        if set(classes) & set(RESERVED_COLUMNS):
            raise ValueError(f"must not use the names {list(RESERVED_COLUMNS)}")
        return classes


def reads_question(q, questions: set[str] | None) -> bool:
    """A radio or checklist question that ``labels.questions`` (None: every one) selects."""
    return q.kind != "text" and (questions is None or q.name in questions or q.value in questions)

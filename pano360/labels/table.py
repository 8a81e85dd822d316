"""Read a label export into one table of half images × classes.

Three inputs are understood (LabelBox's shapes as its export documentation and the LabelBox
Python SDK's export tests show them):

* LabelBox Export v2 ("labelbox_v2"): NDJSON with one data row per line. The same row objects
  saved as one JSON array (``json.dump(export.result)``) are read too.
* LabelBox Export v1 ("labelbox_v1", legacy): one JSON array with one element per label.
* A hand-written CSV ("csv") with the header ``image,labels`` and ``;``-separated class names
  in ``labels`` (an empty cell is a half with no class). Other columns are ignored.

Every data row is one half image, named by its file name: v2 ``external_id``, else the base
name of ``global_key``, else the base name of ``row_data`` without its query string; v1
``External ID``, else the base name of ``Global Key`` (v1 ``Labeled Data`` is never used: for
uploaded files LabelBox prefixes the name with an id).

Choices made where LabelBox leaves room:

* Classes are the ticked options of the global checklist and radio questions (all of them, or
  those named in ``questions``); free-text answers and questions nested under an answer are
  never classes. v1 exports flatten nested questions into the top-level list, so set
  ``questions`` for v1 ontologies that have nested questions.
* An answer's class name is its ``name`` (v1 ``title``) or its ``value``, as ``match_on`` says;
  when that field is empty the other one is used.
* A label with nothing ticked is a valid all-zero row. A label whose export carries no skipped
  flag counts as such a row, with a warning, because a skip cannot be told from it.
* Of several labels on one data row, skipped labels are set aside and ``label_choice`` picks
  among the others: ``latest`` / ``first_created`` by ``created_at``, then ``updated_at``,
  then label id; ``selected`` takes ``project_details.selected_label_id`` (a row with a single
  label needs no selection; a selected label that was skipped drops the row as skipped).
* The same image in several data rows (a file uploaded twice) is listed in the report and
  warned about; if more than one of those rows has a usable label it is an error unless
  ``duplicates="latest"``, which keeps the row whose chosen label is latest.
* The CSV's ``labels`` column behaves as one checklist question named "labels".
"""
from __future__ import annotations

import contextlib
import csv
import difflib
import io
import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import Any, Iterable, Iterator, Literal, Optional
from urllib.parse import unquote, urlsplit

import numpy as np
import pandas as pd

from pydantic import field_validator

from pano360.data.naming import DEFAULT_PATTERN, RESERVED_COLUMNS, NamingError, half_name, parse_half_name
from pano360.params import Section, validate_section
from pano360.errors import Pano360Error

FORMATS = ("labelbox_v2", "labelbox_v1", "csv")
LABEL_CHOICES = ("latest", "first_created", "selected")
SOURCES = ("classifications", "objects", "both")
MATCH_FIELDS = ("name", "value")
DROP_REASONS = ("not_image", "not_in_project", "unlabelled", "status_not_allowed", "skipped",
                "duplicate", "missing_image")
YES_ANSWERS = frozenset({"yes", "true"})
_SHOWN = 10  # names listed in one message before "and N more"


class LabelError(Pano360Error, ValueError):
    """A label file that cannot be read as asked; the message names the file, the place and the fix."""


@dataclass
class LabelTable:
    frame: pd.DataFrame
    classes: list[str]
    report: dict
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Question:
    """A global radio or checklist question of one label, with its ticked options."""
    name: str | None
    value: str | None
    kind: str  # "radio" | "checklist" | "text" (free text: never a class)
    answers: tuple[tuple[str | None, str | None], ...]  # (name, value) of each ticked option
    schema_id: str | None = None                       # the ontology node (LabelBox feature_schema_id)
    answer_ids: tuple[str | None, ...] = ()            # the ticked options' schema ids


@dataclass
class _Label:
    where: str
    id: str
    created: datetime | None
    updated: datetime | None
    skipped: bool | None  # None: the export does not say
    questions: list[_Question]
    objects: list[tuple[str | None, str | None]]  # (name, value) of each object


@dataclass
class _Row:
    """One data row (one half image) with its labels in the chosen project."""
    where: str
    image: str
    labels: list[_Label]
    not_image: bool = False
    in_project: bool = True
    status: str | None = None
    selected_label_id: str | None = None


# ---------------------------------------------------------------- small helpers

def _listing(items: Iterable[str]) -> str:
    items = list(items)
    shown = ", ".join(items[:_SHOWN])
    return shown + (f" and {len(items) - _SHOWN} more" if len(items) > _SHOWN else "")


@contextlib.contextmanager
def _at(path, where: str) -> Iterator[None]:
    """Report a record of unexpected shape as a LabelError naming it, not as a bare KeyError."""
    try:
        yield
    except (AttributeError, KeyError, TypeError) as exc:
        raise LabelError(f"{path}: {where}: unexpected structure ({type(exc).__name__}: {exc}); "
                         f"pass the file exactly as LabelBox exported it") from exc


def _url_basename(url: str | None) -> str:
    return PurePosixPath(unquote(urlsplit(url).path)).name if url else ""


def _key_basename(key: str | None) -> str:
    return PurePosixPath(key).name if key else ""


def _timestamp(value: Any, where: str, path) -> datetime | None:
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


def _norm_status(status: str) -> str:
    return re.sub(r"[\s_]+", "", status).casefold()


def _order(label: _Label) -> tuple:
    return (label.created, label.updated or label.created, label.id)


def _class_name(pair: tuple[str | None, str | None], match_on: str) -> str | None:
    name, value = pair
    first, second = (name, value) if match_on == "name" else (value, name)
    return first or second or None


# ---------------------------------------------------------------- reading and detecting

def _read_text(path) -> str:
    try:
        return Path(path).read_text(encoding="utf-8-sig")  # -sig: spreadsheet CSVs start with a BOM
    except UnicodeDecodeError as exc:
        raise LabelError(f"{path}: not UTF-8 text (byte {exc.start}); save the file as UTF-8") from exc


def _json_records(text: str, path) -> list[tuple[str, Any]]:
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


def _csv_columns(header: list[str]) -> tuple[int, int] | None:
    names = [name.strip().casefold() for name in header]
    if "image" in names and "labels" in names:
        return names.index("image"), names.index("labels")
    return None


def _sniff(text: str, path) -> tuple[str, list[tuple[str, Any]] | None]:
    """The file's format, and its JSON records when it is JSON (so they are parsed once)."""
    head = text.lstrip()
    if not head:
        raise LabelError(f"{path}: the file is empty; export the labels again")
    if head[0] in "[{":
        records = _json_records(text, path)
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
    if _csv_columns(next(csv.reader(io.StringIO(head)), [])) is not None:
        return "csv", None
    raise LabelError(f"{path}: neither a LabelBox export (JSON/NDJSON) nor a CSV with header "
                     f"'image,labels'; export with LabelBox Export v2 or fix the CSV header")


def detect_format(path) -> str:
    """``"labelbox_v2"``, ``"labelbox_v1"`` or ``"csv"``; LabelError naming the file if none fits."""
    return _sniff(_read_text(path), path)[0]


# ---------------------------------------------------------------- LabelBox v2

def _v2_label(where: str, raw: dict, path) -> _Label:
    details = raw.get("label_details") or {}
    annotations = raw.get("annotations") or {}
    questions = []
    for c in annotations.get("classifications") or []:
        if "checklist_answers" in c:
            kind, answers = "checklist", c["checklist_answers"] or []
        elif "radio_answer" in c:
            kind, answers = "radio", [c["radio_answer"]]
        else:  # free text: never a class, but recorded to describe the export in errors
            questions.append(_Question(c.get("name"), c.get("value"), "text", ()))
            continue
        # only the ticked options themselves; their nested "classifications" are sub-questions
        pairs = tuple((a.get("name"), a.get("value")) for a in answers)
        questions.append(_Question(c.get("name"), c.get("value"), kind, pairs, c.get("feature_schema_id"),
                                   tuple(a.get("feature_schema_id") for a in answers)))
    return _Label(
        where=where, id=str(raw.get("id") or ""),
        created=_timestamp(details.get("created_at"), where, path),
        updated=_timestamp(details.get("updated_at"), where, path),
        skipped=(raw.get("performance_details") or {}).get("skipped"),
        questions=questions,
        objects=[(o.get("name"), o.get("value")) for o in annotations.get("objects") or []])


def _v2_image(data_row: dict) -> str | None:
    """A v2 data row's image name: its external id, else its global key, else its URL's file."""
    return (data_row.get("external_id") or _key_basename(data_row.get("global_key"))
            or _url_basename(data_row.get("row_data")))


def _v1_image(element: dict) -> str | None:
    return element.get("External ID") or _key_basename(element.get("Global Key"))


def _v2_row(where: str, obj: dict, project_id: str, path) -> _Row:
    data_row = obj["data_row"]
    image = _v2_image(data_row)
    if not image:
        raise LabelError(f"{path}: {where}: data row {data_row.get('id')!r} has no external_id, "
                         f"global_key or row_data to name its image; set external ids in LabelBox")
    mime = (obj.get("media_attributes") or {}).get("mime_type")
    not_image = mime is not None and not str(mime).startswith("image/")
    project = (obj.get("projects") or {}).get(project_id)
    if project is None:
        return _Row(where, image, [], not_image=not_image, in_project=False)
    raw_labels = project.get("labels") or []
    details = project.get("project_details") or {}
    return _Row(
        where, image, [_v2_label(where, raw, path) for raw in raw_labels],
        not_image=not_image or any(raw.get("label_kind", "Default") != "Default" for raw in raw_labels),
        status=details.get("workflow_status"),
        selected_label_id=details.get("selected_label_id"))


def _v2_rows(records: list[tuple[str, Any]], path, project_id: str | None) -> tuple[list[_Row], str]:
    names: dict[str, str] = {}
    for where, obj in records:
        if not isinstance(obj, dict) or not isinstance(obj.get("data_row"), dict):
            raise LabelError(f"{path}: {where}: not a LabelBox v2 data row (no 'data_row' object); "
                             f"pass the file exactly as LabelBox exported it")
        with _at(path, where):
            for pid, project in (obj.get("projects") or {}).items():
                names.setdefault(pid, (project or {}).get("name") or "")
    known = _listing(f"{pid} ({name})" for pid, name in sorted(names.items()))
    if not names:
        raise LabelError(f"{path}: no data row carries project labels; export from the labelling "
                         f"project (or include its id in a dataset export)")
    if project_id is None:
        if len(names) > 1:
            raise LabelError(f"{path}: the export holds labels of {len(names)} projects: {known}; "
                             f"set labels.project_id to the one to read")
        (project_id,) = names
    elif project_id not in names:
        raise LabelError(f"{path}: project {project_id!r} is not in the export, which holds {known}; "
                         f"fix labels.project_id")
    rows = []
    for where, obj in records:
        with _at(path, where):
            rows.append(_v2_row(where, obj, project_id, path))
    return rows, project_id


# ---------------------------------------------------------------- LabelBox v1

def _v1_label(where: str, element: dict, path) -> tuple[_Label, bool]:
    """The label of one v1 element, and whether it is of a non-image data row."""
    content = element.get("Label") or {}
    skipped = element.get("Skipped")  # absent from some exports: unknown
    if content == "Skip":  # exports from 2018 marked skips this way
        content, skipped = {}, True
    elif not isinstance(content, dict):
        raise LabelError(f"{path}: {where}: 'Label' is {content!r}; expected an object or \"Skip\"")
    media = str(element.get("media_type") or "image").casefold()
    not_image = "frames" in content or not media.startswith("image")
    questions = []
    for c in content.get("classifications") or []:
        answer = c.get("answer")
        if "answers" in c:
            kind, answers = "checklist", c["answers"] or []
        elif isinstance(answer, dict):
            kind, answers = "radio", [answer]
        elif isinstance(answer, list):  # dropdown: several options under the singular key
            kind, answers = "checklist", answer
        else:  # free text
            questions.append(_Question(c.get("title"), c.get("value"), "text", ()))
            continue
        pairs = tuple((a.get("title"), a.get("value")) for a in answers)
        questions.append(_Question(c.get("title"), c.get("value"), kind, pairs, c.get("schemaId"),
                                   tuple(a.get("schemaId") for a in answers)))
    label = _Label(
        where=where, id=str(element.get("ID") or ""),
        created=_timestamp(element.get("Created At"), where, path),
        updated=_timestamp(element.get("Updated At"), where, path),
        skipped=skipped, questions=questions,
        objects=[(o.get("title"), o.get("value")) for o in content.get("objects") or []])
    return label, not_image


def _v1_rows(records: list[tuple[str, Any]], path) -> list[_Row]:
    groups: dict[str, list[tuple[str, dict]]] = {}
    for where, element in records:
        if not isinstance(element, dict) or "DataRow ID" not in element:
            raise LabelError(f"{path}: {where}: not a LabelBox v1 label (no 'DataRow ID'); "
                             f"pass the file exactly as LabelBox exported it")
        groups.setdefault(element["DataRow ID"], []).append((where, element))
    rows = []
    for data_row_id, members in groups.items():
        where, first = members[0]
        image = _v1_image(first)
        if not image:
            raise LabelError(
                f"{path}: {where}: data row {data_row_id!r} has neither 'External ID' nor 'Global Key', "
                f"and the 'Labeled Data' URL cannot name it (LabelBox prefixes uploaded file names "
                f"with an id); set each data row's external id to the half's file name, or use "
                f"Export v2 with global keys")
        labels, flags = [], []
        for member_where, element in members:
            with _at(path, member_where):
                label, not_image = _v1_label(member_where, element, path)
            labels.append(label)
            flags.append(not_image)
        rows.append(_Row(", ".join(w for w, _ in members), image, labels, not_image=any(flags)))
    return rows


# ---------------------------------------------------------------- CSV

def _csv_rows(text: str, path) -> list[_Row]:
    reader = csv.reader(io.StringIO(text))
    columns = _csv_columns(next(reader, []))
    if columns is None:
        raise LabelError(f"{path}: line 1: a label CSV needs the header 'image,labels'; fix the header")
    image_col, labels_col = columns
    rows = []
    for record in reader:
        if not any(cell.strip() for cell in record):
            continue
        where = f"line {reader.line_num}"
        image = record[image_col].strip() if len(record) > image_col else ""
        if not image:
            raise LabelError(f"{path}: {where}: empty image name; give each line the half's file name")
        cell = record[labels_col] if len(record) > labels_col else ""
        names = dict.fromkeys(n.strip() for n in cell.split(";"))  # ordered, de-duplicated
        answers = tuple((n, n) for n in names if n)
        label = _Label(where=where, id="", created=None, updated=None, skipped=False,
                       questions=[_Question("labels", "labels", "checklist", answers)], objects=[])
        rows.append(_Row(where, image, [label]))
    return rows


# ---------------------------------------------------------------- choosing and reading labels

def _choose(row: _Row, rule: str, allowed: set[str] | None, path) -> tuple[str | None, _Label | None]:
    """``(drop reason, None)`` or ``(None, the label to use)`` for one data row."""
    if row.not_image:
        return "not_image", None
    if not row.in_project:
        return "not_in_project", None
    if not row.labels:
        return "unlabelled", None
    if allowed is not None:
        if row.status is None:
            raise LabelError(f"{path}: {row.where}: no workflow_status, so labels.statuses cannot be "
                             f"applied; export with project_details or remove labels.statuses")
        if _norm_status(row.status) not in allowed:
            return "status_not_allowed", None
    usable = [label for label in row.labels if not label.skipped]
    if rule == "selected" and row.selected_label_id is not None:
        selected = [label for label in row.labels if label.id == row.selected_label_id]
        if not selected:
            raise LabelError(f"{path}: {row.where}: selected_label_id {row.selected_label_id!r} is "
                             f"none of the row's labels; export the labels again")
        return ("skipped", None) if selected[0].skipped else (None, selected[0])
    if not usable:
        return "skipped", None
    if len(usable) == 1:
        return None, usable[0]
    if rule == "selected":
        raise LabelError(f"{path}: {row.where}: {len(usable)} labels but no "
                         f"project_details.selected_label_id; export with project_details or set "
                         f"labels.label_choice: latest")
    if any(label.created is None for label in usable):
        raise LabelError(f"{path}: {row.where}: {len(usable)} labels but not all have a created_at, "
                         f"so the {rule} one is unknown; export with label_details")
    return None, (max if rule == "latest" else min)(usable, key=_order)


def _read_classes(label: _Label, *, source: str, questions: set[str] | None, match_on: str,
                  radio_per_class: bool) -> tuple[set[str], set[str], set[str]]:
    """``(positive classes, every class the label mentions, names of the questions read)``."""
    positive, mentioned, read = set(), set(), set()
    if source != "objects":
        for q in label.questions:
            if q.kind == "text" or (questions is not None and q.name not in questions
                                    and q.value not in questions):
                continue
            read |= {q.name or q.value} - {None}
            if radio_per_class and q.kind == "radio":
                cls = _class_name((q.name, q.value), match_on)
                if cls is None:
                    continue
                mentioned.add(cls)
                if any(str(x).casefold() in YES_ANSWERS for pair in q.answers for x in pair if x):
                    positive.add(cls)
            else:
                hits = {_class_name(pair, match_on) for pair in q.answers} - {None}
                positive |= hits
                mentioned |= hits
    if source != "classifications":
        hits = {_class_name(pair, match_on) for pair in label.objects} - {None}
        positive |= hits
        mentioned |= hits
    return positive, mentioned, read


def _answer_schema(labels: Iterable[_Label], classes: list[str], *, source: str, questions: set[str] | None,
                   match_on: str, radio_per_class: bool) -> dict[str, dict]:
    """Where each class comes from in the export: question and answer names, values and
    LabelBox schema ids, so predictions can be written back as pre-labels LabelBox accepts."""
    found: dict[str, dict] = {}
    for label in labels:
        if source != "objects":
            for q in label.questions:
                if q.kind == "text" or (questions is not None and q.name not in questions
                                        and q.value not in questions):
                    continue
                question = {"question": q.name, "question_value": q.value, "question_schema_id": q.schema_id,
                            "kind": q.kind}
                if radio_per_class and q.kind == "radio":
                    cls = _class_name((q.name, q.value), match_on)
                    entry = found.setdefault(cls, {**question, "kind": "radio_per_class", "answers": {}})
                    for (name, value), schema_id in zip(q.answers, q.answer_ids or (None,) * len(q.answers)):
                        key = "yes" if str(name or value).casefold() in YES_ANSWERS else "no"
                        entry["answers"].setdefault(key, {"name": name, "value": value, "schema_id": schema_id})
                    continue
                for pair, schema_id in zip(q.answers, q.answer_ids or (None,) * len(q.answers)):
                    cls = _class_name(pair, match_on)
                    if cls is not None and cls not in found:
                        found[cls] = {**question, "name": pair[0], "value": pair[1], "schema_id": schema_id}
        if source != "classifications":
            for name, value in label.objects:
                cls = _class_name((name, value), match_on)
                if cls is not None and cls not in found:
                    found[cls] = {"kind": "object", "name": name, "value": value}
    return {cls: found[cls] for cls in classes if cls in found}


def _one_per_image(chosen: dict[str, list[tuple[_Row, _Label]]], duplicates: str, path,
                   dropped: dict[str, list[str]]) -> dict[str, _Label]:
    """The label of each image; an image with usable labels in several data rows is an error,
    or (``duplicates="latest"``) keeps the latest of them."""
    def places(group):
        return "; ".join(row.where for row, _ in group)

    clashes = {image: group for image, group in sorted(chosen.items()) if len(group) > 1}
    if clashes and duplicates == "error":
        raise LabelError(f"{path}: image(s) with usable labels in several data rows: "
                         + _listing(f"{image} ({places(group)})" for image, group in clashes.items())
                         + "; delete the extra data rows in LabelBox or set labels.duplicates: latest")
    for image, group in clashes.items():
        if any(label.created is None for _, label in group):
            raise LabelError(f"{path}: {image} has usable labels in several data rows ({places(group)}) "
                             f"and they lack created_at, so the latest is unknown; delete the extra "
                             f"data rows in LabelBox")
        dropped["duplicate"].extend([image] * (len(group) - 1))
    return {image: max((label for _, label in group), key=_order) for image, group in chosen.items()}


def _panoramas(images: Iterable[str], name_pattern: str, path) -> dict[str, str]:
    panorama, unmatched = {}, []
    for image in images:
        try:
            panorama[image] = parse_half_name(image, name_pattern)[0]
        except NamingError:
            unmatched.append(image)
    if unmatched:
        raise LabelError(f"{path}: {len(unmatched)} labelled image name(s) do not match the half-image "
                         f"name pattern {name_pattern!r}: {_listing(sorted(unmatched))}; set "
                         f"split.name_pattern in params.yaml to the names the halves were uploaded with")
    return panorama


def _match_halves(kept: dict[str, _Label], halves: list[str], missing_image: str, path,
                  dropped: dict[str, list[str]], warnings: list[str]) -> tuple[list[str], list[str]]:
    """Drop labels of images not on disk (or fail); ``(missing images, halves left unlabelled)``."""
    on_disk = set(halves)
    missing = sorted(set(kept) - on_disk)
    if missing and missing_image == "error":
        raise LabelError(f"{path}: {len(missing)} labelled image(s) are not among the split halves: "
                         f"{_listing(missing)}; check split.name_pattern and the panorama folder, "
                         f"or set labels.missing_image: warn to drop these labels")
    if missing:
        warnings.append(f"{len(missing)} label(s) name images that are not among the split halves "
                        f"and were dropped: {_listing(missing)}")
        for image in missing:
            del kept[image]
        dropped["missing_image"] = missing
    unlabelled = sorted(on_disk - set(kept))
    if unlabelled:
        warnings.append(f"{len(unlabelled)} half image(s) have no usable label and are left out: "
                        f"{_listing(unlabelled)}")
    return missing, unlabelled


def _unknown_answers(kept: dict[str, _Label], positive: dict[str, set[str]], classes: list[str],
                     unknown_classes: str, path) -> dict[str, int]:
    """``{class: number of halves}`` for answers outside ``classes``; an error unless ignored."""
    places = defaultdict(list)
    for image in sorted(kept):
        for cls in sorted(positive[image] - set(classes)):
            places[cls].append(f"{kept[image].where} ({image})")
    if places and unknown_classes == "error":
        raise LabelError(f"{path}: answer(s) not in labels.classes: "
                         + "; ".join(f"{cls!r} in {_listing(where)}" for cls, where in sorted(places.items()))
                         + "; add them to labels.classes or set labels.unknown_classes: ignore")
    return {cls: len(where) for cls, where in sorted(places.items())}


YES_NO_LIKE = frozenset({"yes", "no", "true", "false", "y", "n"})


def _export_contents(labels: Iterable[_Label], match_on: str) -> dict[str, list[str]]:
    """What the kept labels hold, by kind: question names and object (tool) names."""
    found: dict[str, set[str]] = {"checklist": set(), "radio": set(), "text": set(), "objects": set()}
    for label in labels:
        for q in label.questions:
            found[q.kind].add(q.name or q.value or "?")
        found["objects"] |= {_class_name(pair, match_on) or "?" for pair in label.objects}
    return {kind: sorted(names) for kind, names in found.items()}


def _describe(contents: dict[str, list[str]]) -> str:
    parts = [f"{kind} question(s) {_listing(repr(n) for n in names)}" if kind != "objects"
             else f"objects named {_listing(repr(n) for n in names)}"
             for kind, names in contents.items() if names]
    return "; ".join(parts) if parts else "no classifications and no objects"


def _check_degenerate(frame: pd.DataFrame, classes: list[str], contents: dict, opts: "LabelsParams",
                      explicit_classes: bool, path) -> list[str]:
    """Errors for tables that cannot train a classifier, warnings for suspicious classes."""
    found = f"the kept labels hold {_describe(contents)}"
    if not classes:
        hints = []
        if contents["objects"] and opts.source == "classifications":
            hints.append("set labels.source: objects (or both) to use the objects' names as classes")
        if (contents["checklist"] or contents["radio"]) and opts.source == "objects":
            hints.append("set labels.source: classifications (or both) to read the questions")
        if opts.questions is not None:
            hints.append(f"check labels.questions ({opts.questions})")
        if contents["text"] and not (contents["checklist"] or contents["radio"]):
            hints.append("free-text answers are never classes; use a checklist question")
        raise LabelError(f"{path}: no classes found: {found}. "
                         + ("; ".join(hints) if hints else "Label at least one class") + ".")
    if not explicit_classes and not opts.radio_per_class and \
            {c.casefold() for c in classes} <= YES_NO_LIKE:
        raise LabelError(
            f"{path}: the only classes are {classes}: {found}. These look like one yes/no radio "
            f"question per class; set labels.radio_per_class: true to make each radio question a "
            f"class (present when answered yes).")
    values = frame[classes].to_numpy()
    if len(frame) >= 10 and (values == values[0]).all():
        positives = [c for c, v in zip(classes, values[0]) if v]
        raise LabelError(
            f"{path}: all {len(frame)} labelled halves have the same classes ({positives or 'none'}), "
            f"so there is nothing to learn: {found}. Check labels.source, labels.questions and "
            f"labels.radio_per_class.")
    warnings = []
    counts = dict(zip(classes, values.sum(axis=0).tolist()))
    largest = max(counts.values())
    for cls, n in counts.items():
        close = [c for c in difflib.get_close_matches(cls, classes, n=3, cutoff=0.8)
                 if c != cls and counts[c] >= 10 * max(n, 1)]
        if close:
            warnings.append(f"class {cls!r} ({n} halves) looks like a misspelling of {close[0]!r} "
                            f"({counts[close[0]]} halves); fix the answer in LabelBox, or list "
                            f"labels.classes so that unknown answers are reported")
        elif n <= 2 and largest >= 100:
            warnings.append(f"class {cls!r} is ticked on only {n} half(s) while another class has "
                            f"{largest}; too few to learn or evaluate. If it is a stray answer, "
                            f"list labels.classes without it (and labels.unknown_classes: ignore)")
    return warnings


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


def _check_format_options(fmt: str, path, given: dict[str, bool]) -> None:
    """Options that only some formats can honour must not be set silently in vain."""
    v2_only = ("statuses", "project_id", "label_choice: selected")
    bad = [name for name, is_set in given.items()
           if is_set and (fmt == "csv" or (fmt == "labelbox_v1" and name in v2_only))]
    if bad:
        raise LabelError(f"{path}: a {fmt} file carries nothing for "
                         f"{', '.join('labels.' + b for b in bad)}; remove {'it' if len(bad) == 1 else 'them'}")


def _rows(fmt: str, text: str, records, path, project_id) -> tuple[list[_Row], str | None]:
    """The data rows of a file in format ``fmt`` (and, for v2, the project read)."""
    if fmt == "labelbox_v2":
        return _v2_rows(records, path, project_id)
    if fmt == "labelbox_v1":
        return _v1_rows(records, path), project_id
    return _csv_rows(text, path), project_id


def load_labels(path, *, halves: list[str] | None = None, name_pattern: str = DEFAULT_PATTERN,
                **options) -> LabelTable:
    """Read the label file at ``path`` into a :class:`LabelTable` (see the module docstring).

    ``options`` are :class:`LabelsParams` fields (params.yaml ``labels``; ``file`` is not used
    here): ``format``: auto | labelbox_v2 | labelbox_v1 | csv. ``classes``: the class columns,
    in order; None discovers them from the data (sorted). ``unknown_classes``: error | ignore,
    for answers outside ``classes``. ``questions``: names or values of the questions to read
    (None: every global radio/checklist). ``source``: classifications | objects | both.
    ``match_on``: name | value, the answer field that is the class name. ``label_choice``:
    latest | first_created | selected. ``statuses``: allowed workflow statuses (case and "_"
    ignored); None allows all. ``project_id``: the project to read from a multi-project v2
    export. ``missing_image``: error | warn for labels naming an image not in ``halves`` (the
    names of the half images on disk; None skips the check). ``duplicates``: error | latest,
    for an image with usable labels in several data rows. ``radio_per_class``: each radio
    question is one class (named by the question), present when the answer is yes/true.

    Options a format cannot honour (``statuses`` on a v1 export, ``questions`` on a CSV, ...)
    raise a LabelError rather than being ignored; malformed option values raise ParamsError.
    A degenerate result (no classes, only yes/no classes, every row the same) is a LabelError
    that describes the export's questions and the option to set; a suspicious one (a class
    seen once or twice among frequent ones, a name close to a more frequent class) a warning.

    ``report`` holds: ``file``, ``format``, ``project_id`` (v2), ``rows_in_file`` (data rows:
    v2 lines, distinct v1 ``DataRow ID``s, CSV lines), ``labels_in_file`` (labels in the read
    project), ``rows_kept``, ``dropped`` / ``dropped_images`` (per reason in DROP_REASONS, so
    that ``rows_in_file == rows_kept + sum(dropped.values())``), ``duplicate_images``,
    ``missing_images``, ``unlabelled_halves``, ``ignored_answers`` (class → halves),
    ``questions_read``, ``export_contents`` (question names by kind, object names),
    ``classes``, ``class_counts`` (class → positive halves), ``warnings``.
    """
    opts = validate_section("labels", LabelsParams, options)
    fmt, classes, unknown_classes = opts.format, opts.classes, opts.unknown_classes
    questions, source, match_on = opts.questions, opts.source, opts.match_on
    label_choice, statuses, project_id = opts.label_choice, opts.statuses, opts.project_id
    missing_image, duplicates, radio_per_class = opts.missing_image, opts.duplicates, opts.radio_per_class
    half_name("p", "left", ".jpg", name_pattern)  # raises NamingError for a malformed pattern
    text = _read_text(path)
    if fmt == "auto":
        fmt, records = _sniff(text, path)
    else:
        records = None if fmt == "csv" else _json_records(text, path)
    _check_format_options(fmt, path, {
        "statuses": statuses is not None,
        "project_id": project_id is not None,
        "label_choice: selected": label_choice == "selected",
        "questions": questions is not None,
        f"source: {source}": source != "classifications",
        "radio_per_class": radio_per_class,
    })
    rows, project_id = _rows(fmt, text, records, path, project_id)

    warnings: list[str] = []
    dropped: dict[str, list[str]] = {reason: [] for reason in DROP_REASONS}
    allowed = None if statuses is None else {_norm_status(s) for s in statuses}
    chosen: dict[str, list[tuple[_Row, _Label]]] = defaultdict(list)
    for row in rows:
        reason, label = _choose(row, label_choice, allowed, path)
        if reason:
            dropped[reason].append(row.image)
        else:
            chosen[row.image].append((row, label))
    if dropped["not_image"]:
        warnings.append(f"{len(dropped['not_image'])} data row(s) are not images and were ignored: "
                        f"{_listing(sorted(dropped['not_image']))}")
    flagless = sum(label.skipped is None for row in rows if row.in_project and not row.not_image
                   for label in row.labels)
    if flagless:
        warnings.append(f"{flagless} label(s) carry no skipped flag (export without performance_details): "
                        f"a skipped label cannot be told from one with nothing ticked and counts as "
                        f"an all-zero row; export with performance_details to drop skips")
    rows_per_image = defaultdict(int)
    for row in rows:
        rows_per_image[row.image] += 1
    duplicate_images = sorted(image for image, count in rows_per_image.items() if count > 1)
    if duplicate_images:
        warnings.append(f"{len(duplicate_images)} image(s) appear in several data rows (uploaded more "
                        f"than once?): {_listing(duplicate_images)}")

    kept = _one_per_image(chosen, duplicates, path, dropped)
    panorama = _panoramas(kept, name_pattern, path)
    missing_images, unlabelled_halves = ([], []) if halves is None else _match_halves(
        kept, halves, missing_image, path, dropped, warnings)
    if not kept:
        reasons = ", ".join(f"{r}: {len(v)}" for r, v in dropped.items() if v) or "the file has no data rows"
        raise LabelError(f"{path}: no usable label ({reasons}); check the export and the labels options")

    wanted = None if questions is None else set(questions)
    positive: dict[str, set[str]] = {}
    mentioned: set[str] = set()
    questions_read: set[str] = set()
    seen_questions: set[str] = set()
    for image, label in kept.items():
        positive[image], label_mentions, read = _read_classes(
            label, source=source, questions=wanted, match_on=match_on, radio_per_class=radio_per_class)
        mentioned |= label_mentions
        questions_read |= read
        seen_questions |= {x for q in label.questions for x in (q.name, q.value) if x}
    if questions is not None and source != "objects":
        absent = [q for q in questions if q not in seen_questions]
        if absent:
            warnings.append(f"question(s) {absent} are in no kept label as a radio or checklist question; "
                            f"check labels.questions")

    ignored_answers: dict[str, int] = {}
    if classes is None:
        classes = sorted(mentioned)
        taken = [c for c in classes if c in RESERVED_COLUMNS]
        if taken:
            raise LabelError(f"{path}: class name(s) {taken} clash with the table's own columns; "
                             f"rename them in the ontology or list labels.classes explicitly")
    else:
        classes = list(classes)
        ignored_answers = _unknown_answers(kept, positive, classes, unknown_classes, path)
        if ignored_answers:
            warnings.append(f"answers outside labels.classes were ignored: {ignored_answers}")

    images = sorted(kept)
    columns: dict[str, Any] = {"image": images, "panorama": [panorama[i] for i in images]}
    for cls in classes:
        columns[cls] = np.array([cls in positive[i] for i in images], dtype=np.int64)
    frame = pd.DataFrame(columns)
    contents = _export_contents(kept.values(), match_on)
    warnings += _check_degenerate(frame, classes, contents, opts, explicit_classes=opts.classes is not None,
                                  path=path)

    report = {
        "file": str(path),
        "format": fmt,
        "project_id": project_id if fmt == "labelbox_v2" else None,
        "rows_in_file": len(rows),
        "labels_in_file": sum(len(row.labels) for row in rows),
        "rows_kept": len(frame),
        "dropped": {reason: len(names) for reason, names in dropped.items()},
        "dropped_images": {reason: sorted(names) for reason, names in dropped.items()},
        "duplicate_images": duplicate_images,
        "missing_images": missing_images,
        "unlabelled_halves": unlabelled_halves,
        "ignored_answers": ignored_answers,
        "questions_read": sorted(questions_read),
        "export_contents": contents,
        "label_schema": {"format": fmt, "match_on": match_on, "source": source, "radio_per_class": radio_per_class,
                         "classes": _answer_schema(kept.values(), list(classes), source=source, questions=wanted,
                                                   match_on=match_on, radio_per_class=radio_per_class)},
        "classes": list(classes),
        "class_counts": {cls: int(frame[cls].sum()) for cls in classes},
        "warnings": list(warnings),
    }
    return LabelTable(frame=frame, classes=list(classes), report=report, warnings=warnings)


def data_row_ids(path) -> dict[str, str]:
    """``{half image name: LabelBox data row id}`` from an export (v2 NDJSON/JSON or v1 JSON),
    naming images by the rules load_labels uses, so the names match the halves'."""
    text = _read_text(path)
    fmt, records = _sniff(text, path)
    if fmt == "csv":
        raise LabelError(f"{path}: a CSV holds no LabelBox data row ids; give a LabelBox export")
    ids: dict[str, str] = {}
    for where, obj in records:
        with _at(path, where):
            if fmt == "labelbox_v2":
                image, row_id = _v2_image(obj["data_row"]), obj["data_row"].get("id")
            else:
                image, row_id = _v1_image(obj), obj.get("DataRow ID")
        if image and row_id:
            if ids.get(image, row_id) != row_id:
                raise LabelError(f"{path}: {image} is in two data rows ({ids[image]}, {row_id}); remove the "
                                 f"duplicate in LabelBox")
            ids[image] = row_id
    if not ids:
        raise LabelError(f"{path}: no data row with both an id and an image name")
    return ids


def labelled_images(path, project_id: str | None = None) -> set[str]:
    """Images (half names) that already have a usable label in an export or CSV: not skipped,
    not only queued."""
    text = _read_text(path)
    fmt, records = _sniff(text, path)
    rows, _ = _rows(fmt, text, records, path, project_id)
    return {row.image for row in rows
            if row.in_project and not row.not_image and any(not label.skipped for label in row.labels)}

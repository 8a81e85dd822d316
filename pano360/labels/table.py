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

from collections import defaultdict
from typing import Any, Iterable

import numpy as np
import pandas as pd


from pano360.data.naming import DEFAULT_PATTERN, RESERVED_COLUMNS, NamingError, half_name, parse_half_name
from pano360.params import validate_section
from pano360.labels.checks import check_degenerate, export_contents
from pano360.labels.csvfile import csv_rows
from pano360.labels.labelbox import v1_image, v1_rows, v2_image, v2_rows
from pano360.labels.identity import schema_renames
from pano360.labels.records import LabelsParams, DROP_REASONS, Label, LabelError, LabelTable, Row, YES_ANSWERS, at_record, class_name, json_records, reads_question, label_order, listing, norm_status, read_text, sniff

# ---------------------------------------------------------------- choosing and reading labels


def _choose(row: Row, rule: str, allowed: set[str] | None, path) -> tuple[str | None, Label | None]:
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
        if norm_status(row.status) not in allowed:
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
    return None, (max if rule == "latest" else min)(usable, key=label_order)


def _read_classes(label: Label, *, source: str, questions: set[str] | None, match_on: str,
                  radio_per_class: bool) -> tuple[set[str], set[str], set[str]]:
    """``(positive classes, every class the label mentions, names of the questions read)``."""
    positive, mentioned, read = set(), set(), set()
    if source != "objects":
        for q in label.questions:
            if not reads_question(q, questions):
                continue
            read |= {q.name or q.value} - {None}
            if radio_per_class and q.kind == "radio":
                cls = class_name((q.name, q.value), match_on)
                if cls is None:
                    continue
                mentioned.add(cls)
                if any(str(x).casefold() in YES_ANSWERS for pair in q.answers for x in pair if x):
                    positive.add(cls)
            else:
                hits = {class_name(pair, match_on) for pair in q.answers} - {None}
                positive |= hits
                mentioned |= hits
    if source != "classifications":
        hits = {class_name(pair, match_on) for pair in label.objects} - {None}
        positive |= hits
        mentioned |= hits
    return positive, mentioned, read


def _answer_schema(labels: Iterable[Label], classes: list[str], *, source: str, questions: set[str] | None,
                   match_on: str, radio_per_class: bool, renames: dict[str, dict] | None = None) -> dict[str, dict]:
    """Where each class comes from in the export: question and answer names, values and
    LabelBox schema ids, so predictions can be written back as pre-labels LabelBox accepts."""
    found: dict[str, dict] = {}
    column = {name: r["column"] for name, r in (renames or {}).items()}
    for label in labels:
        if source != "objects":
            for q in label.questions:
                if not reads_question(q, questions):
                    continue
                question = {"question": q.name, "question_value": q.value, "question_schema_id": q.schema_id,
                            "kind": q.kind}
                if radio_per_class and q.kind == "radio":
                    cls = class_name((q.name, q.value), match_on)
                    cls = column.get(cls, cls)
                    entry = found.setdefault(cls, {**question, "kind": "radio_per_class", "answers": {}})
                    for (name, value), schema_id in zip(q.answers, q.answer_ids or (None,) * len(q.answers)):
                        key = "yes" if str(name or value).casefold() in YES_ANSWERS else "no"
                        entry["answers"].setdefault(key, {"name": name, "value": value, "schema_id": schema_id})
                    continue
                for pair, schema_id in zip(q.answers, q.answer_ids or (None,) * len(q.answers)):
                    name = class_name(pair, match_on)
                    cls = column.get(name, name)
                    # a renamed option is written back under its name in LabelBox now
                    if cls is not None and (cls not in found or name in column):
                        found[cls] = {**question, "name": pair[0], "value": pair[1], "schema_id": schema_id}
        if source != "classifications":
            for name, value in label.objects:
                cls = class_name((name, value), match_on)
                if cls is not None and cls not in found:
                    found[cls] = {"kind": "object", "name": name, "value": value}
    return {cls: found[cls] for cls in classes if cls in found}


def _one_per_image(chosen: dict[str, list[tuple[Row, Label]]], duplicates: str, path,
                   dropped: dict[str, list[str]]) -> dict[str, Label]:
    """The label of each image; an image with usable labels in several data rows is an error,
    or (``duplicates="latest"``) keeps the latest of them."""
    def places(group):
        return "; ".join(row.where for row, _ in group)

    clashes = {image: group for image, group in sorted(chosen.items()) if len(group) > 1}
    if clashes and duplicates == "error":
        raise LabelError(f"{path}: image(s) with usable labels in several data rows: "
                         + listing(f"{image} ({places(group)})" for image, group in clashes.items())
                         + "; delete the extra data rows in LabelBox or set labels.duplicates: latest")
    for image, group in clashes.items():
        if any(label.created is None for _, label in group):
            raise LabelError(f"{path}: {image} has usable labels in several data rows ({places(group)}) "
                             f"and they lack created_at, so the latest is unknown; delete the extra "
                             f"data rows in LabelBox")
        dropped["duplicate"].extend([image] * (len(group) - 1))
    return {image: max((label for _, label in group), key=label_order) for image, group in chosen.items()}


def _panoramas(images: Iterable[str], name_pattern: str, path) -> dict[str, str]:
    panorama, unmatched = {}, []
    for image in images:
        try:
            panorama[image] = parse_half_name(image, name_pattern)[0]
        except NamingError:
            unmatched.append(image)
    if unmatched:
        raise LabelError(f"{path}: {len(unmatched)} labelled image name(s) do not match the half-image "
                         f"name pattern {name_pattern!r}: {listing(sorted(unmatched))}; set "
                         f"split.name_pattern in params.yaml to the names the halves were uploaded with")
    return panorama


def _match_halves(kept: dict[str, Label], halves: list[str], missing_image: str, path,
                  dropped: dict[str, list[str]], warnings: list[str]) -> tuple[list[str], list[str]]:
    """Drop labels of images not on disk (or fail); ``(missing images, halves left unlabelled)``."""
    on_disk = set(halves)
    missing = sorted(set(kept) - on_disk)
    if missing and missing_image == "error":
        raise LabelError(f"{path}: {len(missing)} labelled image(s) are not among the split halves: "
                         f"{listing(missing)}; check split.name_pattern and the panorama folder, "
                         f"or set labels.missing_image: warn to drop these labels")
    if missing:
        warnings.append(f"{len(missing)} label(s) name images that are not among the split halves "
                        f"and were dropped: {listing(missing)}")
        for image in missing:
            del kept[image]
        dropped["missing_image"] = missing
    unlabelled = sorted(on_disk - set(kept))
    if unlabelled:
        warnings.append(f"{len(unlabelled)} half image(s) have no usable label and are left out: "
                        f"{listing(unlabelled)}")
    return missing, unlabelled


def _unknown_answers(kept: dict[str, Label], positive: dict[str, set[str]], classes: list[str],
                     unknown_classes: str, path) -> dict[str, int]:
    """``{class: number of halves}`` for answers outside ``classes``; an error unless ignored."""
    places = defaultdict(list)
    for image in sorted(kept):
        for cls in sorted(positive[image] - set(classes)):
            places[cls].append(f"{kept[image].where} ({image})")
    if places and unknown_classes == "error":
        raise LabelError(f"{path}: answer(s) not in labels.classes: "
                         + "; ".join(f"{cls!r} in {listing(where)}" for cls, where in sorted(places.items()))
                         + "; add them to labels.classes or set labels.unknown_classes: ignore")
    return {cls: len(where) for cls, where in sorted(places.items())}


def _check_format_options(fmt: str, path, given: dict[str, bool]) -> None:
    """Options that only some formats can honour must not be set silently in vain."""
    v2_only = ("statuses", "project_id", "label_choice: selected")
    bad = [name for name, is_set in given.items()
           if is_set and (fmt == "csv" or (fmt == "labelbox_v1" and name in v2_only))]
    if bad:
        raise LabelError(f"{path}: a {fmt} file carries nothing for "
                         f"{', '.join('labels.' + b for b in bad)}; remove {'it' if len(bad) == 1 else 'them'}")


def export_rows(fmt: str, text: str, records, path, project_id) -> tuple[list[Row], str | None]:
    """The data rows of a file in format ``fmt`` (and, for v2, the project read)."""
    if fmt == "labelbox_v2":
        return v2_rows(records, path, project_id)
    if fmt == "labelbox_v1":
        return v1_rows(records, path), project_id
    return csv_rows(text, path), project_id


def load_labels(path, *, halves: list[str] | None = None, name_pattern: str = DEFAULT_PATTERN,
                known_classes: tuple[list[str], dict[str, str]] | None = None, **options) -> LabelTable:
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
    # Long on purpose: the steps of the module docstring in order, each a few lines or one call;
    # cut further, a dozen intermediate tables would pass between helpers.
    opts = validate_section("labels", LabelsParams, options)
    fmt, classes, unknown_classes = opts.format, opts.classes, opts.unknown_classes
    questions, source, match_on = opts.questions, opts.source, opts.match_on
    label_choice, statuses, project_id = opts.label_choice, opts.statuses, opts.project_id
    missing_image, duplicates, radio_per_class = opts.missing_image, opts.duplicates, opts.radio_per_class
    half_name("p", "left", ".jpg", name_pattern)  # raises NamingError for a malformed pattern
    text = read_text(path)
    if fmt == "auto":
        fmt, records = sniff(text, path)
    else:
        records = None if fmt == "csv" else json_records(text, path)
    _check_format_options(fmt, path, {
        "statuses": statuses is not None,
        "project_id": project_id is not None,
        "label_choice: selected": label_choice == "selected",
        "questions": questions is not None,
        f"source: {source}": source != "classifications",
        "radio_per_class": radio_per_class,
    })
    rows, project_id = export_rows(fmt, text, records, path, project_id)

    warnings: list[str] = []
    dropped: dict[str, list[str]] = {reason: [] for reason in DROP_REASONS}
    allowed = None if statuses is None else {norm_status(s) for s in statuses}
    chosen: dict[str, list[tuple[Row, Label]]] = defaultdict(list)
    for row in rows:
        reason, label = _choose(row, label_choice, allowed, path)
        if reason:
            dropped[reason].append(row.image)
        else:
            chosen[row.image].append((row, label))
    if dropped["not_image"]:
        warnings.append(f"{len(dropped['not_image'])} data row(s) are not images and were ignored: "
                        f"{listing(sorted(dropped['not_image']))}")
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
                        f"than once?): {listing(duplicate_images)}")

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

    how = dict(source=source, questions=wanted, match_on=match_on, radio_per_class=radio_per_class)
    renames = schema_renames(kept.values(), known_classes[1], **how) if known_classes else {}
    if renames:
        column = {name: r["column"] for name, r in renames.items()}
        positive = {image: {column.get(c, c) for c in found} for image, found in positive.items()}
        mentioned = {column.get(c, c) for c in mentioned}
        for name, r in sorted(renames.items()):
            warnings.append(f"LabelBox option {name!r} (schema id {r['schema_id']}) was {r['column']!r} in an earlier "
                            f"round: it stays the class column {r['column']!r}, in its place")
    ignored_answers: dict[str, int] = {}
    if classes is None:
        earlier = [c for c in known_classes[0] if c in mentioned] if known_classes else []
        classes = earlier + sorted(mentioned - set(earlier))
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
    contents = export_contents(kept.values(), match_on)
    warnings += check_degenerate(frame, classes, contents, opts, explicit_classes=opts.classes is not None,
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
                         "classes": _answer_schema(kept.values(), list(classes), renames=renames, **how)},
        "renamed": {name: r for name, r in sorted(renames.items())},
        "classes": list(classes),
        "class_counts": {cls: int(frame[cls].sum()) for cls in classes},
        "warnings": list(warnings),
    }
    return LabelTable(frame=frame, classes=list(classes), report=report, warnings=warnings)


def data_row_ids(path) -> dict[str, str]:
    """``{half image name: LabelBox data row id}`` from an export (v2 NDJSON/JSON or v1 JSON),
    naming images by the rules load_labels uses, so the names match the halves'."""
    text = read_text(path)
    fmt, records = sniff(text, path)
    if fmt == "csv":
        raise LabelError(f"{path}: a CSV holds no LabelBox data row ids; give a LabelBox export")
    ids: dict[str, str] = {}
    for where, obj in records:
        with at_record(path, where):
            if fmt == "labelbox_v2":
                image, row_id = v2_image(obj["data_row"]), obj["data_row"].get("id")
            else:
                image, row_id = v1_image(obj), obj.get("DataRow ID")
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
    text = read_text(path)
    fmt, records = sniff(text, path)
    rows, _ = export_rows(fmt, text, records, path, project_id)
    return {row.image for row in rows
            if row.in_project and not row.not_image and any(not label.skipped for label in row.labels)}

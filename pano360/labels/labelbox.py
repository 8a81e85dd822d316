"""LabelBox exports: Export v2 (NDJSON, or its rows as one JSON array) and the legacy v1
JSON array, parsed into rows of labels (see ``pano360.labels.table`` for the rules)."""
from __future__ import annotations

from typing import Any



from pano360.labels.records import Label, LabelError, Question, Row, at_record, key_basename, listing, timestamp, url_basename

# ---------------------------------------------------------------- LabelBox v2


def _v2_label(where: str, raw: dict, path) -> Label:
    details = raw.get("label_details") or {}
    annotations = raw.get("annotations") or {}
    questions = []
    for c in annotations.get("classifications") or []:
        if "checklist_answers" in c:
            kind, answers = "checklist", c["checklist_answers"] or []
        elif "radio_answer" in c:
            kind, answers = "radio", [c["radio_answer"]]
        else:  # free text: never a class, but recorded to describe the export in errors
            questions.append(Question(c.get("name"), c.get("value"), "text", ()))
            continue
        # only the ticked options themselves; their nested "classifications" are sub-questions
        pairs = tuple((a.get("name"), a.get("value")) for a in answers)
        questions.append(Question(c.get("name"), c.get("value"), kind, pairs, c.get("feature_schema_id"),
                                   tuple(a.get("feature_schema_id") for a in answers)))
    return Label(
        where=where, id=str(raw.get("id") or ""),
        created=timestamp(details.get("created_at"), where, path),
        updated=timestamp(details.get("updated_at"), where, path),
        skipped=(raw.get("performance_details") or {}).get("skipped"),
        questions=questions,
        objects=[(o.get("name"), o.get("value")) for o in annotations.get("objects") or []])


def v2_image(data_row: dict) -> str | None:
    """A v2 data row's image name: its external id, else its global key, else its URL's file."""
    return (data_row.get("external_id") or key_basename(data_row.get("global_key"))
            or url_basename(data_row.get("row_data")))


def v1_image(element: dict) -> str | None:
    return element.get("External ID") or key_basename(element.get("Global Key"))


def _v2_row(where: str, obj: dict, project_id: str, path) -> Row:
    data_row = obj["data_row"]
    image = v2_image(data_row)
    if not image:
        raise LabelError(f"{path}: {where}: data row {data_row.get('id')!r} has no external_id, "
                         f"global_key or row_data to name its image; set external ids in LabelBox")
    mime = (obj.get("media_attributes") or {}).get("mime_type")
    not_image = mime is not None and not str(mime).startswith("image/")
    project = (obj.get("projects") or {}).get(project_id)
    if project is None:
        return Row(where, image, [], not_image=not_image, in_project=False)
    raw_labels = project.get("labels") or []
    details = project.get("project_details") or {}
    return Row(
        where, image, [_v2_label(where, raw, path) for raw in raw_labels],
        not_image=not_image or any(raw.get("label_kind", "Default") != "Default" for raw in raw_labels),
        status=details.get("workflow_status"),
        selected_label_id=details.get("selected_label_id"))


def v2_rows(records: list[tuple[str, Any]], path, project_id: str | None) -> tuple[list[Row], str]:
    names: dict[str, str] = {}
    for where, obj in records:
        if not isinstance(obj, dict) or not isinstance(obj.get("data_row"), dict):
            raise LabelError(f"{path}: {where}: not a LabelBox v2 data row (no 'data_row' object); "
                             f"pass the file exactly as LabelBox exported it")
        with at_record(path, where):
            for pid, project in (obj.get("projects") or {}).items():
                names.setdefault(pid, (project or {}).get("name") or "")
    known = listing(f"{pid} ({name})" for pid, name in sorted(names.items()))
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
        with at_record(path, where):
            rows.append(_v2_row(where, obj, project_id, path))
    return rows, project_id


# ---------------------------------------------------------------- LabelBox v1


def _v1_label(where: str, element: dict, path) -> tuple[Label, bool]:
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
            questions.append(Question(c.get("title"), c.get("value"), "text", ()))
            continue
        pairs = tuple((a.get("title"), a.get("value")) for a in answers)
        questions.append(Question(c.get("title"), c.get("value"), kind, pairs, c.get("schemaId"),
                                   tuple(a.get("schemaId") for a in answers)))
    label = Label(
        where=where, id=str(element.get("ID") or ""),
        created=timestamp(element.get("Created At"), where, path),
        updated=timestamp(element.get("Updated At"), where, path),
        skipped=skipped, questions=questions,
        objects=[(o.get("title"), o.get("value")) for o in content.get("objects") or []])
    return label, not_image


def v1_rows(records: list[tuple[str, Any]], path) -> list[Row]:
    groups: dict[str, list[tuple[str, dict]]] = {}
    for where, element in records:
        if not isinstance(element, dict) or "DataRow ID" not in element:
            raise LabelError(f"{path}: {where}: not a LabelBox v1 label (no 'DataRow ID'); "
                             f"pass the file exactly as LabelBox exported it")
        groups.setdefault(element["DataRow ID"], []).append((where, element))
    rows = []
    for data_row_id, members in groups.items():
        where, first = members[0]
        image = v1_image(first)
        if not image:
            raise LabelError(
                f"{path}: {where}: data row {data_row_id!r} has neither 'External ID' nor 'Global Key', "
                f"and the 'Labeled Data' URL cannot name it (LabelBox prefixes uploaded file names "
                f"with an id); set each data row's external id to the half's file name, or use "
                f"Export v2 with global keys")
        labels, flags = [], []
        for member_where, element in members:
            with at_record(path, member_where):
                label, not_image = _v1_label(member_where, element, path)
            labels.append(label)
            flags.append(not_image)
        rows.append(Row(", ".join(w for w, _ in members), image, labels, not_image=any(flags)))
    return rows

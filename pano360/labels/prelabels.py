"""Predictions as LabelBox pre-labels: NDJSON in the shape LabelBox's annotation import takes
(model-assisted labelling, ``MALPredictionImport``), so annotators confirm or correct instead
of starting blank. The format, with its sources, is written down in docs/labelbox-import.md.

One line per half and question. A global checklist question lists the classes decided
present (``probability >= tuned threshold``); a half with none gets no line (LabelBox
represents an unticked checklist by its absence). The radio variant, for projects with one
yes/no question per class, answers every class's question yes or no.

Questions and answers are named by their LabelBox schema ids when the labels were read
from a LabelBox export (recorded at training), which is unambiguous; otherwise by name. A
data row is identified by its global key (the half's file name, as split_images writes it
and load_labels matches it), or by its data row id when an export gives the mapping. Each
annotation has a uuid derived from data row and question: importing again replaces it.
"""
from __future__ import annotations

import json
import uuid
from pathlib import Path

import pandas as pd

from pano360.labels.records import LabelError
from pano360.labels.table import data_row_ids
from pano360.errors import Pano360Error

NAMESPACE = uuid.UUID("6f1c2b1e-8a55-4c3e-9f0e-2d7c1a9b5e40")  # pano360 pre-labels
STYLES = ("checklist", "radio")


class PrelabelError(Pano360Error, ValueError):
    pass


def _ref(schema_id, name) -> dict:
    return {"schemaId": schema_id} if schema_id else {"name": name}


def _checklist_answer(cls: str, entry: dict | None) -> dict:
    if entry is None:
        return {"name": cls}
    if entry.get("kind") == "object":
        raise PrelabelError(f"class {cls!r} came from bounding boxes, not a checklist answer; pre-labels "
                            f"here are global classifications (labels.source: classifications)")
    # by name, an option is matched against its ontology value (the SDK's own lookup)
    return _ref(entry.get("schema_id"), entry.get("value") or entry.get("name") or cls)


def prelabel_lines(halves: pd.DataFrame, classes: list[str], schema: dict | None, style: str = "checklist",
                   question: str | None = None, ids: dict[str, str] | None = None) -> list[dict]:
    """NDJSON objects for the decided classes of every half (``halves``: image and 0/1
    decision columns named by class, as predict writes them)."""
    if style not in STYLES:
        raise PrelabelError(f"--labelbox-style must be one of {STYLES}, not {style!r}")
    known = (schema or {}).get("classes") or {}
    unknown = [c for c in classes if known and c not in known]
    if unknown and question is None:
        raise PrelabelError(f"the model's classes {unknown} are not in the label schema recorded at training; "
                            f"give --labelbox-question (answers are then named by class)")
    lines = []
    for row in halves.to_dict("records"):
        image = row["image"]
        if ids is not None:
            if image not in ids:
                raise PrelabelError(f"{image} is not a data row of the --data-rows export; export the dataset "
                                    f"that holds the halves, or leave --data-rows out to use global keys")
            data_row = {"id": ids[image]}
        else:
            data_row = {"globalKey": image}
        key = data_row.get("id") or data_row["globalKey"]
        decided = [c for c in classes if int(row[c])]
        if style == "checklist":
            by_question: dict[tuple, list[dict]] = {}
            for cls in decided:
                entry = None if question else known.get(cls)
                q = (None, question) if question else \
                    ((entry or {}).get("question_schema_id"), (entry or {}).get("question") or "objects present")
                by_question.setdefault(q, []).append(_checklist_answer(cls, entry))
            for (q_id, q_name), answers in by_question.items():
                lines.append({**_ref(q_id, q_name), "answer": answers,
                              "uuid": str(uuid.uuid5(NAMESPACE, f"{key}/{q_id or q_name}")), "dataRow": data_row})
        else:
            for cls in classes:
                entry = known.get(cls) or {}
                q_id = entry.get("question_schema_id") if entry.get("kind") == "radio_per_class" else None
                q_name = entry.get("question") if entry.get("kind") == "radio_per_class" else cls
                said = "yes" if cls in decided else "no"
                answer = (entry.get("answers") or {}).get(said) or {}
                lines.append({**_ref(q_id, q_name),
                              "answer": _ref(answer.get("schema_id"), answer.get("value") or answer.get("name")
                                             or said),
                              "uuid": str(uuid.uuid5(NAMESPACE, f"{key}/{q_id or q_name}")), "dataRow": data_row})
    return lines


def write_prelabels(lines: list[dict], path) -> None:
    from pano360.io import write_text
    write_text(path, "".join(json.dumps(line) + "\n" for line in lines))


def read_data_row_ids(export) -> dict[str, str]:
    try:
        return data_row_ids(Path(export))
    except LabelError as exc:
        raise PrelabelError(str(exc)) from None

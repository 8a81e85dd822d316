"""Class identity across labelling rounds: each class column is tied to its LabelBox schema id
(``data/classes.csv``, kept in git), so an option renamed in LabelBox keeps its column, name and
place, and the rename is reported (README "Labelling rounds")."""
from __future__ import annotations

from typing import Iterable, Iterator

import pandas as pd

from pano360.labels.records import Label, LabelError, class_name, reads_question


def _answer_ids(labels: Iterable[Label], *, source: str, questions: set[str] | None, match_on: str,
                radio_per_class: bool) -> Iterator[tuple[str, str]]:
    """``(class name as read now, LabelBox schema id)`` of every answer that has an id."""
    if source == "objects":
        return
    for label in labels:
        for q in label.questions:
            if not reads_question(q, questions):
                continue
            if radio_per_class and q.kind == "radio":
                cls = class_name((q.name, q.value), match_on)
                if cls is not None and q.schema_id:
                    yield cls, q.schema_id
                continue
            for pair, schema_id in zip(q.answers, q.answer_ids or (None,) * len(q.answers)):
                cls = class_name(pair, match_on)
                if cls is not None and schema_id:
                    yield cls, schema_id


def schema_renames(labels: Iterable[Label], known: dict[str, str], **how) -> dict[str, dict]:
    """Options renamed in LabelBox since ``known`` (schema id → class column) was written:
    ``{name now: {"column", "schema_id"}}``. The class keeps its column (name and place)."""
    renames: dict[str, dict] = {}
    for cls, schema_id in _answer_ids(labels, **how):
        column = known.get(schema_id)
        if column is not None and column != cls:
            renames.setdefault(cls, {"column": column, "schema_id": schema_id})
    return renames


def read_known_classes(path) -> tuple[list[str], dict[str, str]] | None:
    """The class columns of earlier rounds in order, and schema id → column; None without a file."""
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except FileNotFoundError:
        return None
    if list(table.columns) != list(KNOWN_CLASS_COLUMNS):
        raise LabelError(f"{path} must have the columns {','.join(KNOWN_CLASS_COLUMNS)}; restore it from git")
    return list(table["column"]), {sid: col for col, sid in zip(table["column"], table["schema_id"]) if sid}


KNOWN_CLASS_COLUMNS = ("column", "schema_id", "name")


def known_classes_table(known: tuple[list[str], dict[str, str]] | None, classes: list[str],
                        schema: dict[str, dict]) -> pd.DataFrame:
    """Every class column ever seen (earlier rounds' first, in order) with its schema id and its
    name in LabelBox now: the file that keeps a renamed option in its column next round."""
    order = list(known[0]) if known else []
    order += [c for c in classes if c not in order]
    ids = {col: sid for sid, col in (known[1].items() if known else [])}
    rows = []
    for col in order:
        entry = schema.get(col, {})
        sid = entry.get("question_schema_id") if entry.get("kind") == "radio_per_class" else entry.get("schema_id")
        rows.append({"column": col, "schema_id": sid or ids.get(col, ""),
                     "name": entry.get("name") or entry.get("question") or col})
    return pd.DataFrame(rows, columns=list(KNOWN_CLASS_COLUMNS))

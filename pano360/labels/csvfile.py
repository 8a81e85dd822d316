"""A hand-written CSV of labels: ``image,labels`` with ``;``-separated class names."""
from __future__ import annotations

import csv
import io



from pano360.labels.records import Label, LabelError, Question, Row, csv_columns

# ---------------------------------------------------------------- CSV


def csv_rows(text: str, path) -> list[Row]:
    reader = csv.reader(io.StringIO(text))
    columns = csv_columns(next(reader, []))
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
        label = Label(where=where, id="", created=None, updated=None, skipped=False,
                       questions=[Question("labels", "labels", "checklist", answers)], objects=[])
        rows.append(Row(where, image, [label]))
    return rows

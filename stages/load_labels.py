"""DVC stage load_labels: label export (LabelBox v2/v1 or CSV) → data/interim/labels.csv."""
import sys
from typing import Optional

import pandas as pd

from pano360.data.naming import DEFAULT_PATTERN
from pano360.data.rawdata import find_label_file
from pano360.io import write_csv, write_json
from pano360.labels.records import LabelsParams
from pano360.labels.identity import known_classes_table, read_known_classes
from pano360.labels.table import load_labels
from pano360.stage import run_stage

MANIFEST = "data/interim/halves.csv"                 # from split_images
LABELS, REPORT = "data/interim/labels.csv", "reports/labels.json"
SCHEMA = "data/interim/label_schema.json"            # where each class comes from in the export
# every class column with its LabelBox schema id, kept in git and read back by the next run
# (persist: true in dvc.yaml), so an option renamed in LabelBox keeps its column
KNOWN_CLASSES = "data/classes.csv"
PARAMS = {"labels": LabelsParams, "split.name_pattern": Optional[str]}


def compute(params):
    p = params.labels
    export = find_label_file(p.file)
    halves = pd.read_csv(MANIFEST, dtype={"image": str})["image"].tolist()
    known = read_known_classes(KNOWN_CLASSES)
    return export, known, load_labels(export, halves=halves, known_classes=known,
                                      name_pattern=params["split.name_pattern"] or DEFAULT_PATTERN,
                                      **p.model_dump(exclude={"file"}))


def write(params, result):
    export, known, table = result
    for warning in table.warnings:
        print(f"load_labels: warning: {warning}", file=sys.stderr)
    write_csv(LABELS, table.frame)
    write_json(REPORT, table.report)
    write_json(SCHEMA, table.report["label_schema"])
    write_csv(KNOWN_CLASSES, known_classes_table(known, table.classes, table.report["label_schema"]["classes"]))
    return (f"load_labels: {export}: {len(table.frame)} labelled halves, {len(table.classes)} classes "
            f"({', '.join(table.classes)}) → {LABELS}")


if __name__ == "__main__":
    sys.exit(run_stage("load_labels", PARAMS, compute, write))

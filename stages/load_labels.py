"""DVC stage load_labels: label export (LabelBox v2/v1 or CSV) → data/interim/labels.csv."""
import argparse
import sys
from pathlib import Path

import pandas as pd

# This checkout's pano360, not whatever `import pano360` finds first: a queued experiment
# runs in a copy of the repository, and must run the code DVC hashed as its dependencies.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pano360.io import write_csv, write_json
from pano360.labels import LabelError, LabelsParams, load_labels
from pano360.naming import NamingError
from pano360.panorama import SplitParams
from pano360.params import ParamsError, check_unchanged, load_params
from pano360.rawdata import RawDataError, find_label_file


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--halves", default="data/interim/halves.csv", help="manifest from split_images")
    ap.add_argument("--out", default="data/interim/labels.csv")
    ap.add_argument("--report", default="reports/labels.json")
    ap.add_argument("--schema", default="data/interim/label_schema.json",
                    help="where each class comes from in the export (for pre-labels)")
    args = ap.parse_args()
    try:
        params = load_params(labels=LabelsParams, split=SplitParams)
        p = params.labels
        export = find_label_file(p.file)
        halves = pd.read_csv(args.halves, dtype={"image": str})["image"].tolist()
        table = load_labels(export, halves=halves, name_pattern=params.split.name_pattern,
                            **p.model_dump(exclude={"file"}))
        check_unchanged(params)
    except (ParamsError, RawDataError, LabelError, NamingError) as exc:
        print(f"load_labels: {exc}", file=sys.stderr)
        return 1
    for warning in table.warnings:
        print(f"load_labels: warning: {warning}", file=sys.stderr)
    write_csv(args.out, table.frame)
    write_json(args.report, table.report)
    write_json(args.schema, table.report["label_schema"])
    print(f"load_labels: {export}: {len(table.frame)} labelled halves, {len(table.classes)} classes "
          f"({', '.join(table.classes)}) → {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

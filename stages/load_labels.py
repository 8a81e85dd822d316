"""DVC stage load_labels: label export (LabelBox v2/v1 or CSV) → data/interim/labels.csv."""
import argparse
import sys

import pandas as pd

from pano360.io import write_csv, write_json
from pano360.labels import LabelError, load_labels
from pano360.naming import NamingError
from pano360.params import load_params, section


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("export")
    ap.add_argument("--halves", default="data/interim/halves.csv", help="manifest from split_images")
    ap.add_argument("--out", default="data/interim/labels.csv")
    ap.add_argument("--metrics", default="metrics/labels.json")
    args = ap.parse_args()
    params = load_params()
    p = section(params, "labels")
    halves = pd.read_csv(args.halves, dtype={"image": str})["image"].tolist()
    try:
        table = load_labels(
            args.export, fmt=p.get("format", "auto"), classes=p.get("classes"),
            unknown_classes=p.get("unknown_classes", "error"), questions=p.get("questions"),
            source=p.get("source", "classifications"), match_on=p.get("match_on", "name"),
            label_choice=p.get("label_choice", "latest"), statuses=p.get("statuses"),
            project_id=p.get("project_id"), halves=halves,
            name_pattern=section(params, "split")["name_pattern"],
            missing_image=p.get("missing_image", "error"))
    except (LabelError, NamingError) as exc:
        print(f"load_labels: {exc}", file=sys.stderr)
        return 1
    for warning in table.warnings:
        print(f"load_labels: warning: {warning}", file=sys.stderr)
    write_csv(args.out, table.frame)
    write_json(args.metrics, table.report)
    print(f"load_labels: {len(table.frame)} labelled halves, {len(table.classes)} classes "
          f"({', '.join(table.classes)}) → {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""DVC stage split_images: panoramas → left/right halves + manifest + metrics/split.json."""
import argparse
import sys

import pandas as pd

from pano360.io import write_csv, write_json
from pano360.panorama import SplitError, split_folder
from pano360.params import load_params, section


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("panoramas")
    ap.add_argument("halves")
    ap.add_argument("--manifest", default="data/interim/halves.csv")
    ap.add_argument("--metrics", default="metrics/split.json")
    args = ap.parse_args()
    p = section(load_params(), "split")
    try:
        report = split_folder(args.panoramas, args.halves, pattern=p["name_pattern"],
                              workers=int(p.get("workers", 0)), on_error=p.get("on_error", "fail"))
    except SplitError as exc:
        print(f"split_images: {exc}", file=sys.stderr)
        return 1
    manifest = pd.DataFrame(report.pop("manifest")).sort_values("image")
    write_csv(args.manifest, manifest)
    write_json(args.metrics, report)
    if report["not_2to1"]:
        print(f"split_images: warning: {len(report['not_2to1'])} panorama(s) are not 2:1 "
              f"(split anyway): {', '.join(report['not_2to1'])}", file=sys.stderr)
    for bad in report["skipped"]:
        print(f"split_images: skipped {bad['file']}: {bad['error']}", file=sys.stderr)
    print(f"split_images: {report['panoramas_split']} panoramas → {report['halves']} halves in "
          f"{args.halves}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""DVC stage split_images: panoramas → left/right halves + manifest + reports/split.json.

Before any work it also checks that the label export that load_labels will read exists and
is unambiguous (labels.file), so that mistake is reported at once, not after the split.
"""
import argparse
import sys
from pathlib import Path

import pandas as pd

# This checkout's pano360, not whatever `import pano360` finds first: a queued experiment
# runs in a copy of the repository, and must run the code DVC hashed as its dependencies.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pano360.io import write_csv, write_json
from pano360.panorama import SplitError, SplitParams, split_folder
from pano360.params import ParamsError, check_unchanged, load_params, read_yaml
from pano360.rawdata import DEFAULT_LABELS, RawDataError, find_label_file


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("panoramas")
    ap.add_argument("halves")
    ap.add_argument("--manifest", default="data/interim/halves.csv")
    ap.add_argument("--report", default="reports/split.json")
    args = ap.parse_args()
    try:
        params = load_params(split=SplitParams)
        find_label_file((read_yaml().get("labels") or {}).get("file") or DEFAULT_LABELS)
        p = params.split
        report = split_folder(args.panoramas, args.halves, pattern=p.name_pattern, workers=p.workers,
                              on_error=p.on_error)
        check_unchanged(params)
    except (ParamsError, RawDataError, SplitError) as exc:
        print(f"split_images: {exc}", file=sys.stderr)
        return 1
    manifest = pd.DataFrame(report.pop("manifest")).sort_values("image")
    write_csv(args.manifest, manifest)
    write_json(args.report, report)
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

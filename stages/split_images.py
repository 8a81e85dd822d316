"""DVC stage split_images: panoramas → left/right halves, their manifest and reports/split.json.

Before any work it also checks that the label export load_labels will read exists and is
unambiguous (``labels.file``), so that mistake is reported at once, not after the split.
"""
import sys
from typing import Optional

import pandas as pd

from pano360.data.incremental import state_path
from pano360.data.panorama import SplitParams, split_folder
from pano360.data.rawdata import DEFAULT_LABELS, find_label_file
from pano360.io import write_csv, write_json
from pano360.stage import run_stage

PANORAMAS = "data/raw/panoramas"
HALVES, MANIFEST, REPORT = "data/interim/halves", "data/interim/halves.csv", "reports/split.json"
STATE = "data/interim/halves.state.json"        # what made each half (beside HALVES, by its name)
MD5_CACHE = "data/interim/.panorama-md5.json"   # machine-local, git-ignored: hashes by size and mtime
PARAMS = {"split": SplitParams, "labels.file": Optional[str]}


assert state_path(HALVES).as_posix() == STATE


def compute(params):
    find_label_file(params["labels.file"] or DEFAULT_LABELS)
    p = params.split
    return split_folder(PANORAMAS, HALVES, pattern=p.name_pattern, workers=p.workers, on_error=p.on_error,
                        md5_cache=MD5_CACHE)


def write(params, report):
    run = report.pop("run")
    write_csv(MANIFEST, pd.DataFrame(report.pop("manifest")).sort_values("image"))
    write_json(REPORT, report)
    if report["not_2to1"]:
        print(f"split_images: warning: {len(report['not_2to1'])} panorama(s) are not 2:1 "
              f"(split anyway): {', '.join(report['not_2to1'])}", file=sys.stderr)
    for bad in report["skipped"]:
        print(f"split_images: skipped {bad['file']}: {bad['error']}", file=sys.stderr)
    return (f"split_images: {report['panoramas_split']} panoramas → {report['halves']} halves in {HALVES} "
            f"({run['split']} split now, {run['kept']} kept from the last run, {run['removed_files']} "
            f"stale half files removed)")


if __name__ == "__main__":
    sys.exit(run_stage("split_images", PARAMS, compute, write))

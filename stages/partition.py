"""DVC stage partition: labels table → data/processed/{train,val,test}.csv + report + plot."""
import argparse
import sys
from pathlib import Path

import pandas as pd

# This checkout's pano360, not whatever `import pano360` finds first: a queued experiment
# runs in a copy of the repository, and must run the code DVC hashed as its dependencies.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pano360.io import write_csv, write_json
from pano360.params import ParamsError, check_unchanged, load_params
from pano360.partition import SPLITS, PartitionError, PartitionParams, class_columns, partition
from pano360.plots import class_distribution


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("labels")
    ap.add_argument("out_dir")
    ap.add_argument("--report", default="reports/partition.json")
    ap.add_argument("--plot-data", default="plots/class_distribution.csv")
    ap.add_argument("--plot", default="plots/class_distribution.png")
    args = ap.parse_args()
    frame = pd.read_csv(args.labels, dtype={"image": str, "panorama": str})
    try:
        params = load_params(partition=PartitionParams)
        p = params.partition
        parts, report, notes = partition(frame, p.fractions.model_dump(), p.seed)
        check_unchanged(params)
    except (ParamsError, PartitionError) as exc:
        print(f"partition: {exc}", file=sys.stderr)
        return 1
    for note in notes:
        print(f"partition: warning: {note}", file=sys.stderr)
    report["warnings"] = notes
    for s in SPLITS:
        write_csv(f"{args.out_dir}/{s}.csv", parts[s])
    table = class_distribution.table(parts, class_columns(frame))
    write_csv(args.plot_data, table)
    class_distribution.plot(table, args.plot)
    write_json(args.report, report)
    print("partition: " + ", ".join(f"{s} {report['halves'][s]} halves" for s in SPLITS)
          + f"; max class-share deviation {report['max_class_share_deviation']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

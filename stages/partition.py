"""DVC stage partition: labels table → data/processed/{train,val,test}.csv + report + plot."""
import sys

import pandas as pd

from pano360.data.naming import class_columns
from pano360.data.partition import SPLITS, PartitionParams, partition
from pano360.evaluation.plots import class_distribution
from pano360.io import write_csv, write_json
from pano360.stage import run_stage

LABELS, SPLIT_DIR, REPORT = "data/interim/labels.csv", "data/processed", "reports/partition.json"
PLOT_DATA, PLOT = "plots/class_distribution.csv", "plots/class_distribution.png"
PARAMS = {"partition": PartitionParams}


def compute(params):
    frame = pd.read_csv(LABELS, dtype={"image": str, "panorama": str})
    return frame, partition(frame, params.partition.fractions.model_dump(), params.partition.seed)


def write(params, result):
    frame, (parts, report, notes) = result
    for note in notes:
        print(f"partition: warning: {note}", file=sys.stderr)
    report["warnings"] = notes
    for s in SPLITS:
        write_csv(f"{SPLIT_DIR}/{s}.csv", parts[s])
    table = class_distribution.table(parts, class_columns(frame))
    write_csv(PLOT_DATA, table)
    class_distribution.plot(table, PLOT)
    write_json(REPORT, report)
    return ("partition: " + ", ".join(f"{s} {report['halves'][s]} halves" for s in SPLITS)
            + f"; max class-share deviation {report['max_class_share_deviation']:.3f}")


if __name__ == "__main__":
    sys.exit(run_stage("partition", PARAMS, compute, write))

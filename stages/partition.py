"""DVC stage partition: labels table → data/processed/{train,val,test}.csv + report + plot."""
import sys

import pandas as pd

from pano360.data.naming import class_columns
from pano360.data.partition import SPLITS, PartitionParams, assignment_table, partition, read_assignment
from pano360.evaluation.plots import class_distribution
from pano360.io import write_csv, write_json
from pano360.stage import run_stage

LABELS, SPLIT_DIR, REPORT = "data/interim/labels.csv", "data/processed", "reports/partition.json"
# every panorama's split, kept in git and read back by the next run (persist: true in dvc.yaml)
ASSIGNMENT = "data/partition.csv"
PLOT_DATA, PLOT = "plots/class_distribution.csv", "plots/class_distribution.png"
PARAMS = {"partition": PartitionParams}


def compute(params):
    frame = pd.read_csv(LABELS, dtype={"image": str, "panorama": str})
    p = params.partition
    known = None if p.reshuffle else read_assignment(ASSIGNMENT)
    return frame, known, partition(frame, p.fractions.model_dump(), p.seed, known)


def write(params, result):
    frame, known, (parts, report, notes) = result
    if params.partition.reshuffle:
        notes.insert(0, f"partition.reshuffle is true: every panorama was assigned afresh, ignoring {ASSIGNMENT}; "
                        "test sets of earlier runs and rounds differ from this one, so comparing their metrics "
                        "(dvc metrics diff, pano360 compare) is no longer valid. Set it back to false for the next round.")
    split = pd.concat([parts[s].assign(_split=s) for s in SPLITS])
    write_csv(ASSIGNMENT, assignment_table(known, split, split["_split"]))
    for note in notes:
        print(f"partition: warning: {note}", file=sys.stderr)
    report["warnings"] = notes
    for s in SPLITS:
        write_csv(f"{SPLIT_DIR}/{s}.csv", parts[s])
    table = class_distribution.table(parts, class_columns(frame))
    write_csv(PLOT_DATA, table)
    class_distribution.plot(table, PLOT)
    write_json(REPORT, report)
    kept = report["assignment"]
    return ("partition: " + ", ".join(f"{s} {report['halves'][s]} halves" for s in SPLITS)
            + f"; max class-share deviation {report['max_class_share_deviation']:.3f}; "
            + f"{kept['kept']} panoramas kept their split from {ASSIGNMENT}, {kept['new']} assigned now")


if __name__ == "__main__":
    sys.exit(run_stage("partition", PARAMS, compute, write))

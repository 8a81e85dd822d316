"""DVC stage evaluate: test-split metrics at the tuned thresholds (and at 0.5), with 95 %
panorama-bootstrap intervals; plots, error galleries, predictions.

metrics/test.json holds the few numbers a run is judged by, metrics/test_lo.json and
metrics/test_hi.json their interval bounds (`dvc metrics show` prints each under its
estimate); reports/evaluate.json every metric, reports/per_class.csv the per-class table.
"""
import sys

from pano360.data.dataset import read_split
from pano360.data.prepare import read_prepared
from pano360.evaluation.metrics import per_class_table
from pano360.evaluation.plots.evaluation import write_test_plots
from pano360.evaluation.plots.galleries import write_galleries
from pano360.evaluation.report import EvaluateParams, calibration_table, evaluation_report, flag_few_positives, \
    write_decision_metrics
from pano360.evaluation.thresholds_file import read_thresholds_file
from pano360.io import atomic_dir, write_csv, write_json
from pano360.stage import run_stage
from pano360.use.inference import score_table, split_probabilities

MODEL, THRESHOLDS, TEST = "models/model.pt", "models/thresholds.json", "data/processed/test.csv"
PREPARED, SETTINGS = "data/interim/prepared", "data/interim/prepared.json"
PREDICTIONS, METRICS = "data/predictions/test.csv", "metrics/test.json"
REPORT, PER_CLASS, PLOTS = "reports/evaluate.json", "reports/per_class.csv", "plots"
PARAMS = {"evaluate": EvaluateParams}


def compute(params):
    frame, label_columns = read_split(TEST)
    probs, targets, classes = split_probabilities(MODEL, frame, PREPARED, SETTINGS, desc="test")
    thresholds = read_thresholds_file(THRESHOLDS, classes)
    report = evaluation_report(targets, probs, thresholds, frame["panorama"].to_numpy(), params.evaluate)
    return frame, label_columns, probs, targets, classes, thresholds, report


def write(params, result):
    frame, label_columns, probs, targets, classes, thresholds, report = result
    p = params.evaluate
    unknown = [c for c in label_columns if c not in classes]
    if unknown:
        print(f"evaluate: warning: {TEST} has label column(s) the model does not predict, not "
              f"evaluated: {', '.join(unknown)} (retrain after changing the classes)", file=sys.stderr)
    report["columns_not_evaluated"] = unknown
    per_class = flag_few_positives(per_class_table(targets, probs, thresholds, classes), p.min_positives)
    report["classes_with_too_few_positives"] = per_class.loc[per_class["too_few_positives"], "class"].tolist()
    report["min_positives"] = p.min_positives
    write_decision_metrics(METRICS, report)
    write_json(REPORT, report)
    write_csv(PER_CLASS, per_class)
    write_csv(PREDICTIONS, score_table(frame[["image", "panorama"]], probs, thresholds, classes, targets))
    write_test_plots(PLOTS, targets, probs, per_class, classes, calibration_table(targets, probs))
    errors = f"{PLOTS}/errors"
    if p.errors:
        size = write_galleries(errors, frame, targets, probs, thresholds, classes, PREPARED, read_prepared(SETTINGS),
                               per_class=p.errors_per_class, thumbnail=p.thumbnail)
        print(f"evaluate: error galleries for {len(classes)} classes in {errors}/ ({size / 2**20:.1f} MiB)")
    else:
        with atomic_dir(errors):
            pass  # the stage's output exists, empty: evaluate.errors is false
    if report["classes_with_too_few_positives"]:
        print(f"evaluate: warning: fewer than {p.min_positives} test positives, AP unstable: "
              f"{', '.join(report['classes_with_too_few_positives'])}", file=sys.stderr)
    t, h = report["tuned"], report["at_0.5"]
    ci = report.get("ci95", {})
    span = f" [{ci['mAP']['low']:.4f}, {ci['mAP']['high']:.4f}]" if ci else ""
    return (f"evaluate: {report['test_halves']} test halves of {report['test_panoramas']} panoramas: "
            f"mAP {t['mAP']:.4f}{span}  CF1 {t['CF1']:.4f}  OF1 {t['OF1']:.4f} "
            f"(at 0.5: CF1 {h['CF1']:.4f}  OF1 {h['OF1']:.4f}); panorama mAP {report['panorama']['tuned']['mAP']:.4f}")


if __name__ == "__main__":
    sys.exit(run_stage("evaluate", PARAMS, compute, write, errors=(ValueError,)))

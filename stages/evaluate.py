"""DVC stage evaluate: test-split metrics at the tuned thresholds (and at 0.5), plots, predictions.

metrics/test.json holds the few numbers a run is judged by (what `dvc metrics show` prints);
reports/evaluate.json every metric, reports/per_class.csv the per-class table.
"""
import argparse
import sys


from pano360.data import DataError, read_split
from pano360.inference import score_table, split_probabilities
from pano360.io import write_csv, write_json
from pano360.metrics import decision_metrics, evaluation_report, per_class_table
from pano360.model import CheckpointError
from pano360.prepare import PrepareError
from pano360.params import ParamsError, check_unchanged, load_params
from pano360.plots import evaluation as plots
from pano360.thresholds import ThresholdsFileError, read_thresholds_file


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", default="models/model.pt")
    ap.add_argument("--thresholds", default="models/thresholds.json")
    ap.add_argument("--test", default="data/processed/test.csv")
    ap.add_argument("--images", default="data/interim/prepared")
    ap.add_argument("--prepared", default="data/interim/prepared.json")
    ap.add_argument("--predictions", default="data/predictions/test.csv")
    ap.add_argument("--metrics", default="metrics/test.json")
    ap.add_argument("--report", default="reports/evaluate.json")
    ap.add_argument("--per-class", default="reports/per_class.csv")
    args = ap.parse_args()
    try:
        params = load_params()
        frame, label_columns = read_split(args.test)
        probs, targets, classes = split_probabilities(args.model, frame, args.images, args.prepared, desc="test")
        thresholds = read_thresholds_file(args.thresholds, classes)
        check_unchanged(params)
    except (ParamsError, PrepareError, CheckpointError, ThresholdsFileError, DataError, ValueError) as exc:
        print(f"evaluate: {exc}", file=sys.stderr)
        return 1
    unknown = [c for c in label_columns if c not in classes]
    if unknown:
        print(f"evaluate: warning: {args.test} has label column(s) the model does not predict, not "
              f"evaluated: {', '.join(unknown)} (retrain after changing the classes)", file=sys.stderr)
    groups = frame["panorama"].to_numpy()
    report = evaluation_report(targets, probs, thresholds, groups)
    report["columns_not_evaluated"] = unknown
    per_class = per_class_table(targets, probs, thresholds, classes)
    write_json(args.metrics, decision_metrics(report))
    write_json(args.report, report)
    write_csv(args.per_class, per_class)
    write_csv(args.predictions, score_table(frame[["image", "panorama"]], probs, thresholds, classes, targets))

    pr = plots.pr_curve_table(targets, probs, classes)
    write_csv("plots/pr_curves.csv", pr)
    plots.plot_pr_curves(pr, per_class, "plots/pr_curves.png")
    write_csv("plots/per_class_ap.csv", per_class[["class", "ap", "support"]])
    plots.plot_per_class_ap(per_class, "plots/per_class_ap.png")
    write_csv("plots/confusion.csv", plots.confusion_table(per_class))
    plots.plot_confusion(per_class, "plots/confusion.png")

    t, h = report["tuned"], report["at_0.5"]
    print(f"evaluate: test halves {len(frame)}: mAP {t['mAP']:.4f}  CF1 {t['CF1']:.4f}  OF1 {t['OF1']:.4f} "
          f"(at 0.5: CF1 {h['CF1']:.4f}  OF1 {h['OF1']:.4f}); panorama mAP {report['panorama']['tuned']['mAP']:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

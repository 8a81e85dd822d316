"""DVC stage evaluate: test-split metrics at the tuned thresholds (and at 0.5), with 95 %
panorama-bootstrap intervals; plots, error galleries, predictions.

metrics/test.json holds the few numbers a run is judged by, metrics/test_lo.json and
metrics/test_hi.json their interval bounds (`dvc metrics show` prints each under its
estimate); reports/evaluate.json every metric, reports/per_class.csv the per-class table.
"""
import argparse
import sys
from pathlib import Path

# This checkout's pano360, not whatever `import pano360` finds first: a queued experiment
# runs in a copy of the repository, and must run the code DVC hashed as its dependencies.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pano360.data import DataError, open_rgb, read_split
from pano360.evaluation import EvaluateParams, calibration_table, decision_metrics, evaluation_report, \
    flag_few_positives, worst_errors
from pano360.inference import score_table, split_probabilities
from pano360.io import atomic_dir, write_csv, write_json
from pano360.metrics import per_class_table
from pano360.model import CheckpointError
from pano360.params import ParamsError, check_unchanged, load_params
from pano360.plots import evaluation as plots
from pano360.prepare import PrepareError, read_prepared, stored_names
from pano360.thresholds import ThresholdsFileError, read_thresholds_file


def write_galleries(folder, frame, targets, probs, thresholds, classes, images_dir, spec,
                    params: EvaluateParams) -> int:
    """plots/errors/<class>.png for every class; returns the bytes written."""
    worst = worst_errors(targets, probs, classes, params.errors_per_class)
    rows = {i for pick in worst.values() for side in pick.values() for i in side}
    names = stored_names(frame["image"], spec)
    thumbs = {}
    for i in sorted(rows):
        image = open_rgb(Path(images_dir) / names[i])
        image.thumbnail((params.thumbnail, params.thumbnail))
        thumbs[i] = image
    total = 0
    with atomic_dir(folder) as tmp:
        for c, name in enumerate(classes):
            items = {side: [(thumbs[i], probs[i, c]) for i in worst[name][side]] for side in ("fp", "fn")}
            sheet = plots.error_sheet(name, items["fp"], items["fn"], params.thumbnail, float(thresholds[c]))
            path = tmp / f"{plots.safe_name(name)}.png"
            sheet.save(path, optimize=True)
            total += path.stat().st_size
    return total


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
    ap.add_argument("--plots", default="plots")
    args = ap.parse_args()
    try:
        params = load_params(evaluate=EvaluateParams)
        p = params.evaluate
        frame, label_columns = read_split(args.test)
        probs, targets, classes = split_probabilities(args.model, frame, args.images, args.prepared, desc="test")
        thresholds = read_thresholds_file(args.thresholds, classes)
        groups = frame["panorama"].to_numpy()
        report = evaluation_report(targets, probs, thresholds, groups, p)
        check_unchanged(params)
    except (ParamsError, PrepareError, CheckpointError, ThresholdsFileError, DataError, ValueError) as exc:
        print(f"evaluate: {exc}", file=sys.stderr)
        return 1
    unknown = [c for c in label_columns if c not in classes]
    if unknown:
        print(f"evaluate: warning: {args.test} has label column(s) the model does not predict, not "
              f"evaluated: {', '.join(unknown)} (retrain after changing the classes)", file=sys.stderr)
    report["columns_not_evaluated"] = unknown
    per_class = flag_few_positives(per_class_table(targets, probs, thresholds, classes), p.min_positives)
    report["classes_with_too_few_positives"] = per_class.loc[per_class["too_few_positives"], "class"].tolist()
    report["min_positives"] = p.min_positives
    estimate, low, high = decision_metrics(report)
    write_json(args.metrics, estimate)
    stem = Path(args.metrics)
    for bound, values in (("lo", low), ("hi", high)):
        target = stem.with_name(f"{stem.stem}_{bound}{stem.suffix}")
        if values is None:
            target.unlink(missing_ok=True)
        else:
            write_json(target, values)
    write_json(args.report, report)
    write_csv(args.per_class, per_class)
    write_csv(args.predictions, score_table(frame[["image", "panorama"]], probs, thresholds, classes, targets))

    out = Path(args.plots)
    pr = plots.pr_curve_table(targets, probs, classes)
    write_csv(out / "pr_curves.csv", pr)
    plots.plot_pr_curves(pr, per_class, out / "pr_curves.png")
    write_csv(out / "per_class_ap.csv", per_class[["class", "ap", "support"]])
    plots.plot_per_class_ap(per_class, out / "per_class_ap.png")
    write_csv(out / "confusion.csv", plots.confusion_table(per_class))
    plots.plot_confusion(per_class, out / "confusion.png")
    calibration = calibration_table(targets, probs)
    write_csv(out / "calibration.csv", calibration)
    plots.plot_calibration(calibration, out / "calibration.png")
    errors = out / "errors"
    if p.errors:
        size = write_galleries(errors, frame, targets, probs, thresholds, classes, args.images,
                               read_prepared(args.prepared), p)
        print(f"evaluate: error galleries for {len(classes)} classes in {errors}/ ({size / 2**20:.1f} MiB)")
    else:
        with atomic_dir(errors):
            pass  # the stage's output exists, empty: evaluate.errors is false

    t, h = report["tuned"], report["at_0.5"]
    ci = report.get("ci95", {})
    span = f" [{ci['mAP']['low']:.4f}, {ci['mAP']['high']:.4f}]" if ci else ""
    print(f"evaluate: {report['test_halves']} test halves of {report['test_panoramas']} panoramas: "
          f"mAP {t['mAP']:.4f}{span}  CF1 {t['CF1']:.4f}  OF1 {t['OF1']:.4f} "
          f"(at 0.5: CF1 {h['CF1']:.4f}  OF1 {h['OF1']:.4f}); panorama mAP {report['panorama']['tuned']['mAP']:.4f}")
    if report["classes_with_too_few_positives"]:
        print(f"evaluate: warning: fewer than {p.min_positives} test positives, AP unstable: "
              f"{', '.join(report['classes_with_too_few_positives'])}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

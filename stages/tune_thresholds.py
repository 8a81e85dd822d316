"""DVC stage tune_thresholds: pick one decision threshold per class on the validation split."""
import argparse
import sys
from pathlib import Path

# This checkout's pano360, not whatever `import pano360` finds first: a queued experiment
# runs in a copy of the repository, and must run the code DVC hashed as its dependencies.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pano360.data import DataError, read_split
from pano360.inference import split_probabilities
from pano360.io import write_csv, write_json
from pano360.model import CheckpointError
from pano360.prepare import PrepareError
from pano360.params import ParamsError, check_unchanged, load_params
from pano360.plots import evaluation as plots
from pano360.thresholds import ThresholdsParams, compare_strategies, f1_curves, fit_thresholds, \
    write_thresholds_file


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", default="models/model.pt")
    ap.add_argument("--val", default="data/processed/val.csv")
    ap.add_argument("--images", default="data/interim/prepared")
    ap.add_argument("--prepared", default="data/interim/prepared.json")
    ap.add_argument("--out", default="models/thresholds.json")
    ap.add_argument("--report", default="reports/thresholds.json")
    ap.add_argument("--metrics", default="metrics/thresholds.json")
    ap.add_argument("--plot", default="plots/threshold_f1.png")
    ap.add_argument("--plot-data", default="plots/threshold_f1.csv")
    args = ap.parse_args()
    try:
        params = load_params(thresholds=ThresholdsParams)
        settings = params.thresholds.model_dump()
        frame, _ = read_split(args.val)
        probs, targets, classes = split_probabilities(args.model, frame, args.images, args.prepared, desc="val")
        groups = frame["panorama"].to_numpy()
        fit = fit_thresholds(probs, targets, groups=groups, **settings)
        comparison = compare_strategies(probs, targets, groups=groups, **settings)
        check_unchanged(params)
    except (ParamsError, PrepareError, CheckpointError, DataError, ValueError) as exc:
        print(f"tune_thresholds: {exc}", file=sys.stderr)
        return 1
    write_thresholds_file(args.out, fit, classes)
    write_json(args.metrics, {"strategy": fit.strategy})
    write_json(args.report, {"chosen": fit.strategy, "requested": fit.requested,
                             "val_halves": int(len(frame)), "strategies": comparison})
    curves = f1_curves(probs, targets)
    write_csv(args.plot_data, plots.f1_curve_table(curves, classes))
    plots.plot_f1_curves(curves, classes, fit.thresholds, fit.details.get("global_threshold"), args.plot)
    print(f"tune_thresholds: strategy {fit.strategy}" + (" (chosen by auto)" if fit.requested == "auto" else ""))
    for name, row in comparison.items():
        print(f"  {name:<20} val micro-F1 {row['micro_f1']:.4f}  macro-F1 {row['macro_f1']:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""DVC stage tune_thresholds: pick one decision threshold per class on the validation split."""
import argparse
import sys


from pano360.data import read_split
from pano360.io import write_csv, write_json
from pano360.model import CheckpointError
from pano360.params import load_params, section
from pano360.inference import split_probabilities
from pano360.plots import evaluation as plots
from pano360.thresholds import STRATEGIES, compare_strategies, f1_curves, fit_thresholds


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", default="models/model.pt")
    ap.add_argument("--val", default="data/processed/val.csv")
    ap.add_argument("--images", default="data/interim/halves")
    ap.add_argument("--out", default="models/thresholds.json")
    ap.add_argument("--metrics", default="metrics/thresholds.json")
    ap.add_argument("--plot", default="plots/threshold_f1.png")
    ap.add_argument("--plot-data", default="plots/threshold_f1.csv")
    args = ap.parse_args()
    p = dict(section(load_params(), "thresholds"))
    strategy = p.pop("strategy", "auto")
    if strategy not in STRATEGIES:
        print(f"tune_thresholds: thresholds.strategy must be one of {STRATEGIES}, not {strategy!r}",
              file=sys.stderr)
        return 1
    frame, _ = read_split(args.val)
    try:
        probs, targets, classes = split_probabilities(args.model, frame, args.images, desc="val")
    except (CheckpointError, ValueError) as exc:
        print(f"tune_thresholds: {exc}", file=sys.stderr)
        return 1
    groups = frame["panorama"].to_numpy()
    settings = {k: p[k] for k in ("fixed", "min_positives", "shrink_k", "target_precision",
                                  "target_recall", "folds", "seed", "auto_metric") if k in p}
    fit = fit_thresholds(probs, targets, strategy, groups=groups, **settings)
    comparison = compare_strategies(probs, targets, groups=groups, **settings)
    result = fit.to_dict()
    write_json(args.out, {"classes": classes,
                          "thresholds": dict(zip(classes, result["thresholds"])),
                          "strategy": fit.strategy, "requested": fit.requested,
                          "settings": fit.settings, "details": fit.details,
                          "compare": "probability >= threshold"})
    write_json(args.metrics, {"chosen": fit.strategy, "requested": fit.requested,
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

"""DVC stage tune_thresholds: pick one decision threshold per class on the validation split;
the validation scores go to data/predictions/val.csv (`pano360 compare --split val` chooses
between experiments on them, leaving test for the chosen run)."""
import sys

from pano360.data.dataset import read_split
from pano360.evaluation.plots import evaluation as plots
from pano360.evaluation.thresholds import ThresholdsParams, compare_strategies, f1_curves, fit_thresholds, \
    write_thresholds_file
from pano360.io import write_csv, write_json
from pano360.stage import run_stage
from pano360.use.inference import score_table, split_probabilities

MODEL, VAL = "models/model.pt", "data/processed/val.csv"
PREPARED, SETTINGS = "data/interim/prepared", "data/interim/prepared.json"
THRESHOLDS, REPORT, METRICS = "models/thresholds.json", "reports/thresholds.json", "metrics/thresholds.json"
PLOT, PLOT_DATA = "plots/threshold_f1.png", "plots/threshold_f1.csv"
PREDICTIONS = "data/predictions/val.csv"
PARAMS = {"thresholds": ThresholdsParams}


def compute(params):
    settings = params.thresholds.model_dump()
    frame, _ = read_split(VAL)
    probs, targets, classes = split_probabilities(MODEL, frame, PREPARED, SETTINGS, desc="val")
    groups = frame["panorama"].to_numpy()
    fit = fit_thresholds(probs, targets, groups=groups, **settings)
    return frame, probs, targets, classes, fit, compare_strategies(probs, targets, groups=groups, **settings)


def write(params, result):
    frame, probs, targets, classes, fit, comparison = result
    write_thresholds_file(THRESHOLDS, fit, classes)
    write_json(METRICS, {"strategy": fit.strategy})
    write_csv(PREDICTIONS, score_table(frame[["image", "panorama"]], probs, fit.thresholds, classes, targets))
    write_json(REPORT, {"chosen": fit.strategy, "requested": fit.requested,
                        "val_halves": int(len(frame)), "strategies": comparison})
    curves = f1_curves(probs, targets)
    write_csv(PLOT_DATA, plots.f1_curve_table(curves, classes))
    plots.plot_f1_curves(curves, classes, fit.thresholds, fit.details.get("global_threshold"), PLOT)
    return "\n".join([f"tune_thresholds: strategy {fit.strategy}" + (" (chosen by auto)" if fit.requested == "auto" else "")]
                     + [f"  {name:<20} val micro-F1 {row['micro_f1']:.4f}  macro-F1 {row['macro_f1']:.4f}"
                        for name, row in comparison.items()])


if __name__ == "__main__":
    sys.exit(run_stage("tune_thresholds", PARAMS, compute, write, errors=(ValueError,)))

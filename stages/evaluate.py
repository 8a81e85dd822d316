"""DVC stage evaluate: test-split metrics at the tuned thresholds (and at 0.5), plots, predictions."""
import argparse
import sys

import numpy as np
import pandas as pd

from pano360.data import read_split
from pano360.io import write_csv, write_json
from pano360.metrics import multilabel_metrics, panorama_level, per_class_table
from pano360.model import CheckpointError
from pano360.inference import split_probabilities
from pano360.plots import evaluation as plots
from pano360.thresholds import read_thresholds_file


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", default="models/model.pt")
    ap.add_argument("--thresholds", default="models/thresholds.json")
    ap.add_argument("--test", default="data/processed/test.csv")
    ap.add_argument("--images", default="data/interim/halves")
    ap.add_argument("--predictions", default="data/predictions/test.csv")
    ap.add_argument("--metrics", default="metrics/evaluate.json")
    ap.add_argument("--per-class", default="metrics/per_class.csv")
    args = ap.parse_args()
    frame, _ = read_split(args.test)
    try:
        probs, targets, classes = split_probabilities(args.model, frame, args.images, desc="test")
        thresholds = read_thresholds_file(args.thresholds, classes)
    except (CheckpointError, ValueError) as exc:
        print(f"evaluate: {exc}", file=sys.stderr)
        return 1
    half = 0.5 * np.ones(len(classes))
    groups = frame["panorama"].to_numpy()
    pano_targets, pano_probs, _ = panorama_level(targets, probs, groups)
    per_class = per_class_table(targets, probs, thresholds, classes)
    no_pos = [c for c, s in zip(classes, per_class["support"]) if s == 0]
    report = {
        "tuned": multilabel_metrics(targets, probs, thresholds),
        "at_0.5": multilabel_metrics(targets, probs, half),
        "panorama": {"tuned": multilabel_metrics(pano_targets, pano_probs, thresholds),
                     "at_0.5": multilabel_metrics(pano_targets, pano_probs, half)},
        "classes_without_positives": no_pos,
        "note": "mAP averages AP over classes with at least one test positive; classes without "
                "positives are listed here and excluded",
    }
    write_json(args.metrics, report)
    write_csv(args.per_class, per_class)
    decisions = probs >= thresholds
    out = pd.DataFrame({"image": frame["image"], "panorama": frame["panorama"]})
    for i, c in enumerate(classes):
        out[f"p_{c}"] = np.round(probs[:, i], 6)
    for i, c in enumerate(classes):
        out[c] = decisions[:, i].astype(int)
    write_csv(args.predictions, out)

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

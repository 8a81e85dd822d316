"""Print where the pipeline's results are, with the headline numbers (end of `make demo`)."""
from __future__ import annotations

import json
import sys
from pathlib import Path


def _load(path: Path):
    return json.loads(path.read_text()) if path.is_file() else None


def summary(root: str | Path = ".") -> str:
    root = Path(root)
    lines = ["", "pano360 results", "==============="]
    split = _load(root / "metrics/split.json")
    if split:
        lines.append(f"halves:      data/interim/halves/ ({split['halves']} from {split['panoramas_split']} "
                     f"panoramas; {len(split['skipped'])} skipped)")
    labels = _load(root / "metrics/labels.json")
    if labels:
        lines.append(f"labels:      data/interim/labels.csv ({labels['rows_kept']} halves, "
                     f"{len(labels['classes'])} classes; report metrics/labels.json)")
    part = _load(root / "metrics/partition.json")
    if part:
        h = part["halves"]
        lines.append(f"splits:      data/processed/{{train,val,test}}.csv ({h['train']}/{h['val']}/{h['test']} "
                     f"halves; max class-share deviation {part['max_class_share_deviation']:.3f})")
        lines.append("             plots/class_distribution.png")
    train = _load(root / "dvclive/metrics.json")
    if train:
        lines.append(f"model:       models/model.pt (best val mAP {train['best_val_mAP']:.4f}); "
                     "curves: dvc plots show")
    ev = _load(root / "metrics/evaluate.json")
    if ev:
        t = ev["tuned"]
        lines.append(f"test set:    mAP {t['mAP']:.4f}  CF1 {t['CF1']:.4f}  OF1 {t['OF1']:.4f} "
                     f"(tuned thresholds; at 0.5: CF1 {ev['at_0.5']['CF1']:.4f}  OF1 {ev['at_0.5']['OF1']:.4f})")
        lines.append("             metrics/evaluate.json, metrics/per_class.csv, plots/")
    lines.append("Compare runs: dvc metrics show / dvc metrics diff / dvc exp show; plots: dvc plots show")
    return "\n".join(lines)


if __name__ == "__main__":
    print(summary(sys.argv[1] if len(sys.argv) > 1 else "."))

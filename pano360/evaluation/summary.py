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
    split = _load(root / "reports/split.json")
    if split:
        lines.append(f"halves:      data/interim/halves/ ({split['halves']} from {split['panoramas_split']} "
                     f"panoramas; {len(split['skipped'])} skipped)")
    prepared = _load(root / "data/interim/prepared.json")
    if prepared:
        lines.append(f"prepared:    data/interim/prepared/ ({prepared['halves']} halves at {prepared['size']} px, "
                     f"{prepared['bytes'] / 2**20:.1f} MiB)")
    labels = _load(root / "reports/labels.json")
    if labels:
        lines.append(f"labels:      data/interim/labels.csv ({labels['rows_kept']} halves, "
                     f"{len(labels['classes'])} classes; report reports/labels.json)")
    part = _load(root / "reports/partition.json")
    if part:
        h = part["halves"]
        lines.append(f"splits:      data/processed/{{train,val,test}}.csv ({h['train']}/{h['val']}/{h['test']} "
                     f"halves; max class-share deviation {part['max_class_share_deviation']:.3f})")
    train = _load(root / "metrics/train.json")
    if train:
        lines.append(f"model:       models/model.pt (best val mAP {train['val_mAP']:.4f} in {train['epochs']} "
                     f"epochs); curves: dvc plots show")
    test, low, high = (_load(root / f"metrics/test{s}.json") for s in ("", "_lo", "_hi"))
    if test:
        def show(key):
            ci = f" [{low[key]:.3f}, {high[key]:.3f}]" if low and high and low.get(key) is not None else ""
            return f"{key} {test[key]:.4f}{ci}"
        report = _load(root / "reports/evaluate.json") or {}
        lines.append(f"test set:    {show('mAP')}  {show('CF1')}  {show('OF1')}")
        lines.append(f"             (tuned thresholds, 95 % intervals over {report.get('test_panoramas', '?')} "
                     f"test panoramas; at 0.5: CF1 {test['CF1@0.5']:.4f}  OF1 {test['OF1@0.5']:.4f})")
        lines.append("             metrics/, reports/evaluate.json, reports/per_class.csv, plots/")
    if (root / "models/bundle/bundle.json").is_file():
        lines.append("deploy:      models/bundle/ (ONNX + bundle.json; no PyTorch needed: "
                     "python models/bundle/predict.py PANORAMAS)")
    lines.append("Compare runs: pano360 compare / dvc metrics show / dvc exp show; plots: dvc plots show")
    return "\n".join(lines)


if __name__ == "__main__":
    print(summary(sys.argv[1] if len(sys.argv) > 1 else "."))

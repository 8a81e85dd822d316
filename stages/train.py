"""DVC stage train: finetune backbone + head; writes models/model.pt (best), models/last.pt.

Run as ``torchrun --standalone --nproc_per_node=N stages/train.py`` for DDP.
"""
import sys

from pano360.params import load_params, section
from pano360.train import Paths, TrainingError, train


def main() -> int:
    params = load_params()
    cfg = {"head": params["head"], "heads": params.get("heads") or {},
           "model": section(params, "model"), "train": section(params, "train")}
    paths = Paths(train_csv="data/processed/train.csv", val_csv="data/processed/val.csv",
                  image_dir="data/interim/halves")
    try:
        result = train(cfg, paths)
    except TrainingError as exc:
        print(f"train: {exc}", file=sys.stderr)
        return 1
    if result:
        print(f"train: best val mAP {result['best_val_mAP']:.4f} after {result['epochs_run']} epochs "
              f"→ models/model.pt")
    return 0


if __name__ == "__main__":
    sys.exit(main())

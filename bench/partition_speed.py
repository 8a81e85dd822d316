"""Partition time for 200,000 halves × 50 classes and its class-share balance.

    python bench/partition_speed.py [--panoramas 100000] [--classes 50]

Synthetic labels with skewed prevalence (40 % … 0.3 % of panoramas); a present class falls in
the left, right or both halves. Reports the wall time of pano360.data.partition.partition and the
largest |class share in split − split share| over classes present in ≥ 100 panoramas.
"""
import argparse
import os
import time

import numpy as np
import pandas as pd

from pano360.data.partition import SPLITS, partition


def synthetic(n_panoramas: int, n_classes: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    prevalence = np.geomspace(0.40, 0.003, n_classes)
    present = rng.random((n_panoramas, n_classes)) < prevalence
    where = rng.choice(3, size=(n_panoramas, n_classes), p=[0.35, 0.35, 0.30])
    left = present & (where != 1)
    right = present & (where != 0)
    ids = np.array([f"p{i:06d}" for i in range(n_panoramas)])
    y = np.empty((2 * n_panoramas, n_classes), dtype=np.int8)
    y[0::2], y[1::2] = left, right
    frame = pd.DataFrame(y, columns=[f"class_{c:02d}" for c in range(n_classes)])
    frame.insert(0, "panorama", np.repeat(ids, 2))
    frame.insert(0, "image", np.char.add(np.repeat(ids, 2), np.tile(["_left.jpg", "_right.jpg"], n_panoramas)))
    return frame


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--panoramas", type=int, default=100_000)
    ap.add_argument("--classes", type=int, default=50)
    args = ap.parse_args()
    frame = synthetic(args.panoramas, args.classes)
    t0 = time.perf_counter()
    parts, report, _ = partition(frame, {"train": 0.7, "val": 0.15, "test": 0.15}, seed=0)
    elapsed = time.perf_counter() - t0
    per_pano = frame.groupby("panorama").max(numeric_only=True).sum()
    common = [c for c in per_pano.index if per_pano[c] >= 100]
    dev = max(abs(report["per_class"][c][s]["share"] - report["share"][s]) for c in common for s in SPLITS)
    print(f"machine: {os.cpu_count()} cores; {len(frame)} halves x {args.classes} classes")
    print(f"partition time: {elapsed:.1f} s; split halves {report['halves']}")
    print(f"largest class-share deviation, {len(common)} classes in >= 100 panoramas: {dev:.4f} "
          f"(all classes: {report['max_class_share_deviation']:.4f})")


if __name__ == "__main__":
    main()

"""Split throughput on 8192×4096 JPEG panoramas: pano360's quality-keeping split (1 and 2
worker processes) against a plain PIL decode → crop → encode at quality 95, one process.

    python bench/split_throughput.py [--count 6] [--repeats 2]

All variants run side by side in one process on the same files; the ratios are the figures
to compare (absolute speeds on these shared machines are noisy).
"""
import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from pano360.data.demo import generate
from pano360.data.panorama import split_folder


def naive_split(src_dir: Path, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    for path in sorted(src_dir.iterdir()):
        with Image.open(path) as img:
            img.load()
            w, h = img.size
            img.crop((0, 0, w // 2, h)).save(out_dir / f"{path.stem}_left.jpg", quality=95)
            img.crop((w // 2, 0, w, h)).save(out_dir / f"{path.stem}_right.jpg", quality=95)


def mean_abs_diff(src_dir: Path, out_dir: Path, suffix: str) -> float:
    path = sorted(src_dir.iterdir())[0]
    full = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32)
    half = np.asarray(Image.open(out_dir / f"{path.stem}_left{suffix}").convert("RGB"), dtype=np.float32)
    return float(np.abs(full[:, : half.shape[1]] - half).mean())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=12)
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="pano360-bench-"))
    try:
        generate(work / "demo", count=args.count, width=8192, seed=1, quality=92)
        src = work / "demo" / "panoramas"
        times = {"pil_q95_1proc": [], "pano360_1worker": [], "pano360_2workers": []}
        for _ in range(args.repeats):  # interleaved, so load changes hit every variant alike
            for name in times:
                out = work / name
                shutil.rmtree(out, ignore_errors=True)
                t0 = time.perf_counter()
                if name == "pil_q95_1proc":
                    naive_split(src, out)
                else:
                    split_folder(src, out, workers=1 if "1worker" in name else 2, show_progress=False)
                times[name].append(time.perf_counter() - t0)
        best = {k: min(v) for k, v in times.items()}
        base = best["pil_q95_1proc"]
        sizes = {k: sum(f.stat().st_size for f in (work / k).iterdir()) for k in times}
        print(f"machine: {os.cpu_count()} cores, python {sys.version.split()[0]}; "
              f"{args.count} panoramas 8192x4096, best of {args.repeats}")
        print("| variant | panoramas/s | speed vs PIL q95 | halves MB | mean abs diff vs source |")
        print("|---|---|---|---|---|")
        for k in times:
            print(f"| {k} | {args.count / best[k]:.2f} | {base / best[k]:.2f}x | {sizes[k] / 1e6:.1f} | "
                  f"{mean_abs_diff(src, work / k, '.jpg'):.4f} |")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

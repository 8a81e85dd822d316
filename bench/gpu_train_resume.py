"""The real training loop on a GPU, interrupted and resumed: what bench/gpu_check.sh runs.

    python bench/gpu_train_resume.py [--model swinv2_tiny_window8_256] [--img-size 256]
                                     [--panoramas 96] [--batch 32] [--workers 8]

Builds a small demo data set (panoramas → halves → prepared at the training size → splits),
runs ``pano360.training.loop.train`` for 2 epochs in bf16 with channels_last and stops it
(as Ctrl-C would) right after epoch 1's resume state is written; runs it again, which must
resume at epoch 2 and finish; then prints what dvclive's system monitor recorded (GPU memory
and utilisation, CPU, RAM). Exits 1 when any of that does not happen. Refuses to run without
a GPU: a CPU run would measure nothing this is for.
"""
import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

from pano360.sample import build_splits
from pano360.training.loop import Paths, train


class Stop(KeyboardInterrupt):
    pass


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", default="swinv2_tiny_window8_256")
    ap.add_argument("--img-size", type=int, default=256)
    ap.add_argument("--panoramas", type=int, default=96)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--workers", type=int, default=8)
    args = ap.parse_args()
    if not torch.cuda.is_available():
        print("gpu_train_resume: no GPU visible to PyTorch; nothing to check", file=sys.stderr)
        return 1
    work = Path(tempfile.mkdtemp(prefix="pano360-gpu-"))
    t0 = time.perf_counter()
    build_splits(work, count=args.panoramas, width=2 * args.img_size * 2, img_size=args.img_size, min_scale=0.8,
                 workers=8)
    print(f"data: {args.panoramas} panoramas → halves prepared at the training size in "
          f"{time.perf_counter() - t0:.0f} s", flush=True)
    cfg = {"head": "csra", "model": {"name": args.model, "pretrained": False, "img_size": args.img_size, "kwargs": {}},
           "train": {"epochs": 2, "batch_size": args.batch, "lr": 1e-4, "workers": args.workers,
                     "precision": "bf16", "channels_last": True, "early_stop_patience": 0, "monitor_system": True,
                     "augment": {"scale": [0.8, 1.0], "ratio": [0.9, 1.1]}}}
    paths = Paths(train_csv=str(work / "train.csv"), val_csv=str(work / "val.csv"), image_dir=str(work / "prepared"),
                  prepared=str(work / "prepared.json"), best=str(work / "model.pt"), last=str(work / "last.pt"),
                  resume_dir=str(work / "resume"), live_dir=str(work / "live"))
    ends = []

    def stop_after_first_epoch(phase):
        if phase == "epoch_end":
            ends.append(phase)
            raise Stop()
    t0 = time.perf_counter()
    try:
        train(cfg, paths, show_progress=False, on_phase=stop_after_first_epoch)
        print("FAIL: the first run was not interrupted", flush=True)
        return 1
    except Stop:
        pass
    first = time.perf_counter() - t0
    states = list((work / "resume").glob("*.pt"))
    if not states or (work / "model.pt").exists():
        print(f"FAIL: after the interruption: resume states {states}, model.pt exists "
              f"{(work / 'model.pt').exists()}", flush=True)
        return 1
    print(f"run 1: interrupted after epoch 1 ({first:.0f} s, resume state {states[0].stat().st_size >> 20} MiB)",
          flush=True)
    t0 = time.perf_counter()
    result = train(cfg, paths, show_progress=False)
    if result.get("epochs_run") != 2 or not (work / "model.pt").is_file():
        print(f"FAIL: the resumed run ended with {result}", flush=True)
        return 1
    print(f"run 2: resumed at epoch 2 and finished ({time.perf_counter() - t0:.0f} s), best val mAP "
          f"{result['best_val_mAP']:.3f}; peak GPU memory {torch.cuda.max_memory_allocated() / 2**30:.1f} GiB",
          flush=True)
    system = work / "live/plots/metrics/system"
    print("dvclive system metrics (last value of each curve):")
    for curve in sorted(system.rglob("*.tsv")):
        rows = curve.read_text().strip().splitlines()
        print(f"  {curve.relative_to(system).with_suffix('')}: {rows[-1].split(chr(9))[-1]} ({len(rows) - 1} samples)")
    if not any("gpu" in str(c) for c in system.rglob("*.tsv")):
        print("FAIL: dvclive recorded no GPU metrics", flush=True)
        return 1
    print(json.dumps({"gpu_train_resume": "ok"}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

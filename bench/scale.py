"""How the per-round work scales: the label, split, evaluation and selection steps at 100,000
halves × 50 classes, and DVC's no-op check of a workspace holding 20,000 and 100,000 halves.

    python bench/scale.py [--halves 100000] [--classes 50] [--dvc-files 20000 100000]

* load_labels: a LabelBox Export v2 file of one data row per half (the demo's export shapes,
  50 checklist options), read, checked and matched to the halves;
* partition: the grouped multi-label stratification of the halves' panoramas;
* evaluate's report: every metric plus 1000 panorama-bootstrap resamples (the stage's default);
* select: ranking 50,000 panoramas for the next batch (uncertainty + diversity);
* DVC: a git+DVC repository whose one stage writes N small files into a folder output (as
  split_images writes halves); after `dvc repro` records it, the no-op `dvc status` and
  `dvc repro` a user runs at the start of each round. The real pipeline has a few such folders
  (halves, prepared halves); the cost is per file, so it scales with their total.
Synthetic, tiny files: what is measured is the per-row and per-file overhead, not decoding.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from partition_speed import synthetic  # noqa: E402

from pano360.data.demo.generate import _Export  # noqa: E402
from pano360.data.partition import partition  # noqa: E402
from pano360.evaluation.report import evaluation_report  # noqa: E402
from pano360.labels.select import rank  # noqa: E402
from pano360.labels.table import load_labels  # noqa: E402


def timed(label, fn):
    t0 = time.perf_counter()
    out = fn()
    print(f"{label:<58} {time.perf_counter() - t0:7.1f} s", flush=True)
    return out


def python_steps(n_halves: int, n_classes: int, work: Path) -> None:
    frame = synthetic(n_halves // 2, n_classes)
    classes = [c for c in frame.columns if c.startswith("class_")]
    export = _Export(0, 64, tuple(classes))
    rows = frame[classes].to_numpy(bool)

    def write_export():
        with open(work / "labels.ndjson", "w") as fh:
            for name, present in zip(frame["image"], rows):
                fh.write(json.dumps(export.row(name, {c for c, p in zip(classes, present) if p})) + "\n")
    timed(f"write a LabelBox export of {n_halves:,} rows (setup)", write_export)
    print(f"  {os.path.getsize(work / 'labels.ndjson') / 2**20:.0f} MiB")
    table = timed(f"load_labels: {n_halves:,} halves × {n_classes} classes",
                  lambda: load_labels(work / "labels.ndjson", halves=list(frame["image"]), classes=classes))
    assert len(table.frame) == n_halves
    parts, _, _ = timed("partition", lambda: partition(table.frame, {"train": 0.7, "val": 0.15, "test": 0.15}, seed=0))
    test = parts["test"]
    rng = np.random.default_rng(0)
    targets = test[classes].to_numpy(np.int64)
    probs = np.clip(targets * 0.6 + rng.random(targets.shape) * 0.5, 0, 1)
    timed(f"evaluate's report, 1000 bootstrap resamples ({len(test):,} test halves)",
          lambda: evaluation_report(targets, probs, np.full(len(classes), 0.5), test["panorama"].to_numpy()))
    halves = frame[["image", "panorama"]].copy()
    halves["side"] = np.tile(["left", "right"], n_halves // 2)
    for i, c in enumerate(classes):
        halves[f"p_{c}"] = rng.random(n_halves)
    timed(f"select: rank {n_halves // 2:,} panoramas, budget 200",
          lambda: rank(halves, classes, np.full(len(classes), 0.5), budget=200))


def dvc_noop(n_files: int, work: Path) -> None:
    repo = work / f"dvc{n_files}"
    repo.mkdir()
    env = dict(os.environ, DVC_NO_ANALYTICS="1", GIT_AUTHOR_NAME="b", GIT_AUTHOR_EMAIL="b@b",
               GIT_COMMITTER_NAME="b", GIT_COMMITTER_EMAIL="b@b")
    dvc = str(Path(sys.executable).parent / "dvc")

    def run(*args):
        subprocess.run(list(args), cwd=repo, env=env, check=True, capture_output=True, text=True)
    run("git", "init", "-q")
    run(dvc, "init", "-q")
    (repo / "make.py").write_text(
        "import os, sys\nn, out = int(sys.argv[1]), sys.argv[2]\nos.makedirs(out, exist_ok=True)\n"
        "for i in range(n):\n    open(f'{out}/h{i:06d}_left.jpg', 'wb').write(os.urandom(600))\n")
    (repo / "dvc.yaml").write_text(f"stages:\n  split:\n    cmd: python make.py {n_files} halves\n"
                                   f"    deps: [make.py]\n    outs: [halves]\n")
    timed(f"dvc repro, first run: write and cache {n_files:,} files (setup)", lambda: run(dvc, "repro", "-q"))
    timed(f"no-op dvc status, {n_files:,} files", lambda: run(dvc, "status", "-q"))
    timed(f"no-op dvc repro, {n_files:,} files", lambda: run(dvc, "repro", "-q"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--halves", type=int, default=100_000)
    ap.add_argument("--classes", type=int, default=50)
    ap.add_argument("--dvc-files", type=int, nargs="*", default=[20_000, 100_000])
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="pano360-scale-"))
    try:
        python_steps(args.halves, args.classes, work)
        for n in args.dvc_files:
            dvc_noop(n, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

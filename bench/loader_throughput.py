"""Samples/s of one data-loading process feeding training from 8K panoramas, in one run:

  (a) the old path: every epoch decodes each 4096×4096 half JPEG (reduced DCT-scale decode to
      1.25 × img_size, as pano360 did before prepared halves), then random-resized-crop,
      colour jitter and normalisation (the README's real-data recipe, img_size 256);
  (b) the prepared path: the prepare stage's halves (decoded once, stored at the prepared
      size), held in the in-RAM cache, the same augmentation applied after;
  (c) compute only: forward + backward + AdamW of the demo model (test_resnet @ 128, batch 16)
      on tensors already in memory, for scale.

    python bench/loader_throughput.py [--panoramas 8] [--epochs 3]

It also reports what preparing cost once and the disk the prepared halves take, per 1,000
panoramas. The last line prints the (b)/(a) ratio. Run it alone: two torch processes on two
cores slow each other far more than 2×.
"""
import argparse
import os
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch
from PIL import Image

from pano360.data.dataset import HalfImages, build_transform
from pano360.data.demo.generate import _panorama
from pano360.model.backbone import build_model
from pano360.data.panorama import split_folder
from pano360.data.pixels import to_rgb
from pano360.data.prepare import PrepareParams, bytes_on_disk, prepare_folder, prepared_name, settings

RECIPE = {"scale": [0.8, 1.0], "ratio": [0.9, 1.1], "hflip": 0.0, "color_jitter": 0.2}
IMG_SIZE = 256


class OldHalves(torch.utils.data.Dataset):
    """pano360's loader before prepared halves: decode at 1/2, 1/4 or 1/8 DCT scale keeping
    at least 1.25 × img_size, every time a half is read."""

    def __init__(self, paths, transform):
        self.paths, self.transform = paths, transform

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, i):
        with Image.open(self.paths[i]) as img:
            min_size = int(IMG_SIZE * 1.25)
            scale = min_size / min(img.size)
            img.draft("RGB", (max(1, int(img.width * scale)), max(1, int(img.height * scale))))
            img.load()
            return self.transform(to_rgb(img)), torch.zeros(1)


def rate(dataset, epochs: int) -> tuple[float, float]:
    """(first epoch samples/s, later epochs samples/s) reading every sample in order."""
    times = []
    for epoch in range(epochs):
        t0 = time.perf_counter()
        for i in range(len(dataset)):
            dataset[(epoch, i)] if isinstance(dataset, HalfImages) else dataset[i]
        times.append(time.perf_counter() - t0)
    n = len(dataset)
    return n / times[0], n * (epochs - 1) / sum(times[1:])


def compute_only(steps: int = 10) -> float:
    torch.manual_seed(0)
    model = build_model({"name": "test_resnet", "img_size": 128}, "fc", {}, 8).train()
    x, y = torch.randn(16, 3, 128, 128), (torch.rand(16, 8) > 0.7).float()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    for i in range(steps + 3):
        if i == 3:
            t0 = time.perf_counter()
        torch.nn.functional.binary_cross_entropy_with_logits(model(x), y).backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    return 16 * steps / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--panoramas", type=int, default=8)
    ap.add_argument("--epochs", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(1)  # one loading process, as one DataLoader worker has
    work = Path(tempfile.mkdtemp())
    (work / "raw").mkdir()
    for i in range(args.panoramas):
        _panorama(seed=5, index=i, width=8192)[0].save(work / f"raw/p{i:02d}.jpg", quality=92)
    manifest = split_folder(work / "raw", work / "halves", workers=1, show_progress=False)["manifest"]
    images = [h["image"] for h in manifest]
    data_cfg = {"input_size": [3, IMG_SIZE, IMG_SIZE], "mean": [0.485, 0.456, 0.406],
                "std": [0.229, 0.224, 0.225], "interpolation": "bicubic"}
    transform = build_transform(data_cfg, True, RECIPE)

    old = OldHalves([work / "halves" / name for name in images], transform)
    spec = settings(PrepareParams(), IMG_SIZE, RECIPE["scale"][0])
    t0 = time.perf_counter()
    prepare_folder(images, work / "halves", work / "prepared", spec, workers=1, show_progress=False)
    prepare_s = time.perf_counter() - t0
    frame = pd.DataFrame({"image": images, "panorama": "p", "a": 0})
    names = [prepared_name(i, spec["format"]) for i in images]
    prepared = HalfImages(frame, work / "prepared", ["a"], transform, names, cache=True)
    uncached = HalfImages(frame, work / "prepared", ["a"], transform, names, cache=False)

    a_first, a_later = rate(old, args.epochs)
    b_first, b_later = rate(prepared, args.epochs)
    b2_first, b2_later = rate(uncached, args.epochs)
    c = compute_only()
    per_half = bytes_on_disk(work / "prepared") / len(images)
    print(f"machine: {os.cpu_count()} cores, torch {torch.__version__}; {len(images)} halves of 4096×4096 "
          f"(JPEG q92), img_size {IMG_SIZE}, prepared {spec['size']}×{spec['size']} JPEG q{spec['quality']}")
    print("| path | first epoch samples/s | later epochs samples/s |\n|---|---|---|")
    print(f"| (a) decode the 4096² halves every epoch | {a_first:.1f} | {a_later:.1f} |")
    print(f"| (b) prepared halves, RAM cache | {b_first:.1f} | {b_later:.1f} |")
    print(f"| (b') prepared halves, no cache | {b2_first:.1f} | {b2_later:.1f} |")
    print(f"| (c) compute only, test_resnet@128 fwd+bwd | – | {c:.1f} |")
    print(f"preparing once: {len(images) / prepare_s:.1f} halves/s (1 process); "
          f"{per_half / 1024:.1f} KiB per prepared half = {per_half * 2000 / 2**20:.0f} MiB per 1,000 panoramas")
    print(f"(b) / (a), later epochs: {b_later / a_later:.1f}x")


if __name__ == "__main__":
    main()

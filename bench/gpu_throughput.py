"""Model and loader speed on a GPU: what bench/gpu_check.sh runs on a lent GPU machine.

    python bench/gpu_throughput.py [--model swinv2_tiny_window8_256] [--img-size 256]
                                   [--batch 64] [--workers 16] [--steps 30] [--heads fc csra mldecoder]

Per head: training steps/s and images/s of the backbone + head in bf16 autocast with
channels_last (forward, backward, AdamW), and the peak GPU memory; then the loader alone:
images/s that `--workers` DataLoader processes deliver from prepared halves at the recipe's
augmentation (random-resized crop, colour jitter), so the slower of the two is the
bottleneck. On a machine without CUDA it runs on the CPU (a smoke test of the script).
"""
import argparse
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch
from PIL import Image

from pano360.data.dataset import HalfImages, build_transform
from pano360.model.backbone import build_model

RECIPE = {"scale": [0.8, 1.0], "ratio": [0.9, 1.1], "hflip": 0.0, "color_jitter": 0.2}


def model_rate(name, img_size, head, batch, steps, device, kwargs) -> tuple[float, float]:
    torch.manual_seed(0)
    model = build_model({"name": name, "img_size": img_size, "kwargs": kwargs}, head, {}, 20).to(device)
    cuda = device.type == "cuda"
    if cuda:
        model = model.to(memory_format=torch.channels_last)
        torch.cuda.reset_peak_memory_stats()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    x = torch.randn(batch, 3, img_size, img_size, device=device)
    if cuda:
        x = x.contiguous(memory_format=torch.channels_last)
    y = (torch.rand(batch, 20, device=device) > 0.8).float()
    for i in range(steps + 5):
        if i == 5:
            if cuda:
                torch.cuda.synchronize()
            t0 = time.perf_counter()
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=cuda):
            loss = torch.nn.functional.binary_cross_entropy_with_logits(model(x).float(), y)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    if cuda:
        torch.cuda.synchronize()
    seconds = time.perf_counter() - t0
    peak = torch.cuda.max_memory_allocated() / 2**30 if cuda else float("nan")
    return steps * batch / seconds, peak


def loader_rate(img_size, batch, workers) -> float:
    """Images/s the loader delivers: prepared halves (noise: the slowest JPEGs to decode) at
    the size prepare_halves writes for a random-resized crop, four batches per worker so every
    worker stays busy; timed after each worker's first batch (their start-up)."""
    work = Path(tempfile.mkdtemp())
    size = int(img_size / 0.8 ** 0.5) + 1
    names = []
    for i in range(max(256, 4 * batch * max(1, workers))):
        Image.effect_noise((size, size), 40 + i % 20).convert("RGB").save(work / f"h{i}.jpg", quality=95)
        names.append(f"h{i}.jpg")
    frame = pd.DataFrame({"image": names, "panorama": names, "a": 0})
    cfg = {"input_size": [3, img_size, img_size], "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225],
           "interpolation": "bicubic"}
    data = HalfImages(frame, work, ["a"], build_transform(cfg, True, RECIPE))
    loader = torch.utils.data.DataLoader(data, batch_size=batch, shuffle=True, num_workers=workers,
                                         pin_memory=torch.cuda.is_available())
    seen, t0 = 0, None
    for i, (images, _) in enumerate(loader):
        if i == max(1, workers):
            t0 = time.perf_counter()
        elif t0 is not None:
            seen += images.shape[0]
    return seen / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", default="swinv2_tiny_window8_256")
    ap.add_argument("--img-size", type=int, default=256)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--workers", type=int, default=16)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--heads", nargs="+", default=["fc", "csra", "mldecoder"])
    ap.add_argument("--kwargs", default="{}", help="timm kwargs as a Python dict literal")
    args = ap.parse_args()
    import ast
    kwargs = ast.literal_eval(args.kwargs)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    name = torch.cuda.get_device_name() if device.type == "cuda" else "CPU (smoke test)"
    print(f"device: {name}; {args.model} @{args.img_size}, batch {args.batch}, bf16 autocast, channels_last")
    print("| head | train images/s | peak GPU memory GiB |\n|---|---|---|")
    rates = {}
    for head in args.heads:
        rates[head], peak = model_rate(args.model, args.img_size, head, args.batch, args.steps, device, kwargs)
        print(f"| {head} | {rates[head]:.0f} | {peak:.1f} |", flush=True)
    load = loader_rate(args.img_size, args.batch, args.workers)
    print(f"loader: {load:.0f} images/s from prepared halves with {args.workers} workers")
    slowest = min(rates.values())
    print(f"bottleneck: {'the loader' if load < slowest else 'the model'} "
          f"(loader {load:.0f} vs slowest head {slowest:.0f} images/s)")


if __name__ == "__main__":
    main()

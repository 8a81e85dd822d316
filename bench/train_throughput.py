"""Training-loop benchmarks (figures go to BENCHMARKS.md):

1. real loop / in-memory: images/s of pano360.training.loop.train on the demo halves (real JPEG
   decoding + augmentation) divided by images/s of the same model, batch and optimiser on
   tensors already in memory;
2. each head's added cost as a share of the backbone's training-step time, SwinV2-T 256.

    python bench/train_throughput.py [--epochs 2] [--skip-heads]

Run from the repo root after `make demo` (it reads data/processed and data/interim/prepared).
Loading from 8K panoramas: bench/loader_throughput.py.
"""
import argparse
import os
import tempfile
import time
from pathlib import Path

import torch
import yaml

from pano360.model.backbone import build_model, data_config
from pano360.training.loop import Paths, train


def real_vs_memory(epochs: int) -> None:
    params = yaml.safe_load(open("params.yaml"))
    cfg = {"head": params["head"], "heads": params["heads"], "model": params["model"],
           "train": dict(params["train"], epochs=epochs, early_stop_patience=0, monitor_system=False)}
    out = Path(tempfile.mkdtemp())
    paths = Paths("data/processed/train.csv", "data/processed/val.csv", "data/interim/prepared",
                  prepared="data/interim/prepared.json", best=str(out / "m.pt"), last=str(out / "l.pt"), resume_dir=str(out / "r"), live_dir=str(out / "live"))
    train(cfg, paths, show_progress=False)
    rows = (out / "live/plots/metrics/train/images_per_s.tsv").read_text().strip().splitlines()[1:]
    real = max(float(r.split("\t")[-1]) for r in rows)  # best epoch: excludes first-epoch warm-up noise

    torch.manual_seed(0)
    options = {k: v for k, v in (cfg["heads"].get(cfg["head"]) or {}).items() if k != "lr_mult"}
    model = build_model(cfg["model"], cfg["head"], options, 8)
    size = data_config(model, cfg["model"].get("img_size"))["input_size"][-1]
    batch = int(cfg["train"]["batch_size"])
    x, y = torch.randn(batch, 3, size, size), (torch.rand(batch, 8) > 0.7).float()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model.train()
    t0 = None
    for i in range(13):
        if i == 3:
            t0 = time.perf_counter()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model(x), y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)  # the same step as the loop's
        opt.step()
        opt.zero_grad(set_to_none=True)
        loss.item()
    memory = 10 * batch / (time.perf_counter() - t0)
    print(f"| demo config {cfg['model']['name']}@{size}, head {cfg['head']}, batch {batch} | "
          f"{real:.1f} | {memory:.1f} | {real / memory:.2f} |")


def head_costs(batch: int = 4) -> None:
    torch.manual_seed(0)
    base = {"name": "swinv2_tiny_window8_256", "img_size": 256}
    x = torch.randn(batch, 3, 256, 256)
    y = torch.rand(batch, 20)

    def step_time(model, fn):
        opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
        times = []
        for i in range(4):
            t0 = time.perf_counter()
            fn().backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
            if i:
                times.append(time.perf_counter() - t0)
        return min(times)

    rows = []
    for head, opts in (("fc", {}), ("csra", {"num_heads": 4, "lam": 0.5}), ("mldecoder", {})):
        model = build_model(base, head, opts, 20).train()
        with torch.no_grad():
            tokens = model.tokens(x)
        tokens = tokens.detach().requires_grad_(True)
        head_t = step_time(model.head, lambda: torch.nn.functional.binary_cross_entropy_with_logits(
            model.head(tokens), y))
        full_t = step_time(model, lambda: torch.nn.functional.binary_cross_entropy_with_logits(model(x), y))
        rows.append((head, head_t, full_t))
    for head, head_t, full_t in rows:
        print(f"| {head} | {head_t * 1000:.1f} | {full_t * 1000:.0f} | {100 * head_t / (full_t - head_t):.2f} % |")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--skip-heads", action="store_true")
    args = ap.parse_args()
    print(f"machine: {os.cpu_count()} cores, torch {torch.__version__}, threads {torch.get_num_threads()}")
    print("| config | real loop img/s | in-memory img/s | ratio |\n|---|---|---|---|")
    real_vs_memory(args.epochs)
    if not args.skip_heads:
        print("\nSwinV2-T 256, batch 4, 20 classes, CPU training step (fwd+bwd+AdamW)")
        print("| head | head step ms | backbone+head step ms | head cost / backbone |\n|---|---|---|---|")
        head_costs()


if __name__ == "__main__":
    main()

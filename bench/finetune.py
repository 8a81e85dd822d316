"""Finetuning measured end to end: a backbone pretrained in-house against the same model from
scratch, at equal training time.

    python bench/finetune.py [--out bench/out/finetune] [--source hard] [--target shapes]
                             [--epochs 20] [--lr 0.001] [--layer-decay 0.75]

Pretrained weights cannot be downloaded on the build machine, so one is made here:
1. params.yaml's model and recipe trained from scratch on the SOURCE preset (until val mAP
   stops improving); its backbone is saved as OUT/pretrained.safetensors with timm's key names,
   as a hub checkpoint would be;
2. on the TARGET preset, EPOCHS epochs each (no early stop, so both take the same time):
   - scratch: params.yaml's recipe;
   - finetuned: the same, loading the file through ``model.pretrained_file`` (so the head's
     ``lr_mult: auto`` becomes 10) with ``train.lr`` LR and ``train.layer_decay`` LAYER_DECAY, the
     README's finetuning settings scaled to this small CNN.
Prints test mAP (at the best validation epoch) and wall time of both; writes OUT/results.json and
OUT/curves.png (validation mAP per epoch). Data is generated under OUT (or reused from
bench/presets.py's output when --data-root points there).
"""
import argparse
import sys
import time
from pathlib import Path

import matplotlib
import pandas as pd
import torch
import yaml
from safetensors.torch import save_file

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hard_recipe import prepare_data, set_value  # noqa: E402
from presets import run_default  # noqa: E402

from pano360.io import write_json  # noqa: E402


def save_backbone(checkpoint: Path, out: Path) -> int:
    """The trained model's backbone tensors under timm's own names (no ``backbone.`` prefix,
    no head): what ``model.pretrained_file`` expects of a downloaded checkpoint."""
    state = torch.load(checkpoint, map_location="cpu", weights_only=False)["state_dict"]
    backbone = {k[len("backbone."):]: v.contiguous() for k, v in state.items() if k.startswith("backbone.")}
    save_file(backbone, str(out))
    return sum(v.numel() for v in backbone.values())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default="bench/out/finetune")
    ap.add_argument("--data-root", default="bench/out/presets", help="per-preset data of bench/presets.py, reused")
    ap.add_argument("--source", default="hard")
    ap.add_argument("--target", default="shapes")
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--lr", type=float, default=0.001)
    ap.add_argument("--layer-decay", type=float, default=0.75)
    ap.add_argument("--set", action="append", default=[], help="params override for every run")
    ap.add_argument("--source-checkpoint", help="a model.pt params.yaml's recipe already trained on SOURCE (e.g. "
                                                "bench/presets.py's OUT/hard/run/model.pt): step 1 is skipped")
    args = ap.parse_args()
    out, root = Path(args.out), Path(args.data_root)
    out.mkdir(parents=True, exist_ok=True)
    params = yaml.safe_load(Path("params.yaml").read_text())
    for assignment in args.set:
        set_value(params, assignment)

    weights = out / "pretrained.safetensors"
    t0 = time.perf_counter()
    if args.source_checkpoint:
        checkpoint = Path(args.source_checkpoint)
        meta = torch.load(checkpoint, map_location="cpu", weights_only=False)
        pre = {"checkpoint": str(checkpoint), "epochs": meta.get("epochs_run"), "best_val_mAP": meta["best_val_mAP"]}
    else:
        source = prepare_data(root / args.source, params, preset=args.source)
        pre = run_default(source, out / f"pretrain_{args.source}", params)
        checkpoint = out / f"pretrain_{args.source}" / "model.pt"
    count = save_backbone(checkpoint, weights)
    print(f"pretrained on {args.source}: {pre['epochs']} epochs, val mAP {pre['best_val_mAP']:.4f}, "
          f"{count:,} backbone values → {weights} ({time.perf_counter() - t0:.0f} s)", flush=True)

    target = prepare_data(root / args.target, params, preset=args.target)
    budget = {"epochs": args.epochs, "early_stop_patience": 0}
    scratch = yaml.safe_load(yaml.safe_dump(params))
    scratch["train"].update(budget)
    tuned = yaml.safe_load(yaml.safe_dump(scratch))
    tuned["model"]["pretrained_file"] = str(weights)
    tuned["train"].update(lr=args.lr, layer_decay=args.layer_decay)
    results = {}
    for name, run_params in (("scratch", scratch), ("finetuned", tuned)):
        r = run_default(target, out / f"{name}_{args.target}", run_params)
        r["model"] = f"{name} ({args.epochs} epochs)"
        results[name] = r
        print(f"{name}: test mAP {r['test_mAP']:.4f} (val {r['best_val_mAP']:.4f}) in {r['seconds']:.0f} s",
              flush=True)
    write_json(out / "results.json", {"source": args.source, "target": args.target, "epochs": args.epochs,
                                      "finetune": {"lr": args.lr, "layer_decay": args.layer_decay},
                                      "pretrain": pre, "results": results})
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    for r in results.values():
        c = pd.DataFrame(r["curve"])
        ax.plot(c["epoch"], c["val_mAP"], label=f"{r['model']}: test mAP {r['test_mAP']:.3f}")
    ax.set(xlabel="epoch", ylabel="validation mAP", ylim=(0, 1),
           title=f"{args.target}: from scratch vs finetuned from a {args.source}-pretrained backbone")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(out / "curves.png", dpi=110)
    print(f"\n| {args.target}, {args.epochs} epochs | test mAP | best val mAP | wall time (s) |\n|---|---|---|---|")
    for name, r in results.items():
        print(f"| {name} | {r['test_mAP']:.4f} | {r['best_val_mAP']:.4f} | {r['seconds']:.0f} |")


if __name__ == "__main__":
    main()

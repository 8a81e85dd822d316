"""Does choosing what to label help? A simulated labelling loop, one strategy against another.

    python bench/active_learning.py [--preset demo hard] [--seeds 0 1 2] [--rounds 4]
                                    [--start 0.2] [--batch 0.1] [--epochs 15]

The training panoramas of a built-in data set are the pool; a random 20 % of them start
labelled. Each round trains from scratch on the labelled ones (params.yaml's recipe, fewer
epochs), tunes thresholds on val, scores the rest with `pano360 select`'s ranking, and
"labels" the next batch (10 % of the pool) the strategy picks: random, uncertainty,
uncertainty+diversity. Validation mAP is recorded against labelled panoramas, for every
strategy and seed (the start set and training seed vary with the seed; within a seed all
strategies start from the same labelled set). Writes OUT/active_learning.json and
OUT/active_learning.png (mean ± sd over seeds).
"""
import argparse
import json
import sys
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import yaml

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hard_recipe import prepare_data, training_config  # noqa: E402

from pano360.data.dataset import read_split  # noqa: E402
from pano360.use.inference import split_probabilities  # noqa: E402
from pano360.io import write_csv, write_json  # noqa: E402
from pano360.labels.select import STRATEGIES, rank  # noqa: E402
from pano360.evaluation.thresholds import fit_thresholds  # noqa: E402
from pano360.training.loop import Paths, train  # noqa: E402


def run_round(data: Path, work: Path, params: dict, labelled: pd.DataFrame, seed: int, epochs: int):
    work.mkdir(parents=True, exist_ok=True)
    write_csv(work / "train.csv", labelled)
    cfg = training_config(params, epochs=epochs, seed=seed, monitor_system=False)
    result = train(cfg, Paths(str(work / "train.csv"), str(data / "val.csv"), str(data / "prepared"),
                              prepared=str(data / "prepared.json"), best=str(work / "model.pt"),
                              last=str(work / "last.pt"), resume_dir=str(work / "resume"),
                              live_dir=str(work / "live")), show_progress=False)
    return result["best_val_mAP"], work / "model.pt"


def simulate(data: Path, out: Path, params: dict, seed: int, rounds: int, start: float, batch: float,
             epochs: int) -> list[dict]:
    train_frame, classes = read_split(data / "train.csv")
    val, _ = read_split(data / "val.csv")
    panoramas = sorted(set(train_frame["panorama"]))
    rng = np.random.default_rng(seed)
    first = set(rng.choice(panoramas, size=max(1, round(start * len(panoramas))), replace=False))
    step = max(1, round(batch * len(panoramas)))
    records = []
    for strategy in STRATEGIES:
        labelled = set(first)
        for r in range(rounds + 1):
            frame = train_frame[train_frame["panorama"].isin(labelled)]
            val_map, model = run_round(data, out / f"seed{seed}/{strategy}/round{r}", params, frame, seed, epochs)
            records.append({"strategy": strategy, "seed": seed, "round": r, "labelled": len(labelled),
                            "val_mAP": val_map})
            print(f"seed {seed} {strategy:<22} round {r}: {len(labelled)} panoramas labelled, val mAP "
                  f"{val_map:.4f}", flush=True)
            if r == rounds:
                break
            pool = train_frame[~train_frame["panorama"].isin(labelled)].reset_index(drop=True)
            probs_val, targets_val, _ = split_probabilities(model, val, data / "prepared", data / "prepared.json",
                                                            show_progress=False)
            thresholds = fit_thresholds(probs_val, targets_val, groups=val["panorama"].to_numpy()).thresholds
            probs, _, _ = split_probabilities(model, pool, data / "prepared", data / "prepared.json",
                                              show_progress=False)
            scored = pool[["image", "panorama"]].assign(side=pool["image"].str.contains("_left").map(
                {True: "left", False: "right"}))
            for i, c in enumerate(classes):
                scored[f"p_{c}"] = probs[:, i]
            picks = rank(scored, classes, thresholds, min(step, scored["panorama"].nunique()), strategy, seed + r)
            labelled |= set(picks["panorama"])
    return records


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--preset", nargs="+", default=["demo", "hard"])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--start", type=float, default=0.2)
    ap.add_argument("--batch", type=float, default=0.1)
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--out", default="bench/out/active_learning")
    args = ap.parse_args()
    params = yaml.safe_load(Path("params.yaml").read_text())
    out = Path(args.out)
    # Presets not run this time keep their earlier results, so one set can be rerun alone.
    previous = out / "active_learning.json"
    results = json.loads(previous.read_text())["results"] if previous.exists() else {}
    for preset in args.preset:
        data = prepare_data(out / preset, params, preset)
        records = []
        for seed in args.seeds:
            records += simulate(data, out / preset / "runs", params, seed, args.rounds, args.start, args.batch,
                                args.epochs)
        results[preset] = records
        write_json(previous, {"settings": vars(args), "results": results})
    fig, axes = plt.subplots(1, len(results), figsize=(5.2 * len(results), 3.6), squeeze=False)
    for ax, (preset, records) in zip(axes[0], results.items()):
        frame = pd.DataFrame(records)
        for strategy in STRATEGIES:
            curve = frame[frame["strategy"] == strategy].groupby("round").agg(
                labelled=("labelled", "mean"), mean=("val_mAP", "mean"), sd=("val_mAP", "std"))
            ax.errorbar(curve["labelled"], curve["mean"], yerr=curve["sd"].fillna(0), label=strategy, capsize=3,
                        marker="o", ms=3)
        ax.set(title=f"{preset} set: {len(args.seeds)} seeds, mean ± sd", xlabel="labelled training panoramas",
               ylabel="validation mAP")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "active_learning.png", dpi=110)
    print("\n| set | strategy | " + " | ".join(f"round {r}" for r in range(args.rounds + 1)) + " |")
    print("|---|---|" + "---|" * (args.rounds + 1))
    for preset, records in results.items():
        frame = pd.DataFrame(records)
        for strategy in STRATEGIES:
            cells = []
            for r in range(args.rounds + 1):
                sub = frame[(frame["strategy"] == strategy) & (frame["round"] == r)]
                cells.append(f"{sub['val_mAP'].mean():.3f} ± {sub['val_mAP'].std():.3f} ({sub['labelled'].iloc[0]})")
            print(f"| {preset} | {strategy} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()

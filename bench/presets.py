"""The default recipe against the reference CNN on every built-in preset, in one run.

    python bench/presets.py [--out bench/out/presets] [--presets demo hard shapes]
                            [--set train.lr=0.002 ...] [--reference-epochs 40]

Per preset: generate it (`python -m pano360.data.demo --preset NAME`), run the pipeline's split,
labels, partition and prepare code with params.yaml's values, train params.yaml's recipe as it
is (``--set`` overrides any value, as `dvc exp run -S` would) and bench/reference_cnn.py's plain
max-pooling CNN on the same prepared halves and splits; both are scored on the test split at
their best validation epoch. Prints one table with the ratio default ÷ reference per preset and
writes OUT/results.json, OUT/curves.csv and OUT/curves.png (validation mAP, training loss and
the learning rate per epoch: where the plateau schedule decayed and where training stopped).
Each training runs alone; times are wall-clock seconds on this machine. ``--previous`` adds
the recipe the defaults replaced (a cosine schedule over a fixed 30 epochs, early stop after 8)
to every preset. A run whose result is already under OUT (same recipe) is read, not redone.
"""
import argparse
import json
import sys
import time
from pathlib import Path

import matplotlib
import pandas as pd
import yaml

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hard_recipe import prepare_data, set_value, training_config  # noqa: E402
from reference_cnn import train_reference  # noqa: E402

from pano360.data.dataset import read_split  # noqa: E402
from pano360.evaluation.metrics import mean_ap  # noqa: E402
from pano360.io import write_csv, write_json  # noqa: E402
from pano360.training.loop import Paths, train  # noqa: E402
from pano360.use.inference import split_probabilities  # noqa: E402

PRESETS = ("demo", "hard", "shapes")
# the default before the plateau rule: a cosine over a guessed epoch count
PREVIOUS = {"schedule": "cosine", "epochs": 30, "early_stop_patience": 8}


def cached(path: Path, key: dict, run):
    """``run()``'s result, kept in ``path`` with ``key`` (the recipe): rerunning the script
    to add runs does not redo the ones it has."""
    if path.is_file():
        saved = json.loads(path.read_text())
        if saved.get("key") == key:
            return saved["result"]
    result = run()
    write_json(path, {"key": key, "result": result})
    return result


def live_curve(live: Path, name: str) -> dict[int, float]:
    """One dvclive metric per epoch (1-based)."""
    rows = (live / "plots/metrics" / f"{name}.tsv").read_text().strip().splitlines()[1:]
    return {int(r.split("\t")[0]) + 1: float(r.split("\t")[1]) for r in rows}


def run_default(data: Path, run: Path, params: dict) -> dict:
    paths = Paths(str(data / "train.csv"), str(data / "val.csv"), str(data / "prepared"),
                  prepared=str(data / "prepared.json"), best=str(run / "model.pt"), last=str(run / "last.pt"),
                  resume_dir=str(run / "resume"), live_dir=str(run / "live"))
    t0 = time.perf_counter()
    result = train(training_config(params), paths, show_progress=False)
    seconds = time.perf_counter() - t0
    test, _ = read_split(data / "test.csv")
    probs, targets, _ = split_probabilities(run / "model.pt", test, data / "prepared", data / "prepared.json",
                                            show_progress=False)
    live = run / "live"
    val, loss, lr = (live_curve(live, n) for n in ("val/mAP", "train/loss", "lr/backbone"))
    curve = [{"epoch": e, "val_mAP": val[e], "train_loss": loss[e], "lr": lr[e]} for e in sorted(val)]
    return {"model": "pipeline, params.yaml's recipe", "best_val_mAP": result["best_val_mAP"],
            "test_mAP": mean_ap(targets, probs), "seconds": seconds, "epochs": result["epochs_run"],
            "stopped_early": result["stopped_early"], "curve": curve}


def plot(results: dict, path: Path) -> None:
    fig, axes = plt.subplots(2, len(results), figsize=(4.2 * len(results), 5.6), squeeze=False, sharex="col")
    for col, (preset, runs) in enumerate(results.items()):
        top, bottom = axes[0][col], axes[1][col]
        for run in runs:
            c = pd.DataFrame(run["curve"])
            line, = top.plot(c["epoch"], c["val_mAP"], label=run["model"])
            bottom.plot(c["epoch"], c["train_loss"], color=line.get_color())
            if "lr" in c and run.get("schedule") == "plateau":
                best = c["epoch"][c["val_mAP"].idxmax()]
                top.axvline(best, color=line.get_color(), ls=":", lw=1)
                # the lr logged with epoch k is the one it trained at: a decay decided after
                # epoch k - 1 shows first there
                for epoch in c["epoch"][c["lr"].diff() < 0]:
                    top.axvline(epoch - 0.5, color="grey", ls="--", lw=0.8)
        top.set(title=f"{preset}: validation mAP", ylim=(0, 1))
        bottom.set(title="training loss", xlabel="epoch", yscale="log")
        top.legend(fontsize=7, loc="lower right")
    fig.suptitle("dotted: the kept (best) epoch; dashed: the learning rate decays ×0.1 (plateau)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default="bench/out/presets")
    ap.add_argument("--presets", nargs="+", default=list(PRESETS), choices=PRESETS)
    ap.add_argument("--set", action="append", default=[], help="params override, e.g. train.lr=0.002")
    ap.add_argument("--reference-epochs", type=int, default=40)
    ap.add_argument("--previous", action="store_true", help="also the previous default recipe: " + str(PREVIOUS))
    ap.add_argument("--plot-only", action="store_true", help="redraw OUT/curves.png from OUT/results.json")
    args = ap.parse_args()
    out = Path(args.out)
    if args.plot_only:
        plot(json.loads((out / "results.json").read_text())["results"], out / "curves.png")
        return
    params = yaml.safe_load(Path("params.yaml").read_text())
    for assignment in args.set:
        set_value(params, assignment)
    results, rows = {}, []
    for preset in args.presets:
        data = prepare_data(out / preset, params, preset=preset)
        img_size = params["model"]["img_size"]
        ref = cached(out / preset / "reference.json", {"epochs": args.reference_epochs, "img_size": img_size},
                     lambda: train_reference(data, epochs=args.reference_epochs, img_size=img_size))
        print(f"{preset}: reference test mAP {ref['test_mAP']:.4f} (val {ref['best_val_mAP']:.4f}) in "
              f"{ref['seconds']:.0f} s", flush=True)
        run = cached(out / preset / "run.json", params, lambda: run_default(data, out / preset / "run", params))
        run["schedule"] = params["train"]["schedule"]
        print(f"{preset}: default test mAP {run['test_mAP']:.4f} (val {run['best_val_mAP']:.4f}) in "
              f"{run['seconds']:.0f} s, {run['epochs']} epochs", flush=True)
        results[preset] = [run, ref]
        if args.previous:
            old = yaml.safe_load(yaml.safe_dump(params))
            old["train"].update(PREVIOUS)
            prev = cached(out / preset / "previous.json", old,
                          lambda: run_default(data, out / preset / "previous", old))
            prev["model"], prev["schedule"] = "pipeline, previous default (cosine, 30 epochs)", "cosine"
            print(f"{preset}: previous default test mAP {prev['test_mAP']:.4f} (val {prev['best_val_mAP']:.4f}) in "
                  f"{prev['seconds']:.0f} s, {prev['epochs']} epochs", flush=True)
            results[preset].insert(1, prev)
        rows.append({"preset": preset, "default": run["test_mAP"], "reference": ref["test_mAP"],
                     "ratio": run["test_mAP"] / ref["test_mAP"], "default_epochs": run["epochs"],
                     "default_s": run["seconds"], "reference_s": ref["seconds"],
                     **({"previous": prev["test_mAP"], "previous_epochs": prev["epochs"], "previous_s": prev["seconds"]}
                        if args.previous else {})})
    write_json(out / "results.json", {"overrides": args.set, "reference_epochs": args.reference_epochs,
                                      "results": results, "table": rows})
    write_csv(out / "curves.csv", pd.DataFrame([{"preset": p, "run": r["model"], **point}
                                                for p, runs in results.items() for r in runs
                                                for point in r["curve"]]))
    plot(results, out / "curves.png")
    print("\n| preset | default test mAP | reference test mAP | default ÷ reference | default epochs (s) "
          "| reference s |\n|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['preset']} | {r['default']:.4f} | {r['reference']:.4f} | **{r['ratio']:.3f}** | "
              f"{r['default_epochs']} ({r['default_s']:.0f}) | {r['reference_s']:.0f} |")
    if args.previous:
        print("\n| preset | default: test mAP, epochs (s) | previous default: test mAP, epochs (s) |\n|---|---|---|")
        for r in rows:
            print(f"| {r['preset']} | {r['default']:.4f}, {r['default_epochs']} ({r['default_s']:.0f}) | "
                  f"{r['previous']:.4f}, {r['previous_epochs']} ({r['previous_s']:.0f}) |")


if __name__ == "__main__":
    main()

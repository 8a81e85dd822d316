"""The default recipe against a reference CNN, on the harder built-in data set, in one run.

    python bench/hard_recipe.py [--out bench/out/hard] [--heads fc csra mldecoder]
                                [--set train.epochs=40 ...] [--reference-epochs 30]

1. `python -m pano360.data.demo OUT/raw --preset hard` (480 panoramas, 18 small classes with a long
   tail, clutter, noise, two pairs of classes a mirror image swaps), then the pipeline's own
   split, labels, partition and prepare steps with params.yaml's values;
2. per head: training with params.yaml's values (``--set`` overrides any of them, as
   `dvc exp run -S` would), then the test split's mAP at the best validation epoch;
3. bench/reference_cnn.py's plain max-pooling CNN on the same prepared halves and splits.

Times are wall-clock seconds on this machine, each run alone. Writes OUT/results.json,
OUT/curves.csv and OUT/curves.png (validation mAP per epoch, every run).
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
from reference_cnn import train_reference  # noqa: E402

from pano360.data.dataset import read_split  # noqa: E402
from pano360.data.demo import generate  # noqa: E402
from pano360.evaluation.metrics import mean_ap
from pano360.use.inference import split_probabilities  # noqa: E402
from pano360.io import write_csv, write_json  # noqa: E402
from pano360.labels.table import load_labels  # noqa: E402
from pano360.data.panorama import split_folder  # noqa: E402
from pano360.data.partition import partition  # noqa: E402
from pano360.data.prepare import PrepareParams, prepare_folder, settings  # noqa: E402
from pano360.training.loop import Paths, TrainingConfig, train  # noqa: E402


def set_value(params: dict, assignment: str) -> None:
    key, value = assignment.split("=", 1)
    *path, last = key.split(".")
    node = params
    for part in path:
        node = node.setdefault(part, {})
    node[last] = yaml.safe_load(value)


def prepare_data(out: Path, params: dict, preset: str = "hard") -> Path:
    """Generate the preset's data set under OUT/raw and run split, labels, partition and
    prepare with ``params`` into OUT/data (reused when already there at the same size)."""
    data = out / "data"
    cfg = TrainingConfig.model_validate({k: params[k] for k in ("head", "heads", "model", "train")})
    spec = settings(PrepareParams.model_validate(params.get("prepare") or {}), cfg.model.img_size,
                    cfg.train.augment.scale[0])
    marker = data / "prepared.json"
    if marker.is_file() and json.loads(marker.read_text()).get("size") == spec["size"]:
        return data
    if not (out / "raw/labels.ndjson").is_file():
        generate(out / "raw", preset=preset)
    manifest = split_folder(out / "raw/panoramas", data / "halves", show_progress=False)["manifest"]
    images = [h["image"] for h in manifest]
    table = load_labels(out / "raw/labels.ndjson", halves=images)
    parts, _, _ = partition(table.frame, params["partition"]["fractions"], params["partition"]["seed"])
    for name, frame in parts.items():
        write_csv(data / f"{name}.csv", frame)
    write_json(marker, prepare_folder(images, data / "halves", data / "prepared", spec, show_progress=False))
    return data


def training_config(params: dict, **train_overrides) -> TrainingConfig:
    """params.yaml's training sections, with train.* overrides (the benchmarks' recipes)."""
    return TrainingConfig.model_validate({**{k: params[k] for k in ("head", "heads", "model")},
                                          "train": {**params["train"], **train_overrides}})


def run_head(data: Path, out: Path, params: dict, head: str) -> dict:
    cfg = training_config({**params, "head": head})
    run = out / f"run_{head}"
    paths = Paths(str(data / "train.csv"), str(data / "val.csv"), str(data / "prepared"),
                  prepared=str(data / "prepared.json"), best=str(run / "model.pt"), last=str(run / "last.pt"),
                  resume_dir=str(run / "resume"), live_dir=str(run / "live"))
    t0 = time.perf_counter()
    result = train(cfg, paths, show_progress=False)
    seconds = time.perf_counter() - t0
    test, _ = read_split(data / "test.csv")
    probs, targets, _ = split_probabilities(run / "model.pt", test, data / "prepared", data / "prepared.json",
                                            show_progress=False)
    rows = (run / "live/plots/metrics/val/mAP.tsv").read_text().strip().splitlines()[1:]
    curve = [{"epoch": int(r.split("\t")[0]) + 1, "val_mAP": float(r.split("\t")[1])} for r in rows]
    return {"model": f"pipeline, head {head}", "best_val_mAP": result["best_val_mAP"],
            "test_mAP": mean_ap(targets, probs), "seconds": seconds, "epochs": result["epochs_run"],
            "curve": curve}


def compare_runs(data: Path, out: Path, heads: list[str]) -> str:
    """Each head's test predictions at thresholds tuned on val (`auto`), compared paired
    with `pano360 compare`'s bootstrap; returns its table."""
    from pano360.evaluation.compare import compare, format_result, read_run
    from pano360.use.inference import score_table
    from pano360.evaluation.thresholds import fit_thresholds
    val, _ = read_split(data / "val.csv")
    test, _ = read_split(data / "test.csv")
    runs = []
    for head in heads:
        model = out / f"run_{head}" / "model.pt"
        pv, tv, _ = split_probabilities(model, val, data / "prepared", data / "prepared.json", show_progress=False)
        thresholds = fit_thresholds(pv, tv, groups=val["panorama"].to_numpy()).thresholds
        pt, tt, classes = split_probabilities(model, test, data / "prepared", data / "prepared.json",
                                              show_progress=False)
        path = out / f"{head}.csv"
        write_csv(path, score_table(test[["image", "panorama"]], pt, thresholds, classes, tt))
        runs.append(read_run(str(path)))
        runs[-1].name = head
    return format_result(compare(runs), per_class=False)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default="bench/out/hard")
    ap.add_argument("--heads", nargs="+", default=["fc", "csra", "mldecoder"])
    ap.add_argument("--set", action="append", default=[], help="params override, e.g. train.epochs=40")
    ap.add_argument("--reference-epochs", type=int, default=30)
    ap.add_argument("--no-reference", action="store_true")
    ap.add_argument("--compare-only", action="store_true",
                    help="skip training: compare the heads already trained under --out")
    args = ap.parse_args()
    out = Path(args.out)
    params = yaml.safe_load(Path("params.yaml").read_text())
    for assignment in args.set:
        set_value(params, assignment)
    data = prepare_data(out, params)
    if args.compare_only:
        print(compare_runs(data, out, args.heads))
        return
    results = []
    if not args.no_reference:
        ref = train_reference(data, epochs=args.reference_epochs, img_size=params["model"]["img_size"])
        results.append(ref)
        print(f"reference: test mAP {ref['test_mAP']:.4f} (val {ref['best_val_mAP']:.4f}) in {ref['seconds']:.0f} s",
              flush=True)
    for head in args.heads:
        r = run_head(data, out, params, head)
        results.append(r)
        print(f"{head}: test mAP {r['test_mAP']:.4f} (val {r['best_val_mAP']:.4f}) in {r['seconds']:.0f} s, "
              f"{r['epochs']} epochs", flush=True)
    write_json(out / "results.json", {"overrides": args.set, "results": results})
    curves = pd.DataFrame([{"run": r["model"], **point} for r in results for point in r["curve"]])
    write_csv(out / "curves.csv", curves)
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    for name, curve in curves.groupby("run", sort=False):
        ax.plot(curve["epoch"], curve["val_mAP"], label=name)
    ax.set(xlabel="epoch", ylabel="validation mAP", title="Hard set: validation mAP per epoch", ylim=(0, 1))
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "curves.png", dpi=110)
    print("\n| run | test mAP | best val mAP | wall time (s) |\n|---|---|---|---|")
    for r in results:
        print(f"| {r['model']} | {r['test_mAP']:.4f} | {r['best_val_mAP']:.4f} | {r['seconds']:.0f} |")
    print("\n" + compare_runs(data, out, args.heads))


if __name__ == "__main__":
    main()

"""Do prepared halves train as well as the full halves? Same recipe, same seeds, on the demo.

    python bench/prepared_accuracy.py [--seeds 0 1] [--preset demo]

Trains params.yaml's recipe on (a) the prepare stage's halves and (b) the full-size halves
decoded every time (no prepare step), for each seed, and reports best validation mAP and
test mAP. Seeds give the run-to-run spread to judge the difference against (CPU training
is deterministic for a given input, so the spread comes from the seed alone).
"""
import argparse
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hard_recipe import prepare_data, training_config  # noqa: E402

from pano360.data.dataset import read_split  # noqa: E402
from pano360.evaluation.metrics import mean_ap
from pano360.use.inference import split_probabilities  # noqa: E402
from pano360.training.loop import Paths, train  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--preset", default="demo")
    ap.add_argument("--out", default="bench/out/prepared_accuracy")
    args = ap.parse_args()
    params = yaml.safe_load(Path("params.yaml").read_text())
    out = Path(args.out)
    data = prepare_data(out, params, args.preset)
    test, _ = read_split(data / "test.csv")
    rows = []
    for seed in args.seeds:
        for variant, images, prepared in (("prepared", data / "prepared", data / "prepared.json"),
                                          ("full halves", data / "halves", None)):
            cfg = training_config(params, seed=seed, monitor_system=False)
            run = out / f"{variant.replace(' ', '_')}_seed{seed}"
            result = train(cfg, Paths(str(data / "train.csv"), str(data / "val.csv"), str(images),
                                      prepared=str(prepared) if prepared else None, best=str(run / "model.pt"),
                                      last=str(run / "last.pt"), resume_dir=str(run / "resume"),
                                      live_dir=str(run / "live")), show_progress=False)
            probs, targets, _ = split_probabilities(run / "model.pt", test, images, prepared, show_progress=False)
            rows.append((variant, seed, result["best_val_mAP"], mean_ap(targets, probs)))
            print(f"{variant:<12} seed {seed}: val mAP {rows[-1][2]:.4f}  test mAP {rows[-1][3]:.4f}", flush=True)
    print("\n| halves | seed | best val mAP | test mAP |\n|---|---|---|---|")
    for variant, seed, val, test_map in rows:
        print(f"| {variant} | {seed} | {val:.4f} | {test_map:.4f} |")


if __name__ == "__main__":
    main()

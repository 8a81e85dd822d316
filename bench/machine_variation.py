"""How much do CPU-trained results move from one machine to another?

    python bench/machine_variation.py [--preset demo]

CPU training is deterministic on one machine, but the math kernels torch picks depend on the
CPU (instruction set) and on the number of threads, and their rounding differs. This trains
params.yaml's recipe on the demo three times, each in a fresh process: as this machine runs
it, with oneDNN limited to AVX2 (what an older x86 CPU would run), and with one thread, and
reports best validation mAP and test mAP of each.
"""
import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hard_recipe import prepare_data  # noqa: E402

CHILD = r"""
import json, sys
import torch
from pano360.data.dataset import read_split
from pano360.evaluation.metrics import mean_ap
from pano360.use.inference import split_probabilities
from pano360.training.loop import Paths, TrainingConfig, train
data, run, threads, params = sys.argv[1], sys.argv[2], int(sys.argv[3]), json.loads(sys.argv[4])
if threads:
    torch.set_num_threads(threads)
cfg = TrainingConfig.model_validate({**{k: params[k] for k in ("head", "heads", "model")},
                                     "train": {**params["train"], "monitor_system": False}})
result = train(cfg, Paths(f"{data}/train.csv", f"{data}/val.csv", f"{data}/prepared", prepared=f"{data}/prepared.json",
                          best=f"{run}/model.pt", last=f"{run}/last.pt", resume_dir=f"{run}/resume",
                          live_dir=f"{run}/live"), show_progress=False)
test, _ = read_split(f"{data}/test.csv")
probs, targets, _ = split_probabilities(f"{run}/model.pt", test, f"{data}/prepared", f"{data}/prepared.json",
                                        show_progress=False)
print("RESULT", json.dumps({"val": result["best_val_mAP"], "test": mean_ap(targets, probs)}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--preset", default="demo")
    ap.add_argument("--out", default="bench/out/machine_variation")
    args = ap.parse_args()
    params = yaml.safe_load(Path("params.yaml").read_text())
    out = Path(args.out)
    data = prepare_data(out, params, args.preset)
    rows = []
    for label, env, threads in (("this machine (AVX-512, 2 threads)", {}, 0),
                                ("oneDNN limited to AVX2", {"ONEDNN_MAX_CPU_ISA": "AVX2"}, 0),
                                ("one thread", {}, 1)):
        run = out / label.split(" (")[0].replace(" ", "_")
        done = subprocess.run([sys.executable, "-c", CHILD, str(data), str(run), str(threads), json.dumps(params)],
                              env=dict(os.environ, **env), capture_output=True, text=True, check=True)
        result = json.loads(done.stdout.split("RESULT ")[1])
        rows.append((label, result["val"], result["test"]))
        print(f"{label}: val mAP {result['val']:.4f}  test mAP {result['test']:.4f}", flush=True)
    print("\n| training run | best val mAP | test mAP |\n|---|---|---|")
    for label, val, test in rows:
        print(f"| {label} | {val:.4f} | {test:.4f} |")


if __name__ == "__main__":
    main()

"""Run pano360.training.loop.train from a JSON file (for tests that need a separate process).

``"kill_after_epoch": k`` in the spec makes the process SIGKILL itself right after the resume
state of epoch k (0-based) is saved: an interruption at a known point, without races.
"""
import json
import os
import signal
import sys

import pano360.training.loop as loop
from pano360.training.loop import Paths, train
from pano360.training.resume import ResumeState

if __name__ == "__main__":
    spec = json.loads(open(sys.argv[1]).read())
    kill_after = spec.get("kill_after_epoch")
    if kill_after is not None:
        save = ResumeState.save

        def save_then_die(self, *args):
            save(self, *args)
            if self.epoch == kill_after:
                os.kill(os.getpid(), signal.SIGKILL)

        ResumeState.save = save_then_die
    rank = os.environ.get("RANK", "0")
    out_dir = os.path.dirname(sys.argv[1])
    record = {"rng": None, "val_rows": []}
    hooks = {}
    if spec.get("record"):
        import hashlib

        import torch
        scored = loop.predict

        def counting_predict(*args, **kwargs):
            probs, y, loss = scored(*args, **kwargs)
            record["val_rows"].append(len(probs))
            return probs, y, loss
        loop.predict = counting_predict

        def first_batch(name):
            if name == "batch" and record["rng"] is None:
                record["rng"] = hashlib.sha256(torch.get_rng_state().numpy().tobytes()).hexdigest()
        hooks["on_phase"] = first_batch
    result = train(spec["cfg"], Paths(**spec["paths"]), show_progress=False, **hooks)
    print("RESULT", json.dumps(result))
    if spec.get("record"):
        with open(os.path.join(out_dir, f"record_rank{rank}.json"), "w") as fh:
            json.dump(record, fh)
    # each rank also leaves its result in a file: ranks share stdout, and lines can interleave
    with open(os.path.join(out_dir, f"result_rank{rank}.json"), "w") as fh:
        json.dump(result, fh)

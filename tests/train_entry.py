"""Run pano360.train.train from a JSON file (for tests that need a separate process).

``"kill_after_epoch": k`` in the spec makes the process SIGKILL itself right after the resume
state of epoch k (0-based) is saved: an interruption at a known point, without races.
"""
import json
import os
import signal
import sys

import pano360.train as train_mod
from pano360.train import Paths, train

if __name__ == "__main__":
    spec = json.loads(open(sys.argv[1]).read())
    kill_after = spec.get("kill_after_epoch")
    if kill_after is not None:
        save = train_mod._save_resume

        def save_then_die(path, model, optimizer, scaler, ema, epoch, *rest):
            save(path, model, optimizer, scaler, ema, epoch, *rest)
            if epoch == kill_after:
                os.kill(os.getpid(), signal.SIGKILL)

        train_mod._save_resume = save_then_die
    result = train(spec["cfg"], Paths(**spec["paths"]), show_progress=False)
    print("RESULT", json.dumps(result))

"""Run pano360.training.loop.train from a JSON file (for tests that need a separate process).

``"kill_after_epoch": k`` in the spec makes the process SIGKILL itself right after the resume
state of epoch k (0-based) is saved: an interruption at a known point, without races.
"""
import json
import os
import signal
import sys

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
    result = train(spec["cfg"], Paths(**spec["paths"]), show_progress=False)
    print("RESULT", json.dumps(result))
    # each rank also leaves its result in a file: ranks share stdout, and lines can interleave
    rank = os.environ.get("RANK", "0")
    with open(os.path.join(os.path.dirname(sys.argv[1]), f"result_rank{rank}.json"), "w") as fh:
        json.dump(result, fh)

"""Run pano360.train.train from a JSON file (for tests that need a separate process)."""
import json
import sys

from pano360.train import Paths, train

if __name__ == "__main__":
    spec = json.loads(open(sys.argv[1]).read())
    result = train(spec["cfg"], Paths(**spec["paths"]), show_progress=False)
    print("RESULT", json.dumps(result))

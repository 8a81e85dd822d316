"""DVC stage export: the trained model and its tuned thresholds as a deployment bundle
(ONNX + bundle.json + a runner needing only numpy, Pillow and onnxruntime)."""
import sys
from typing import Optional

from pano360.data.naming import DEFAULT_PATTERN
from pano360.stage import run_stage
from pano360.use.export import write_bundle

MODEL, THRESHOLDS, BUNDLE = "models/model.pt", "models/thresholds.json", "models/bundle"
PARAMS = {"split.name_pattern": Optional[str]}


def compute(params):
    return params


def write(params, _):
    bundle = write_bundle(MODEL, THRESHOLDS, BUNDLE, params["split.name_pattern"] or DEFAULT_PATTERN)
    source = bundle["provenance"]
    return (f"export: {BUNDLE}/ ({source['backbone']} + {source['head']}, {len(bundle['classes'])} classes, "
            f"ONNX within {bundle['max_abs_difference']:.1g} of PyTorch); run it with "
            f"`python {BUNDLE}/predict.py PANORAMAS --out predictions.csv`")


if __name__ == "__main__":
    sys.exit(run_stage("export", PARAMS, compute, write))

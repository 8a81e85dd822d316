"""The deployment bundle (export stage): one folder that decides like ``evaluate`` does, for
runtimes without PyTorch.

``models/bundle/``:

- ``model.onnx``: normalised halves (N, 3, S, S) in, class probabilities out (dynamic batch);
- ``bundle.json``: the classes in order, the tuned thresholds, every preprocessing step (how a
  panorama is split, how a half is prepared, the network input), the label schema (for
  LabelBox pre-labels) and the provenance (backbone, head, git revision, the DVC hashes of the
  model and thresholds it came from);
- ``predict.py`` + ``pixels.py``: the reference runner (:mod:`pano360.use.runner`) and the
  pipeline's own pixel steps (:mod:`pano360.data.pixels`), needing only numpy, Pillow and
  onnxruntime.
"""
from __future__ import annotations

import hashlib
import shutil
import subprocess
import warnings
from importlib import metadata
from pathlib import Path

import numpy as np
import torch

from pano360.data import pixels
from pano360.errors import Pano360Error
from pano360.evaluation.thresholds_file import read_thresholds_file
from pano360.io import atomic_dir, write_json
from pano360.model.backbone import load_checkpoint
from pano360.use import runner

OPSET = 17
TOLERANCE = 1e-4   # largest difference to PyTorch's probabilities the export accepts
# what decides a model: a change here, not committed, makes the revision "dirty"
SOURCE_PATHS = ("params.yaml", "dvc.yaml", "pano360", "stages", "requirements.txt")


class ExportError(Pano360Error, RuntimeError):
    pass


def file_md5(path) -> str:
    """The file's MD5, which is the hash DVC records for it in dvc.lock and its cache."""
    digest = hashlib.md5()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def git_state(root=".") -> dict:
    """The checked-out commit and whether the code or params differ from it (None outside git)."""
    def git(*args):
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True).stdout.strip()
    try:
        revision = git("rev-parse", "HEAD")
        changed = git("status", "--porcelain", "--untracked-files=no", "--", *SOURCE_PATHS)
    except (OSError, subprocess.CalledProcessError):
        return {"revision": None, "dirty": None}
    return {"revision": revision, "dirty": bool(changed)}


class _WithSigmoid(torch.nn.Module):
    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, images):
        return torch.sigmoid(self.inner(images))


def export_onnx(model, size: int, out_path: Path) -> float:
    """Write the model with a sigmoid as ONNX; returns the largest difference between
    onnxruntime's and PyTorch's probabilities on a check batch (ExportError above TOLERANCE)."""
    wrapped = _WithSigmoid(model).eval()
    with warnings.catch_warnings():
        # The tracer warns about Python loops and checks over shapes that are fixed by
        # construction (CSRA's branches, the token-layout check), and that its exporter is the
        # legacy one (the new one needs onnxscript); the check below compares the result instead.
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(wrapped, (torch.zeros(1, 3, size, size),), str(out_path), input_names=["images"],
                          output_names=["probabilities"], opset_version=OPSET, dynamo=False,
                          dynamic_axes={"images": {0: "batch"}, "probabilities": {0: "batch"}})
    import onnxruntime
    session = onnxruntime.InferenceSession(str(out_path), providers=["CPUExecutionProvider"])
    check = torch.randn(3, 3, size, size, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = wrapped(check).numpy()
    got = session.run(None, {"images": check.numpy()})[0]
    difference = float(np.abs(got - expected).max())
    if not difference <= TOLERANCE:
        raise ExportError(f"the ONNX model's probabilities differ from PyTorch's by {difference:.2g} "
                          f"(more than {TOLERANCE}); this backbone/head does not export faithfully with opset {OPSET}")
    return difference


def write_bundle(model_path, thresholds_path, out_dir, name_pattern: str) -> dict:
    """Write the bundle folder atomically; returns its description (bundle.json) plus the
    check's ``max_abs_difference``."""
    model, ckpt = load_checkpoint(model_path)
    classes, data_cfg = list(ckpt["classes"]), ckpt["data_config"]
    thresholds = read_thresholds_file(thresholds_path, classes)
    size = int(data_cfg["input_size"][-1])
    description = {
        "format": runner.BUNDLE_FORMAT, "version": runner.BUNDLE_VERSION,
        "model": {"file": runner.MODEL_FILE, "input": "images", "output": "probabilities",
                  "input_shape": ["batch", 3, size, size], "opset": OPSET},
        "classes": classes,
        "thresholds": {c: float(t) for c, t in zip(classes, thresholds)},
        "decision": "a class is present in a half when probability >= threshold; in a panorama when "
                    "present in either half (panorama probability = the max of its halves)",
        "preprocessing": {
            "split": {"name_pattern": name_pattern,
                      "how": "EXIF orientation applied; left half = the first ceil(W/2) columns, right = the "
                             "rest; each half re-encoded in the source's format (JPEG with the source's "
                             "quantization tables and subsampling) and decoded again"},
            "prepare": ckpt.get("prepare"),
            "input": {"size": size, "interpolation": data_cfg["interpolation"], "mean": data_cfg["mean"],
                      "std": data_cfg["std"], "layout": "NCHW float32",
                      "how": "prepared half (RGB) resized to size x size, no crop; pixel/255; (x - mean) / std"},
        },
        "label_schema": ckpt.get("labels"),
        "provenance": {
            "backbone": ckpt["model"]["name"], "head": ckpt["head"], "head_options": ckpt["head_options"],
            "model_config": ckpt["model"],
            "git": git_state(),
            "model": {"path": str(model_path), "md5": file_md5(model_path)},
            "thresholds": {"path": str(thresholds_path), "md5": file_md5(thresholds_path)},
            "pano360": metadata.version("pano360"), "torch": torch.__version__,
            # ONNX runs in fp32; a model validated in bf16/fp16 scores slightly differently here
            "validated_precision": ckpt.get("precision", "auto"),
        },
        "run": "python predict.py PANORAMAS... --out predictions.csv  (needs numpy, Pillow, onnxruntime)",
    }
    with atomic_dir(out_dir) as tmp:
        difference = export_onnx(model, size, tmp / runner.MODEL_FILE)
        write_json(tmp / runner.BUNDLE_FILE, description)
        shutil.copyfile(runner.__file__, tmp / "predict.py")
        shutil.copyfile(pixels.__file__, tmp / "pixels.py")
    return {**description, "max_abs_difference": difference}

"""``pano360 export``: the trained model as ONNX, for runtimes without PyTorch."""
from __future__ import annotations

import warnings
from pathlib import Path

import torch

from pano360.io import atomic_path, write_json
from pano360.model.backbone import load_checkpoint


def export_onnx(model_path, out_path, opset: int = 17) -> Path:
    """ONNX model taking normalised images (N, 3, S, S) and returning class probabilities,
    with a dynamic batch dimension."""
    model, ckpt = load_checkpoint(model_path)
    size = ckpt["data_config"]["input_size"][-1]

    class WithSigmoid(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, images):
            return torch.sigmoid(self.inner(images))

    wrapped = WithSigmoid(model).eval()
    example = torch.zeros(1, 3, size, size)
    out_path = Path(out_path)
    with atomic_path(out_path) as tmp, warnings.catch_warnings():
        # The tracer warns about Python loops and checks over shapes that are fixed by
        # construction (CSRA's branches, the token-layout check), and that its exporter is the
        # legacy one (the new one needs onnxscript); the tests check the exported model against
        # PyTorch at several batch sizes instead.
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(wrapped, (example,), str(tmp), input_names=["images"], output_names=["probabilities"],
                          dynamic_axes={"images": {0: "batch"}, "probabilities": {0: "batch"}},
                          opset_version=opset, dynamo=False)
    meta = {"classes": ckpt["classes"], "data_config": ckpt["data_config"], "input": "images",
            "output": "probabilities (sigmoid)", "source_model": str(model_path)}
    write_json(out_path.with_suffix(".json"), meta)
    return out_path

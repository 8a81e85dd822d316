"""The real finetuning path on a CPU, end to end: reduced SwinV2 weights saved to a local
safetensors file → model.pretrained_file → train 2 epochs → tune → evaluate
→ export (ONNX bundle) → predict on the checkpoint and on the bundle, with the real `dvc` CLI."""
import json
import sys

import numpy as np
import onnxruntime as ort
import pandas as pd
import pytest
import timm
import torch
import yaml
from safetensors.torch import save_file

from dvc_project import make_project
from pano360.model.backbone import load_checkpoint

pytestmark = pytest.mark.slow

BACKBONES = {
    "swinv2": {"name": "swinv2_tiny_window8_256", "img_size": 64,
               "kwargs": {"window_size": 4, "embed_dim": 16, "depths": [1, 1, 1, 1], "num_heads": [1, 1, 1, 1]}},
}


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    project = make_project(tmp_path_factory.mktemp("pre") / "proj", count=12, width=192)
    project.set_params(train={"epochs": 2, "batch_size": 8, "monitor_system": False, "lr": 0.0005},
                       thresholds={"folds": 3, "min_positives": 3}, head="csra")
    project.commit("tiny demo project")
    return project


# SwinV2 (the reference) through the whole pipeline; the ViT with register tokens loads and
# tokenises the same way in tests/test_model.py (test_pretrained_file_is_proven_to_load), and a
# second full `dvc repro` here would cost the suite ~55 s for no other path.
@pytest.mark.parametrize("which", ["swinv2"])
def test_local_weights_train_tune_evaluate_predict_export(project, which):
    spec = BACKBONES[which]
    torch.manual_seed(7)
    source = timm.create_model(spec["name"], pretrained=False, img_size=spec["img_size"], **spec["kwargs"])
    weights = project.path / f"weights/{which}.safetensors"
    save_file({k: v.contiguous() for k, v in source.state_dict().items()}, weights)
    params = yaml.safe_load((project.path / "params.yaml").read_text())
    params["model"] = {**params["model"], **spec, "pretrained_file": f"weights/{which}.safetensors"}
    (project.path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    out = project.dvc("repro")
    assert "Running stage 'train'" in out.stdout and "Running stage 'evaluate'" in out.stdout
    assert "heads.csra" not in out.stderr
    model, ckpt = load_checkpoint(project.path / "models/model.pt")
    assert ckpt["model"]["name"] == spec["name"] and ckpt["prepare"]["size"] == spec["img_size"]
    assert ckpt["data_config"]["input_size"] == [3, spec["img_size"], spec["img_size"]]
    report = json.loads((project.path / "reports/evaluate.json").read_text())
    assert 0 <= report["tuned"]["mAP"] <= 1

    test = pd.read_csv(project.path / "data/predictions/test.csv")
    first = sorted(set(test["panorama"]))[0]
    project.run(sys.executable, "-m", "pano360", "predict", f"data/raw/panoramas/{first}.jpg", "--out",
                "p.csv", "--quiet")
    got = pd.read_csv(project.path / "p.csv").set_index("image")
    want = test.set_index("image").loc[got.index]
    for column in [c for c in got.columns if c.startswith("p_")]:
        assert np.allclose(got[column], want[column], atol=2e-6), column

    # the export stage ran with the rest: its ONNX model agrees with PyTorch, and predict on the
    # bundle agrees with predict on the checkpoint
    session = ort.InferenceSession(str(project.path / "models/bundle/model.onnx"), providers=["CPUExecutionProvider"])
    x = torch.randn(2, 3, spec["img_size"], spec["img_size"])
    with torch.no_grad():
        expected = torch.sigmoid(model(x)).numpy()
    assert np.abs(session.run(None, {"images": x.numpy()})[0] - expected).max() <= 1e-4
    project.run(sys.executable, "-m", "pano360", "predict", f"data/raw/panoramas/{first}.jpg", "--model",
                "models/bundle", "--out", "b.csv", "--quiet")
    from_bundle = pd.read_csv(project.path / "b.csv").set_index("image")
    for column in [c for c in got.columns if c.startswith("p_")]:
        assert np.allclose(from_bundle[column], got[column], atol=1e-4), column
    for name in ("p.csv", "p_panoramas.csv", "b.csv", "b_panoramas.csv"):
        (project.path / name).unlink()

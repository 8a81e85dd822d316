"""The deployment bundle: ONNX + bundle.json + a runner that needs only numpy, Pillow and
onnxruntime, deciding exactly as `pano360 predict` (and so evaluate) does."""
import ast
import hashlib
import json
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pandas as pd
import pytest
import torch

from pano360.cli import main
from pano360.data import pixels
from pano360.data.prepare import PrepareParams, settings
from pano360.model.backbone import build_model, checkpoint_payload, data_config
from pano360.use import runner
from pano360.use.export import write_bundle

CLASSES = ["bench", "building", "car", "person", "pole", "sign", "tree", "water"]
# what a deployment machine lacks: importing any of these fails in the runner's process
BLOCKED = ("torch", "torchvision", "timm", "pandas", "pydantic", "sklearn", "pano360", "yaml")


def md5(path) -> str:
    return hashlib.md5(Path(path).read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def bundle(trained_demo_root, tmp_path_factory):
    """The trained demo's model exported, with the paths `pano360 predict` needs."""
    out = tmp_path_factory.mktemp("bundle") / "bundle"
    root = trained_demo_root
    write_bundle(root / "model.pt", root / "thresholds.json", out, "{stem}_{side}{ext}")
    test = pd.read_csv(root / "test.csv")
    panoramas = [str(root / "raw/panoramas" / f"{p}.jpg") for p in sorted(set(test["panorama"]))]
    return out, root, panoramas


def without_libraries(tmp_path) -> dict:
    """An environment in which importing torch, timm, pandas, pydantic or pano360 fails."""
    blocker = tmp_path / "blocked"
    for name in BLOCKED:
        (blocker / name).mkdir(parents=True)
        (blocker / name / "__init__.py").write_text(
            f"raise ImportError('{name} is not installed on this deployment machine')\n")
    return {"PATH": str(Path(sys.executable).parent), "PYTHONPATH": str(blocker), "OMP_NUM_THREADS": "1"}


def read_pair(out: Path):
    return pd.read_csv(out), pd.read_csv(out.with_name(f"{out.stem}_panoramas{out.suffix}"))


def assert_same_predictions(got: pd.DataFrame, want: pd.DataFrame, tolerance: float = 1e-4):
    assert list(got.columns) == list(want.columns)
    probabilities = [c for c in want.columns if c.startswith("p_")]
    others = [c for c in want.columns if c not in probabilities]
    pd.testing.assert_frame_equal(got[others], want[others])
    assert np.abs(got[probabilities].to_numpy() - want[probabilities].to_numpy()).max() <= tolerance


def test_runner_without_torch_decides_like_pano360_predict(bundle, tmp_path):
    out_dir, root, panoramas = bundle
    assert len(panoramas) >= 2
    assert main(["predict", *panoramas, "--model", str(root / "model.pt"), "--thresholds",
                 str(root / "thresholds.json"), "--out", str(tmp_path / "torch.csv"), "--quiet"]) == 0
    # the bundle as shipped: copied elsewhere, run by path, torch & co. not importable
    shipped = tmp_path / "edge/bundle"
    shutil.copytree(out_dir, shipped)
    run = subprocess.run([sys.executable, str(shipped / "predict.py"), *panoramas, "--out",
                          str(tmp_path / "onnx.csv"), "--threads", "1"],
                         capture_output=True, text=True, env=without_libraries(tmp_path), cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith(f"predict.py: {len(panoramas)} panoramas ({2 * len(panoramas)} halves)")
    for got, want in zip(read_pair(tmp_path / "onnx.csv"), read_pair(tmp_path / "torch.csv")):
        assert_same_predictions(got, want)
    # the decisions are the tuned thresholds' (not 0.5): some class has a threshold away from it
    thresholds = json.loads((root / "thresholds.json").read_text())["thresholds"]
    assert json.loads((out_dir / "bundle.json").read_text())["thresholds"] == thresholds


def test_runner_reports_unreadable_panoramas_and_bad_inputs(bundle, tmp_path):
    out_dir, _, panoramas = bundle
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(Path(panoramas[0]).read_bytes()[:500])
    env = without_libraries(tmp_path)
    script = str(out_dir / "predict.py")
    run = subprocess.run([sys.executable, script, panoramas[0], str(broken), "--out", str(tmp_path / "p.csv"),
                          "--quiet"], capture_output=True, text=True, env=env)
    assert run.returncode == 2 and f"could not read {broken}" in run.stderr
    assert len(pd.read_csv(tmp_path / "p.csv")) == 2
    run = subprocess.run([sys.executable, script, str(tmp_path / "nowhere.jpg")], capture_output=True, text=True,
                         env=env)
    assert run.returncode == 1 and "nowhere.jpg does not exist" in run.stderr and "Traceback" not in run.stderr
    # two sites' R0010001.jpg would give one half name: named, no traceback, nothing written
    for site in ("siteA", "siteB"):
        (tmp_path / site).mkdir()
        (tmp_path / site / "R0010001.jpg").write_bytes(Path(panoramas[0]).read_bytes())
    run = subprocess.run([sys.executable, script, str(tmp_path / "siteA"), str(tmp_path / "siteB"), "--out",
                          str(tmp_path / "clash.csv")], capture_output=True, text=True, env=env)
    assert run.returncode == 1 and "would both give the half R0010001_left.jpg" in run.stderr, run.stderr
    assert "Traceback" not in run.stderr and not (tmp_path / "clash.csv").exists()


def test_predict_on_the_bundle_gives_the_checkpoints_output(bundle, tmp_path):
    out_dir, root, panoramas = bundle
    common = [*panoramas[:3], "--quiet"]
    assert main(["predict", *common, "--model", str(root / "model.pt"), "--thresholds",
                 str(root / "thresholds.json"), "--out", str(tmp_path / "ckpt.csv")]) == 0
    # thresholds: the bundle's own by default
    assert main(["predict", *common, "--model", str(out_dir), "--out", str(tmp_path / "bundle.csv")]) == 0
    for got, want in zip(read_pair(tmp_path / "bundle.csv"), read_pair(tmp_path / "ckpt.csv")):
        assert_same_predictions(got, want)
    # LabelBox pre-labels too: the bundle carries the label schema
    for model, name in ((str(root / "model.pt"), "ckpt.ndjson"), (str(out_dir / "bundle.json"), "bundle.ndjson")):
        assert main(["predict", *common, "--model", model, "--thresholds", str(root / "thresholds.json"),
                     "--out", str(tmp_path / name)]) == 0
    assert (tmp_path / "bundle.ndjson").read_text() == (tmp_path / "ckpt.ndjson").read_text()


def test_bundle_describes_itself(bundle, trained_demo_root):
    out_dir, root, _ = bundle
    assert sorted(p.name for p in out_dir.iterdir()) == ["bundle.json", "model.onnx", "pixels.py", "predict.py"]
    spec = json.loads((out_dir / "bundle.json").read_text())
    ckpt = torch.load(root / "model.pt", weights_only=False)
    assert spec["classes"] == ckpt["classes"]
    assert spec["preprocessing"]["prepare"] == ckpt["prepare"]
    assert spec["preprocessing"]["input"]["size"] == ckpt["data_config"]["input_size"][-1]
    assert spec["preprocessing"]["input"]["mean"] == ckpt["data_config"]["mean"]
    assert spec["preprocessing"]["split"]["name_pattern"] == "{stem}_{side}{ext}"
    assert spec["label_schema"] == ckpt["labels"]
    source = spec["provenance"]
    assert (source["backbone"], source["head"]) == (ckpt["model"]["name"], ckpt["head"])
    # the hashes DVC records for these files (its md5 of the bytes)
    assert source["model"]["md5"] == md5(root / "model.pt")
    assert source["thresholds"]["md5"] == md5(root / "thresholds.json")
    assert set(source["git"]) == {"revision", "dirty"}
    assert (out_dir / "predict.py").read_bytes() == Path(runner.__file__).read_bytes()


def test_export_is_deterministic(bundle, tmp_path):
    out_dir, root, _ = bundle
    write_bundle(root / "model.pt", root / "thresholds.json", tmp_path / "again", "{stem}_{side}{ext}")
    for name in ("model.onnx", "bundle.json"):
        assert (tmp_path / "again" / name).read_bytes() == (out_dir / name).read_bytes(), name


@pytest.mark.parametrize("head", ["fc", "csra", "mldecoder"])
def test_every_head_exports_faithfully(tmp_path, head):
    torch.manual_seed(1)
    cfg = {"name": "test_resnet", "img_size": 64}
    options = {"mldecoder": {"decoder_embedding": 64}}.get(head, {})
    model = build_model(cfg, head, options, len(CLASSES)).eval()
    spec = settings(PrepareParams(), img_size=64, min_scale=1.0)
    torch.save(checkpoint_payload(model, model_cfg=cfg, head_options=options, classes=CLASSES,
                                  data_cfg=data_config(model, 64), prepare=spec), tmp_path / "model.pt")
    (tmp_path / "thresholds.json").write_text(json.dumps({"classes": CLASSES, "thresholds": dict.fromkeys(CLASSES, .4)}))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        write_bundle(tmp_path / "model.pt", tmp_path / "thresholds.json", tmp_path / "bundle", "{stem}_{side}{ext}")
    # tracer chatter about shapes that are fixed by construction is not for the user
    assert not [w for w in caught if issubclass(w.category, (torch.jit.TracerWarning, DeprecationWarning))], \
        [str(w.message)[:80] for w in caught]
    session = ort.InferenceSession(str(tmp_path / "bundle/model.onnx"), providers=["CPUExecutionProvider"])
    for batch in (1, 5):  # dynamic batch
        x = torch.randn(batch, 3, 64, 64)
        with torch.no_grad():
            expected = torch.sigmoid(model(x)).numpy()
        got = session.run(None, {"images": x.numpy()})[0]
        assert got.shape == (batch, len(CLASSES))
        assert np.abs(got - expected).max() <= 1e-4


@pytest.mark.parametrize("interpolation", ["bilinear", "bicubic"])
def test_network_input_is_timms_eval_transform_bit_for_bit(interpolation):
    from PIL import Image
    from pano360.data.dataset import build_transform
    rng = np.random.default_rng(0)
    image = Image.fromarray(rng.integers(0, 256, (80, 80, 3), dtype=np.uint8))
    cfg = {"input_size": [3, 64, 64], "interpolation": interpolation, "mean": [0.5, 0.4, 0.3], "std": [0.2, 0.25, 0.3]}
    want = build_transform(cfg, False)(image).numpy()
    got = pixels.network_input(image, 64, interpolation, cfg["mean"], cfg["std"])
    assert got.dtype == np.float32 and np.array_equal(got, want)


def test_unusable_bundles_are_named_errors(bundle, tmp_path, capsys):
    out_dir, _, panoramas = bundle
    args = ["predict", panoramas[0], "--out", str(tmp_path / "p.csv"), "--quiet", "--model"]
    assert main(args + [str(tmp_path)]) == 1
    assert f"{tmp_path / 'bundle.json'} does not exist" in capsys.readouterr().err
    old = tmp_path / "old"
    shutil.copytree(out_dir, old)
    spec = json.loads((old / "bundle.json").read_text())
    (old / "bundle.json").write_text(json.dumps({**spec, "version": 0}))
    assert main(args + [str(old)]) == 1
    assert "version 0 bundle" in capsys.readouterr().err
    (old / "bundle.json").write_text(json.dumps(spec))
    (old / "model.onnx").unlink()
    assert main(args + [str(old)]) == 1
    assert "model.onnx does not exist" in capsys.readouterr().err
    assert not (tmp_path / "p.csv").exists()


@pytest.mark.parametrize("module, allowed", [
    (pixels, {"io", "os", "numpy", "PIL", "__future__"}),
    (runner, {"argparse", "csv", "json", "os", "sys", "pathlib", "typing", "numpy", "onnxruntime", "pano360", "pixels",
              "__future__"}),
])
def test_shipped_files_import_only_what_a_deployment_machine_has(module, allowed):
    tree = ast.parse(Path(module.__file__).read_text())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.module}
    assert imported <= allowed, imported - allowed


def test_thresholds_none_means_half_on_a_bundle_too(bundle, tmp_path):
    """`--thresholds none` (0.5 for every class) gave the bundle's tuned thresholds instead."""
    out_dir, _, panoramas = bundle
    assert main(["predict", panoramas[0], "--model", str(out_dir), "--thresholds", "none", "--out",
                 str(tmp_path / "p.csv"), "--quiet"]) == 0
    table = pd.read_csv(tmp_path / "p.csv")
    classes = json.loads((out_dir / "bundle.json").read_text())["classes"]
    for c in classes:
        assert (table[c] == (table[f"p_{c}"] >= 0.5).astype(int)).all(), c
    tuned = json.loads((out_dir / "bundle.json").read_text())["thresholds"]
    assert any(t != 0.5 for t in tuned.values())   # so the tuned ones would decide otherwise somewhere

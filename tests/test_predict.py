import io
import json
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch

from pano360.cli import main
from pano360.data.dataset import build_transform
from pano360.data.pixels import open_rgb
from pano360.data.demo import generate
from pano360.model.backbone import build_model, checkpoint_payload, data_config
from pano360.use.predict import collect_inputs
from pano360.data.pixels import prepare_bytes
from pano360.data.prepare import PrepareParams, settings

CLASSES = ["bench", "building", "car", "person", "pole", "sign", "tree", "water"]
SPEC = settings(PrepareParams(), img_size=64, min_scale=1.0)


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    root = tmp_path_factory.mktemp("predict")
    generate(root / "raw", count=3, width=256, seed=2)
    torch.manual_seed(0)
    cfg = {"name": "test_resnet", "img_size": 64}
    model = build_model(cfg, "csra", {"num_heads": 2}, len(CLASSES)).eval()
    torch.save(checkpoint_payload(model, model_cfg=cfg, head_options={"num_heads": 2}, classes=CLASSES,
                                  data_cfg=data_config(model, 64), prepare=SPEC), root / "model.pt")
    (root / "thresholds.json").write_text(json.dumps(
        {"classes": CLASSES, "thresholds": {c: 0.3 + 0.05 * i for i, c in enumerate(CLASSES)}}))
    return root, model


def test_predict_halves_and_panoramas(assets, tmp_path):
    root, model = assets
    code = main(["predict", str(root / "raw/panoramas"), "--model", str(root / "model.pt"),
                 "--thresholds", str(root / "thresholds.json"), "--out", str(tmp_path / "p.csv"), "--quiet"])
    assert code == 0
    halves = pd.read_csv(tmp_path / "p.csv")
    panos = pd.read_csv(tmp_path / "p_panoramas.csv")
    assert len(halves) == 6 and len(panos) == 3
    assert list(halves["side"]) == ["left", "right"] * 3
    assert halves["image"][0] == "pano_0000_left.jpg"
    # panorama score = max of its halves; a class is present when either half has it
    for _, pano in panos.iterrows():
        pair = halves[halves["panorama"] == pano["panorama"]]
        for c in CLASSES:
            assert pano[f"p_{c}"] == pair[f"p_{c}"].max()
            assert pano[c] == pair[c].max()
    # probabilities match running the model on the half written to disk by split_images
    from pano360.data.panorama import split_file
    split_file(root / "raw/panoramas/pano_0000.jpg", tmp_path / "halves")
    cfg = data_config(model, 64)
    prepared = prepare_bytes(tmp_path / "halves/pano_0000_left.jpg", SPEC)  # as prepare_halves writes it
    x = build_transform(cfg, False)(open_rgb(io.BytesIO(prepared)))[None]
    with torch.no_grad():
        expected = torch.sigmoid(model(x))[0].numpy()
    got = halves.loc[0, [f"p_{c}" for c in CLASSES]].to_numpy(float)
    assert np.allclose(got, expected, atol=2e-6)
    thresholds = 0.3 + 0.05 * np.arange(len(CLASSES))
    assert list(halves.loc[0, CLASSES]) == list((got >= thresholds).astype(int))


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_other_formats(assets, tmp_path, fmt):
    root, _ = assets
    out = tmp_path / f"p.{fmt}"
    assert main(["predict", str(root / "raw/panoramas/pano_0001.jpg"), "--model", str(root / "model.pt"),
                 "--thresholds", "none", "--out", str(out), "--quiet"]) == 0
    frame = pd.read_json(out, lines=True) if fmt == "jsonl" else pd.read_parquet(out)
    assert len(frame) == 2 and "predicted" in frame.columns
    assert (tmp_path / f"p_panoramas.{fmt}").is_file()


def test_list_files_folders_and_unreadable_inputs(assets, tmp_path, capsys):
    root, _ = assets
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    listing = tmp_path / "batch.txt"
    listing.write_text(f"# tonight's batch\n{root / 'raw/panoramas/pano_0002.jpg'}\nbroken.jpg\n")
    assert len(collect_inputs([f"@{listing}"])) == 2
    code = main(["predict", f"@{listing}", "--model", str(root / "model.pt"), "--thresholds", "none",
                 "--out", str(tmp_path / "p.csv"), "--quiet"])
    assert code == 2
    assert "broken.jpg" in capsys.readouterr().err
    assert len(pd.read_csv(tmp_path / "p.csv")) == 2


def _never_run(*args, **kwargs):
    raise AssertionError("inference ran although the command could not succeed")


@pytest.mark.parametrize("inputs, out, extra, message", [
    (["{root}/raw/panoramas/nope.jpg"], "p.csv", [], r"1 input\(s\) do not exist: .*nope\.jpg"),
    (["{tmp}/notes.txt"], "p.csv", [], r"not panoramas .*write @.*notes\.txt"),
    (["{tmp}/empty"], "p.csv", [], r"folder\(s\) without panoramas"),
    (["@{tmp}/gone.txt"], "p.csv", [], r"list file .*gone\.txt does not exist"),
    (["{root}/raw/panoramas"], "outdir", [], r"--out .*outdir is a folder"),
    (["{root}/raw/panoramas"], "afile/p.csv", [], r"cannot write --out"),
    (["{root}/raw/panoramas"], "p.csv", ["--format", "parquet"], r"--format parquet does not match --out"),
    (["{root}/raw/panoramas"], "p.out", [], r"cannot tell the format"),
])
def test_bad_input_or_output_fails_before_any_work(assets, tmp_path, capsys, monkeypatch, inputs, out, extra,
                                                   message):
    root, _ = assets
    (tmp_path / "notes.txt").write_text("meeting notes, not a list\n")
    (tmp_path / "empty").mkdir()
    (tmp_path / "outdir").mkdir()
    (tmp_path / "afile").write_text("a file, not a folder")
    (tmp_path / "p.csv").write_text("earlier results\n")
    monkeypatch.setattr("pano360.cli.predict_panoramas", _never_run)
    args = [i.format(root=root, tmp=tmp_path) for i in inputs]
    code = main(["predict", *args, "--model", str(root / "model.pt"), "--out", str(tmp_path / out), "--quiet",
                 *extra])
    assert code == 1
    assert re.search(message, capsys.readouterr().err)
    assert (tmp_path / "p.csv").read_text() == "earlier results\n"


def test_nothing_readable_overwrites_nothing(assets, tmp_path, capsys):
    root, _ = assets
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    (tmp_path / "p.csv").write_text("earlier results\n")
    code = main(["predict", str(tmp_path / "broken.jpg"), "--model", str(root / "model.pt"), "--thresholds",
                 "none", "--out", str(tmp_path / "p.csv"), "--quiet"])
    assert code == 1 and "was not written" in capsys.readouterr().err
    assert (tmp_path / "p.csv").read_text() == "earlier results\n"
    assert not (tmp_path / "p_panoramas.csv").exists()


def test_outputs_follow_the_umask(assets, tmp_path):
    import os
    root, _ = assets
    old = os.umask(0o022)
    try:
        assert main(["predict", str(root / "raw/panoramas/pano_0001.jpg"), "--model", str(root / "model.pt"),
                     "--thresholds", "none", "--out", str(tmp_path / "p.csv"), "--quiet"]) == 0
    finally:
        os.umask(old)
    assert (tmp_path / "p.csv").stat().st_mode & 0o777 == 0o644


def test_mismatched_thresholds_and_foreign_model_fail_before_work(assets, tmp_path, capsys):
    root, _ = assets
    bad = tmp_path / "t.json"
    bad.write_text(json.dumps({"classes": ["cat"], "thresholds": {"cat": 0.5}}))
    args = ["predict", str(root / "raw/panoramas"), "--out", str(tmp_path / "p.csv"), "--quiet"]
    assert main(args + ["--model", str(root / "model.pt"), "--thresholds", str(bad)]) == 1
    assert "classes ['cat']" in capsys.readouterr().err
    ckpt = torch.load(root / "model.pt", weights_only=False)
    ckpt["version"] = 0
    torch.save(ckpt, tmp_path / "old.pt")
    assert main(args + ["--model", str(tmp_path / "old.pt"), "--thresholds", "none"]) == 1
    assert "version 0" in capsys.readouterr().err
    assert not (tmp_path / "p.csv").exists()


def test_module_entry_point(assets, tmp_path):
    root, _ = assets
    out = subprocess.run([sys.executable, "-m", "pano360", "predict", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "--thresholds" in out.stdout


def test_two_panoramas_with_one_file_name_are_refused_naming_both(assets, tmp_path, capsys):
    """Cameras reuse file names on every card: siteA/R0010001.jpg and siteB/R0010001.jpg gave
    the same half names (pre-label keys) and the same panorama in select, silently."""
    root, _ = assets
    source = sorted((root / "raw/panoramas").iterdir())[0]
    for site in ("siteA", "siteB"):
        (tmp_path / site).mkdir()
        (tmp_path / site / "R0010001.jpg").write_bytes(source.read_bytes())
    a, b = tmp_path / "siteA/R0010001.jpg", tmp_path / "siteB/R0010001.jpg"
    for command in (["predict", str(tmp_path / "siteA"), str(tmp_path / "siteB"), "--out", str(tmp_path / "p.csv")],
                    ["select", str(tmp_path), "--budget", "1", "--out", str(tmp_path / "next.txt")]):
        assert main(command + ["--model", str(root / "model.pt"), "--thresholds", "none", "--quiet"]) == 1
        err = capsys.readouterr().err
        assert f"{a} and {b} would both give the half R0010001_left.jpg" in err, err
        assert "{folder}" in err
        assert not (tmp_path / "p.csv").exists() and not (tmp_path / "next.txt").exists()
    from pano360.use.runner import BundleError, name_clash, score_panoramas
    with pytest.raises(BundleError, match="would both give the half"):
        score_panoramas([a, b], None, None, "{stem}_{side}{ext}")
    assert name_clash([a, b], "{stem}_{side}{ext}") is not None


def test_folder_names_keep_site_panoramas_apart_as_split_images_does(assets, tmp_path):
    """With {folder} in the pattern, predict names halves and panoramas as split_images does."""
    root, _ = assets
    source = sorted((root / "raw/panoramas").iterdir())[0]
    for site in ("siteA", "siteB/card2"):
        (tmp_path / "new" / site).mkdir(parents=True)
        (tmp_path / "new" / site / "R0010001.jpg").write_bytes(source.read_bytes())
    (tmp_path / "new/top.jpg").write_bytes(source.read_bytes())
    pattern = "{folder}_{stem}_{side}{ext}"
    assert main(["predict", str(tmp_path / "new"), "--model", str(root / "model.pt"), "--thresholds", "none",
                 "--name-pattern", pattern, "--out", str(tmp_path / "p.csv"), "--quiet"]) == 0
    halves = pd.read_csv(tmp_path / "p.csv")
    from pano360.data.panorama import split_folder
    split = split_folder(tmp_path / "new", tmp_path / "halves", pattern=pattern, workers=1, show_progress=False)
    assert sorted(halves["image"]) == sorted(h["image"] for h in split["manifest"])
    assert sorted(set(halves["panorama"])) == ["siteA_R0010001", "siteB_card2_R0010001", "top"]
    # one file given by itself below --panorama-root gets its folder there too
    assert main(["predict", str(tmp_path / "new/siteB/card2/R0010001.jpg"), "--panorama-root", str(tmp_path / "new"),
                 "--model", str(root / "model.pt"), "--thresholds", "none", "--name-pattern", pattern,
                 "--out", str(tmp_path / "one.csv"), "--quiet"]) == 0
    assert set(pd.read_csv(tmp_path / "one.csv")["panorama"]) == {"siteB_card2_R0010001"}


def test_a_checkpoint_names_halves_with_the_projects_pattern(assets, tmp_path, monkeypatch):
    """Run in a project, predict follows params.yaml's split.name_pattern (as split_images does)."""
    root, _ = assets
    source = sorted((root / "raw/panoramas").iterdir())[0]
    (tmp_path / "new/siteA").mkdir(parents=True)
    (tmp_path / "new/siteA/R1.jpg").write_bytes(source.read_bytes())
    (tmp_path / "params.yaml").write_text("split:\n  name_pattern: '{folder}-{stem}-{side}{ext}'\n")
    monkeypatch.chdir(tmp_path)
    assert main(["predict", "new", "--model", str(root / "model.pt"), "--thresholds", "none",
                 "--out", "p.csv", "--quiet"]) == 0
    assert sorted(pd.read_csv(tmp_path / "p.csv")["image"]) == ["siteA-R1-left.jpg", "siteA-R1-right.jpg"]

"""Tests of the demo-data generator (pano360/data/demo.py)."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from PIL import Image

from pano360.data import demo
from pano360.data.naming import half_name, parse_half_name

COUNT, WIDTH = 12, 256


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    return out, demo.generate(out, count=COUNT, width=WIDTH, seed=7)


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    """Enough panoramas for class frequencies to mean something."""
    return demo.generate(tmp_path_factory.mktemp("sample"), count=120, width=128, seed=0)


def read_rows(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "labels.ndjson").read_text().splitlines()]


def ticked(row: dict) -> list[str]:
    (project,) = row["projects"].values()
    (label,) = project["labels"]
    classifications = label["annotations"]["classifications"]
    return [a["name"] for c in classifications for a in c["checklist_answers"]]


def test_same_arguments_give_identical_files(small, tmp_path):
    out, _ = small
    demo.generate(tmp_path, count=COUNT, width=WIDTH, seed=7)
    files = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    for name in files:
        assert (out / name).read_bytes() == (tmp_path / name).read_bytes(), name


def test_another_seed_gives_other_files(small, tmp_path):
    out, _ = small
    demo.generate(tmp_path, count=1, width=WIDTH, seed=8)
    assert (tmp_path / "panoramas/pano_0000.jpg").read_bytes() != \
        (out / "panoramas/pano_0000.jpg").read_bytes()


def test_writes_only_panoramas_and_labels(small):
    out, summary = small
    assert sorted(p.name for p in out.iterdir()) == ["labels.ndjson", "panoramas"]
    names = sorted(p.name for p in (out / "panoramas").iterdir())
    assert names == [f"pano_{i:04d}.jpg" for i in range(COUNT)]
    for name in names:
        with Image.open(out / "panoramas" / name) as image:
            assert image.format == "JPEG" and image.mode == "RGB"
            assert image.size == (WIDTH, WIDTH // 2)
    assert summary["halves"] == 2 * COUNT and summary["height"] == WIDTH // 2


def test_ndjson_is_shaped_like_a_labelbox_export(small):
    out, _ = small
    text = (out / "labels.ndjson").read_text()
    assert text.endswith("\n") and "\r" not in text
    lines = text.splitlines()
    assert len(lines) == 2 * COUNT
    expected_names = [half_name(f"pano_{i:04d}", side, ".jpg")
                      for i in range(COUNT) for side in ("left", "right")]
    cuid = re.compile(r"c[0-9a-z]{24}\Z")
    project_ids = set()
    for line, name in zip(lines, expected_names):
        row = json.loads(line)
        assert json.dumps(row) == line  # default separators, one object per line
        assert set(row) == {"data_row", "media_attributes", "attachments", "metadata_fields",
                            "projects"}
        data_row = row["data_row"]
        assert data_row["external_id"] == name
        assert data_row["global_key"].endswith(name)
        assert data_row["row_data"].startswith("https://") and data_row["row_data"].endswith(name)
        assert cuid.match(data_row["id"])
        assert {"dataset_id", "dataset_name", "created_at", "created_by"} <= set(data_row["details"])
        assert row["media_attributes"] == {"height": WIDTH // 2, "width": WIDTH // 2,
                                           "mime_type": "image/jpeg"}
        assert row["attachments"] == [] and row["metadata_fields"] == []

        (project_id,) = row["projects"]
        project_ids.add(project_id)
        project = row["projects"][project_id]
        assert project["name"]
        details = project["project_details"]
        assert details["workflow_status"] == "DONE"
        assert details["consensus_expected_label_count"] == 1
        assert details["workflow_history"] == [] and details["batch_id"] and details["batch_name"]
        (label,) = project["labels"]
        assert label["label_kind"] == "Default" and label["version"] == "1.0.0"
        assert cuid.match(label["id"])
        assert label["performance_details"]["skipped"] is False
        for key in ("created_at", "updated_at"):
            stamp = label["label_details"][key]
            assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", stamp)
            datetime.fromisoformat(stamp)
        assert label["label_details"]["created_by"]
        annotations = label["annotations"]
        assert annotations["objects"] == [] and annotations["relationships"] == []
        for classification in annotations["classifications"]:
            assert classification["name"] == demo.QUESTION
            answers = classification["checklist_answers"]
            assert answers, "an unticked checklist must be left out, not written empty"
            for answer in answers:
                assert answer["name"] == answer["value"] and answer["name"] in demo.CLASSES
                assert cuid.match(answer["feature_id"]) and cuid.match(answer["feature_schema_id"])
    assert len(project_ids) == 1
    assert len({json.loads(line)["data_row"]["id"] for line in lines}) == len(lines)


def test_empty_halves_have_no_classification(small):
    out, summary = small
    rows = read_rows(out)
    empty = [r for r in rows if not ticked(r)]
    assert len(empty) == round(summary["empty_fraction"] * len(rows))
    for row in empty:
        (project,) = row["projects"].values()
        assert project["labels"][0]["annotations"]["classifications"] == []


def test_labels_agree_with_drawn_objects(small):
    out, summary = small
    labels = {r["data_row"]["external_id"]: set(ticked(r)) for r in read_rows(out)}
    half = WIDTH // 2
    for obj in summary["objects"]:
        x0, y0, x1, y1 = obj["box"]
        assert 0 <= x0 < x1 <= WIDTH and 0 <= y0 < y1 <= half  # never across the outer edges
        stem = Path(obj["panorama"]).stem
        left, right = (labels[half_name(stem, side, ".jpg")] for side in ("left", "right"))
        if obj["position"] == "left":
            assert x1 <= half and obj["class"] in left
        elif obj["position"] == "right":
            assert x0 >= half and obj["class"] in right
        else:
            assert obj["position"] == "seam"
            assert min(half - x0, x1 - half) >= 0.4 * (x1 - x0)
            assert obj["class"] in left and obj["class"] in right
    # Every ticked class comes from an object drawn on that side.
    for name, classes in labels.items():
        stem, side = parse_half_name(name)
        drawn = {o["class"] for o in summary["objects"]
                 if o["panorama"] == f"{stem}.jpg" and o["position"] in (side, "seam")}
        assert classes <= drawn


def test_class_frequencies_are_skewed(sample):
    """Read off the export itself (what load_labels will see), not the generator's summary."""
    rows = read_rows(Path(sample["labels"]).parent)
    frequency = {c: sum(c in ticked(r) for r in rows) / len(rows) for c in demo.CLASSES}
    empty_fraction = sum(not ticked(r) for r in rows) / len(rows)
    assert frequency == pytest.approx(sample["class_frequency"], abs=1e-3)  # the summary tells the truth
    sample = {"empty_fraction": empty_fraction}
    assert max(frequency.values()) >= 0.3
    assert frequency["tree"] >= 3 * frequency["bench"]
    assert 0 < frequency["bench"] <= 0.1
    assert 0.1 <= sample["empty_fraction"] <= 0.3


def test_straddling_objects_are_labelled_on_both_halves(sample):
    seam = [o for o in sample["objects"] if o["position"] == "seam"]
    assert seam
    rows = read_rows(Path(sample["labels"]).parent)
    labels = {r["data_row"]["external_id"]: set(ticked(r)) for r in rows}
    for obj in seam:
        stem = Path(obj["panorama"]).stem
        for side in ("left", "right"):
            assert obj["class"] in labels[half_name(stem, side, ".jpg")]


def test_name_pattern_is_used_for_external_ids(tmp_path):
    demo.generate(tmp_path, count=1, width=128, name_pattern="{side}/{stem}{ext}")
    names = [r["data_row"]["external_id"] for r in read_rows(tmp_path)]
    assert names == ["left/pano_0000.jpg", "right/pano_0000.jpg"]


def test_cli_matches_generate(small, tmp_path, capsys):
    out, summary = small
    assert demo.main([str(tmp_path), "--count", str(COUNT), "--width", str(WIDTH),
                      "--seed", "7"]) == 0
    printed = capsys.readouterr().out
    assert f"{2 * COUNT} half labels" in printed
    for cls in demo.CLASSES:
        assert re.search(rf"{cls}\s+{summary['class_frequency'][cls]:.1%}", printed)
    assert (tmp_path / "labels.ndjson").read_bytes() == (out / "labels.ndjson").read_bytes()


def test_cli_rejects_a_bad_width(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        demo.main([str(tmp_path), "--width", "101"])
    assert exc.value.code == 2
    assert "width must be an even number" in capsys.readouterr().err
    assert not (tmp_path / "panoramas").exists()


def test_runs_as_a_module(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "pano360.data.demo", str(tmp_path), "--count", "1", "--width", "64"],
        capture_output=True, text=True, check=True, cwd=Path(__file__).resolve().parents[1])
    assert "share of halves" in result.stdout
    assert (tmp_path / "panoramas/pano_0000.jpg").is_file()
    assert len(read_rows(tmp_path)) == 2


# ---------------------------------------------------------------- the same bytes on every machine

def _digest(folder: Path) -> str:
    import hashlib
    h = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        h.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


# sha256 of `python -m pano360.data.demo OUT --count 40` (the demo's first 40 panoramas and their
# labels), as written on x86-64.
PINNED_40 = "209ecbb0ac6a6b3e7f08ce6bd9611e9b8f16a77b90d7a6ced9e3e1643a15827d"


@pytest.mark.parametrize("disabled", ["", "X86_V4 AVX512_ICL", "X86_V3 X86_V4 AVX512_ICL"])
def test_output_does_not_depend_on_the_cpu_features_numpy_uses(tmp_path, disabled):
    """numpy picks SIMD code paths per CPU (AVX-512 here, AVX2 or NEON elsewhere); with the
    same bytes whatever it picks, a fresh clone on another machine reproduces data/raw.dvc."""
    env = dict(__import__("os").environ, NPY_DISABLE_CPU_FEATURES=disabled)
    out = subprocess.run([sys.executable, "-m", "pano360.data.demo", str(tmp_path / "d"), "--count", "40"],
                         env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert _digest(tmp_path / "d") == PINNED_40


def test_shapes_classes_differ_by_shape_alone():
    """The shapes preset: the same random draws give every glyph the same single colour (and
    rotation and size), and the glyphs' outlines differ from each other."""
    import numpy as np
    from pano360.data.demo.shapes import _SHAPE_KINDS, _Painter
    masks, colours = {}, {}
    for name, kind in _SHAPE_KINDS.items():
        image, ids = Image.new("RGB", (96, 96), (255, 255, 255)), Image.new("L", (96, 96), 0)
        painter = _Painter(image, ids)
        painter.object_id = 1
        kind.draw(painter, 8, 8, 88, 88, np.random.default_rng(5))
        pixels = np.asarray(image).reshape(-1, 3)
        colours[name] = {tuple(c) for c in pixels if tuple(c) != (255, 255, 255)}
        masks[name] = np.asarray(ids) > 0
    assert all(len(c) == 1 for c in colours.values()) and len(set.union(*colours.values())) == 1
    names = list(masks)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            overlap = (masks[a] & masks[b]).sum() / (masks[a] | masks[b]).sum()
            assert overlap < 0.85, (a, b, overlap)


# sha256 of `python -m pano360.data.demo OUT --preset shapes --count 6 --width 512`, on x86-64
PINNED_SHAPES = "0d3069362e76af7c74ee4f179ba09467e83f3f94946e9501ca526378349fb4f4"


@pytest.mark.parametrize("disabled", ["", "X86_V3 X86_V4 AVX512_ICL"])
def test_shapes_preset_is_the_same_bytes_whatever_the_cpu(tmp_path, disabled):
    env = dict(__import__("os").environ, NPY_DISABLE_CPU_FEATURES=disabled)
    out = subprocess.run([sys.executable, "-m", "pano360.data.demo", str(tmp_path / "d"), "--preset", "shapes",
                          "--count", "6", "--width", "512"], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    summary = json.loads((tmp_path / "d/labels.ndjson").read_text().splitlines()[0])
    assert summary["data_row"]["external_id"] == "pano_0000_left.jpg"
    assert _digest(tmp_path / "d") == PINNED_SHAPES


@pytest.mark.slow
def test_make_demo_regenerates_exactly_the_committed_data_raw_dvc(tmp_path, env):
    """`make demo` on a fresh clone generates data/raw and runs `dvc add`: data/raw.dvc must
    come out unchanged, or every stage's results would differ from the README's."""
    import yaml
    root = Path(__file__).resolve().parents[1]
    committed = yaml.safe_load((root / "data/raw.dvc").read_text())["outs"][0]
    for args in (["git", "init", "-q"], ["dvc", "init", "-q"],
                 [sys.executable, "-m", "pano360.data.demo", "data/raw"], ["dvc", "add", "-q", "data/raw"]):
        out = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
    fresh = yaml.safe_load((tmp_path / "data/raw.dvc").read_text())["outs"][0]
    assert (fresh["md5"], fresh["nfiles"], fresh["size"]) == (committed["md5"], committed["nfiles"], committed["size"])

import io

import numpy as np
import pytest
from PIL import Image, ImageCms

from pano360.data.demo import generate
from pano360.data.incremental import state_path
from pano360.data.panorama import SplitError, split_file, split_folder
from pano360.data.pixels import half_boxes


@pytest.fixture(scope="module")
def demo_panos(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    generate(out, count=3, width=2048, seed=3)
    return out / "panoramas"


def decoded(path):
    return np.asarray(Image.open(path).convert("RGB"), dtype=np.float64)


def test_jpeg_halves_keep_source_quality(demo_panos, tmp_path):
    src = sorted(demo_panos.iterdir())[0]
    outcome = split_file(src, tmp_path)
    assert outcome.error is None
    full = decoded(src)
    left, right = decoded(tmp_path / f"{src.stem}_left.jpg"), decoded(tmp_path / f"{src.stem}_right.jpg")
    assert left.shape == right.shape == (1024, 1024, 3)
    diff = (np.abs(full[:, :1024] - left).mean() + np.abs(full[:, 1024:] - right).mean()) / 2
    assert diff < 0.05
    # the naive way (quality 95) loses clearly more than re-encoding with the source tables
    buf = io.BytesIO()
    Image.open(src).crop((0, 0, 1024, 1024)).save(buf, "JPEG", quality=95)
    naive = np.abs(full[:, :1024] - np.asarray(Image.open(buf).convert("RGB"), dtype=float)).mean()
    assert naive > 5 * diff
    src_q = Image.open(src).quantization
    assert Image.open(tmp_path / f"{src.stem}_left.jpg").quantization == src_q


@pytest.mark.parametrize("suffix", [".png", ".tif", ".webp"])
def test_lossless_formats_are_cropped_exactly(tmp_path, suffix):
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (32, 64, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / f"p{suffix}")
    pixels = np.asarray(Image.open(tmp_path / f"p{suffix}").convert("RGB"))  # WebP saves lossy
    split_file(tmp_path / f"p{suffix}", tmp_path / "out")
    left = np.asarray(Image.open(tmp_path / "out" / f"p_left{suffix}"))
    right = np.asarray(Image.open(tmp_path / "out" / f"p_right{suffix}"))
    assert np.array_equal(left, pixels[:, :32]) and np.array_equal(right, pixels[:, 32:])


def test_odd_width_gives_left_the_extra_column(tmp_path):
    assert half_boxes(9, 4) == ((0, 0, 5, 4), (5, 0, 9, 4))
    Image.new("RGB", (9, 4), "red").save(tmp_path / "odd.png")
    outcome = split_file(tmp_path / "odd.png", tmp_path / "out")
    assert [h["width"] for h in outcome.halves] == [5, 4]
    assert outcome.not_2to1


def test_exif_orientation_applied_and_icc_kept(tmp_path):
    pixels = np.zeros((64, 32, 3), np.uint8)  # stored portrait; orientation 6 shows it landscape
    pixels[:8] = 255                       # white band at the stored top
    image = Image.fromarray(pixels)
    exif = image.getexif()
    exif[0x0112] = 6                       # rotate 90° clockwise to view
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    image.save(tmp_path / "rot.jpg", exif=exif.tobytes(), icc_profile=icc, quality=95)
    outcome = split_file(tmp_path / "rot.jpg", tmp_path / "out")
    assert not outcome.not_2to1            # upright it is 64×32, i.e. 2:1
    right = Image.open(tmp_path / "out" / "rot_right.jpg")
    assert right.size == (32, 32)
    assert right.getexif().get(0x0112, 1) == 1
    assert right.info.get("icc_profile") == icc
    # after rotating clockwise the stored top band is the right-most column band
    assert np.asarray(right.convert("L"))[:, -4:].mean() > 200


def make_bad_files(folder):
    Image.new("RGB", (64, 32), "blue").save(folder / "good.jpg")
    (folder / "garbage.jpg").write_bytes(b"not an image at all")
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (64, 128, 3), np.uint8)).save(buf, "JPEG")
    (folder / "truncated.jpg").write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])


def test_bad_files_fail_after_processing_everything_and_list_each(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    make_bad_files(src)
    with pytest.raises(SplitError) as err:
        split_folder(src, tmp_path / "halves", workers=2, show_progress=False)
    message = str(err.value)
    assert "2 of 3" in message and "garbage.jpg" in message and "truncated.jpg" in message
    assert "on_error: skip" in message
    assert not (tmp_path / "halves").exists()      # nothing half-written
    assert [p.name for p in tmp_path.iterdir()] == ["src"]


def test_skip_records_bad_files(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    make_bad_files(src)
    report = split_folder(src, tmp_path / "halves", on_error="skip", workers=1, show_progress=False)
    assert report["halves"] == 2 and report["panoramas_split"] == 1
    assert {s["file"] for s in report["skipped"]} == {"garbage.jpg", "truncated.jpg"}
    assert sorted(p.name for p in (tmp_path / "halves").iterdir()) == ["good_left.jpg", "good_right.jpg"]


def test_parallel_equals_serial_and_name_clash_is_an_error(demo_panos, tmp_path):
    a = split_folder(demo_panos, tmp_path / "a", workers=1, show_progress=False)
    b = split_folder(demo_panos, tmp_path / "b", workers=2, show_progress=False)
    assert a["manifest"] == b["manifest"]
    for h in a["manifest"]:
        assert (tmp_path / "a" / h["image"]).read_bytes() == (tmp_path / "b" / h["image"]).read_bytes()
    clash = tmp_path / "clash"
    clash.mkdir()
    Image.new("RGB", (8, 4)).save(clash / "x.png")
    Image.new("RGB", (8, 4)).save(clash / "x.PNG")
    with pytest.raises(SplitError, match="both write"):
        split_folder(clash, tmp_path / "c", pattern="{stem}_{side}.png", show_progress=False)


def test_a_killed_split_leaves_nothing_behind_after_the_next_run(tmp_path):
    """SIGKILL mid-split used to leave data/interim/.halves.*.tmp (hundreds of MB) for ever."""
    import os
    import signal
    import subprocess
    import sys
    import time
    generate(tmp_path / "raw", count=80, width=1024, seed=3)
    code = ("import sys; from pano360.data.panorama import split_folder; "
            "split_folder(sys.argv[1], sys.argv[2], workers=1, show_progress=False)")
    proc = subprocess.Popen([sys.executable, "-c", code, str(tmp_path / "raw/panoramas"), str(tmp_path / "halves")])
    deadline = time.time() + 60
    leftovers = []
    while time.time() < deadline and proc.poll() is None:
        leftovers = [d for d in tmp_path.glob(".halves.*.tmp") if len(list(d.iterdir())) >= 4]
        if leftovers:
            break
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert leftovers and leftovers[0].exists(), "the split finished before it could be killed"
    report = split_folder(tmp_path / "raw/panoramas", tmp_path / "halves", workers=1, show_progress=False)
    assert report["halves"] == 160
    assert not list(tmp_path.glob(".halves.*")), "a stale temporary survived the next run"


def test_outputs_get_the_usual_permissions(tmp_path):
    """tempfile makes 0600 files and 0700 folders; outputs must follow the umask instead."""
    import os
    generate(tmp_path / "raw", count=1, width=128)
    old = os.umask(0o022)
    try:
        split_folder(tmp_path / "raw/panoramas", tmp_path / "halves", workers=1, show_progress=False)
        from pano360.io import write_json
        write_json(tmp_path / "r.json", {"a": 1})
    finally:
        os.umask(old)
    assert (tmp_path / "halves").stat().st_mode & 0o777 == 0o755
    assert (tmp_path / "r.json").stat().st_mode & 0o777 == 0o644


def _site_folders(src):
    (src / "siteA").mkdir(parents=True)
    (src / "siteB" / "card2").mkdir(parents=True)
    for path, colour in ((src / "top.jpg", "green"), (src / "siteA/R0010001.JPG", "red"),
                         (src / "siteB/card2/R0010001.JPG", "blue")):
        Image.new("RGB", (16, 8), colour).save(path, "JPEG")


def test_panoramas_in_subfolders_are_split_with_folder_names(tmp_path):
    """Photos arrive in one folder per site; split_images read the folder itself only and left
    subfolders out without a word (240 split, no warning). Cameras reuse names on every card."""
    src = tmp_path / "panoramas"
    _site_folders(src)
    with pytest.raises(SplitError) as err:   # the default pattern cannot tell the two R0010001 apart
        split_folder(src, tmp_path / "halves", workers=1, show_progress=False)
    assert "siteA/R0010001.JPG" in str(err.value) and "siteB/card2/R0010001.JPG" in str(err.value)
    assert "{folder}" in str(err.value) and not (tmp_path / "halves").exists()
    report = split_folder(src, tmp_path / "halves", pattern="{folder}_{stem}_{side}{ext}", workers=1,
                          show_progress=False)
    assert report["halves"] == 6
    by_image = {h["image"]: h for h in report["manifest"]}
    assert sorted(by_image) == ["siteA_R0010001_left.JPG", "siteA_R0010001_right.JPG",
                                "siteB_card2_R0010001_left.JPG", "siteB_card2_R0010001_right.JPG",
                                "top_left.jpg", "top_right.jpg"]
    assert by_image["siteB_card2_R0010001_left.JPG"]["panorama"] == "siteB_card2_R0010001"
    assert by_image["siteB_card2_R0010001_left.JPG"]["source"] == "siteB/card2/R0010001.JPG"
    assert by_image["top_right.jpg"]["panorama"] == "top"


def _files(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_rerun_splits_only_new_or_changed_panoramas_and_equals_a_fresh_split(tmp_path):
    """Adding 10 % more panoramas re-split all of them (ratio 1.00)."""
    generate(tmp_path / "raw", count=10, width=256, seed=5)
    src, out, cache = tmp_path / "raw/panoramas", tmp_path / "halves", tmp_path / "md5.json"
    first = split_folder(src, out, workers=1, show_progress=False, md5_cache=cache)
    assert first["run"]["split"] == 10
    again = split_folder(src, out, workers=1, show_progress=False, md5_cache=cache)
    assert again["run"] == {**again["run"], "split": 0, "kept": 10, "removed_files": 0, "hashed": 0}
    # a round: two panoramas added (one in a site folder), one changed, one removed
    generate(tmp_path / "more", count=2, width=256, seed=6)
    (src / "site9").mkdir()
    (tmp_path / "more/panoramas/pano_0000.jpg").rename(src / "site9/new_a.jpg")
    (tmp_path / "more/panoramas/pano_0001.jpg").rename(src / "new_b.jpg")
    Image.new("RGB", (256, 128), "white").save(src / "pano_0003.jpg")
    (src / "pano_0004.jpg").unlink()
    round2 = split_folder(src, out, workers=2, show_progress=False, md5_cache=cache)
    assert round2["run"]["split"] == 3 and round2["run"]["kept"] == 8 and round2["run"]["removed_files"] == 2
    fresh = split_folder(src, tmp_path / "fresh", workers=1, show_progress=False)
    assert _files(out) == _files(tmp_path / "fresh")            # byte for byte
    assert state_path(out).read_bytes() == state_path(tmp_path / "fresh").read_bytes()
    assert {k: v for k, v in round2.items() if k != "run"} == {k: v for k, v in fresh.items() if k != "run"}
    # another name pattern (or code) redoes everything
    renamed = split_folder(src, out, pattern="{stem}-{side}{ext}", workers=1, show_progress=False, md5_cache=cache)
    assert renamed["run"]["split"] == 11 and not list(out.glob("*_left.jpg"))


def test_a_damaged_or_missing_half_is_made_again(tmp_path):
    generate(tmp_path / "raw", count=3, width=128, seed=2)
    src, out = tmp_path / "raw/panoramas", tmp_path / "halves"
    split_folder(src, out, workers=1, show_progress=False)
    (out / "pano_0001_left.jpg").unlink()
    (out / "stray.txt").write_text("not ours")
    report = split_folder(src, out, workers=1, show_progress=False)
    assert report["run"]["split"] == 1 and report["run"]["removed_files"] == 1
    assert _files(out) == _files(_fresh(src, tmp_path / "fresh"))


def _fresh(src, out):
    split_folder(src, out, workers=1, show_progress=False)
    return out

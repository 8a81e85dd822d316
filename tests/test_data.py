import pandas as pd
import pytest
import torch
from PIL import Image

from pano360.data.dataset import HalfImages, build_transform, cache_fits
from pano360.data.demo import generate
from pano360.data.panorama import split_folder
from pano360.data.prepare import PrepareParams, prepare_bytes, prepare_folder, prepared_name, prepared_size, settings

CFG = {"input_size": [3, 64, 64], "mean": [0.5] * 3, "std": [0.25] * 3, "interpolation": "bicubic"}
CROP = {"scale": [0.5, 1.0], "ratio": [0.8, 1.25], "hflip": 0.5, "color_jitter": 0.2}


@pytest.fixture(scope="module")
def halves(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    generate(root / "raw", count=2, width=512, seed=1)
    report = split_folder(root / "raw/panoramas", root / "halves", workers=1, show_progress=False)
    images = [h["image"] for h in report["manifest"]]
    spec = settings(PrepareParams(), img_size=64, min_scale=CROP["scale"][0])
    prepare_folder(images, root / "halves", root / "prepared", spec, workers=1, show_progress=False)
    frame = pd.DataFrame({"image": images, "panorama": "p", "a": 1, "b": 0})
    return root, frame, spec


def test_prepared_size_leaves_room_for_the_crop_range():
    assert prepared_size("auto", 256, 1.0) == 256           # no crop: the network's input itself
    assert prepared_size("auto", 256, 0.64) == 320          # sqrt(0.64) = 0.8 of the side
    assert prepared_size("auto", 256, 0.08) == 512          # capped at twice img_size
    assert prepared_size(300, 256, 0.5) == 300


def test_prepare_reduces_once_and_predict_gets_the_same_bytes(halves):
    root, frame, spec = halves
    assert spec["size"] == 91  # 64 / sqrt(0.5)
    for image in frame["image"]:
        stored = root / "prepared" / prepared_name(image, spec["format"])
        with Image.open(stored) as img:
            assert img.size == (91, 91) and img.format == "JPEG"
        with open(root / "halves" / image, "rb") as fh:  # what predict does, in memory
            assert prepare_bytes(fh, spec) == stored.read_bytes()


def test_cache_and_random_crops_go_together_with_identical_tensors(halves):
    root, frame, spec = halves
    names = [prepared_name(i, spec["format"]) for i in frame["image"]]
    transform = build_transform(CFG, True, CROP)
    plain = HalfImages(frame, root / "prepared", ["a", "b"], transform, names)
    cached = HalfImages(frame, root / "prepared", ["a", "b"], transform, names, cache=True)
    for epoch in (0, 1):
        for i in range(len(frame)):
            x, y = plain[(epoch, i)]
            x_cached, y_cached = cached[(epoch, i)]
            assert torch.equal(x, x_cached) and torch.equal(y, y_cached)
    assert len(cached.cache) == len(frame)


def test_augmentation_depends_only_on_seed_epoch_and_sample(halves):
    root, frame, spec = halves
    names = [prepared_name(i, spec["format"]) for i in frame["image"]]
    data = HalfImages(frame, root / "prepared", ["a", "b"], build_transform(CFG, True, CROP), names, seed=3)
    first = data[(2, 1)][0]
    torch.rand(5)  # other draws in between change nothing
    data[(2, 0)]
    assert torch.equal(data[(2, 1)][0], first)
    assert not torch.equal(data[(3, 1)][0], first)


def test_cache_only_when_it_fits():
    assert cache_fits(100, 64)
    assert not cache_fits(10**6, 256)             # 196 GB would not fit
    assert not cache_fits(100, 64, setting=False)
    assert cache_fits(10**6, 256, setting=True)


def test_eval_transform_squashes_the_whole_half_without_cropping():
    image = Image.new("RGB", (100, 50), "white")
    image.paste((0, 0, 0), (0, 0, 5, 50))  # a black band at the left border must survive
    x = build_transform(CFG, False)(image)
    assert x.shape == (3, 64, 64) and x[:, :, 0].mean() < 0

import random

import pandas as pd
import pytest
import torch
from PIL import Image

from pano360.data import HalfImages, build_transform, cache_size_for, open_rgb
from pano360.demo import generate
from pano360.panorama import split_folder

CFG = {"input_size": [3, 64, 64], "mean": [0.5] * 3, "std": [0.25] * 3, "interpolation": "bicubic"}
AUG = {"scale": [1, 1], "ratio": [1, 1], "hflip": 0.5, "color_jitter": 0.2}


@pytest.fixture(scope="module")
def halves(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    generate(root / "raw", count=2, width=512, seed=1)
    report = split_folder(root / "raw/panoramas", root / "halves", workers=1, show_progress=False)
    frame = pd.DataFrame({"image": [h["image"] for h in report["manifest"]], "panorama": "p", "a": 1, "b": 0})
    return root / "halves", frame


def test_reduced_decoding_keeps_at_least_the_requested_size(halves):
    folder, frame = halves
    path = folder / frame["image"][0]
    full = open_rgb(path)
    small = open_rgb(path, 80)
    assert full.size == (256, 256) and min(small.size) >= 80 and small.size[0] < 256


@pytest.mark.parametrize("interpolation", ["bicubic", "bilinear"])
@pytest.mark.parametrize("train", [False, True])
def test_cached_halves_give_identical_tensors(halves, train, interpolation):
    folder, frame = halves
    cfg = {**CFG, "interpolation": interpolation}
    transform = build_transform(cfg, train, AUG)
    plain = HalfImages(frame, folder, ["a", "b"], transform, 80)
    cached = HalfImages(frame, folder, ["a", "b"], transform, 80, cache_size_for(cfg, AUG, len(frame)),
                        interpolation)
    for i in range(len(frame)):
        cached[i]  # fill the cache
        random.seed(i), torch.manual_seed(i)
        x, y = plain[i]
        random.seed(i), torch.manual_seed(i)
        x_cached, y_cached = cached[i]
        assert torch.equal(x, x_cached) and torch.equal(y, y_cached)
    assert len(cached.cache) == len(frame)


def test_cache_only_when_it_is_exact_and_fits():
    assert cache_size_for(CFG, AUG, 100) == 64
    assert cache_size_for(CFG, {**AUG, "scale": [0.8, 1.0]}, 100) is None  # random crop needs the full image
    assert cache_size_for(CFG, AUG, 10**9) is None                         # would not fit in RAM
    assert cache_size_for(CFG, AUG, 100, setting=False) is None


def test_eval_transform_squashes_the_whole_half_without_cropping():
    image = Image.new("RGB", (100, 50), "white")
    image.paste((0, 0, 0), (0, 0, 5, 50))  # a black band at the left border must survive
    x = build_transform(CFG, False)(image)
    assert x.shape == (3, 64, 64) and x[:, :, 0].mean() < 0

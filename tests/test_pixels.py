"""Every image mode Pillow opens is read faithfully, the same way in training, evaluation and
predict, or refused by split_images with the file named."""
import io

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from pano360.data.dataset import HalfImages, build_transform
from pano360.data.pixels import open_rgb
from pano360.data.panorama import split_folder
from pano360.data.pixels import encode_halves

CFG = {"input_size": [3, 32, 32], "mean": [0.5] * 3, "std": [0.25] * 3, "interpolation": "bilinear"}


def scene(height=64) -> np.ndarray:
    """An 8-bit grey panorama (2:1) with a gradient and some structure."""
    y, x = np.mgrid[0:height, 0:2 * height]
    return ((x * 3 + y * 5 + (x // 7) * (y // 5)) % 256).astype(np.uint8)


def tensors(folder, names):
    frame = pd.DataFrame({"image": names, "panorama": "p", "c": 0})
    data = HalfImages(frame, folder, ["c"], build_transform(CFG, False))
    return [data[i][0] for i in range(len(names))]


def test_16_bit_panorama_gives_the_tensors_of_its_8_bit_twin(tmp_path):
    """Pillow's convert('RGB') clips I;16 to 255: the model used to see a white image."""
    grey = scene()
    (tmp_path / "p8").mkdir()
    (tmp_path / "p16").mkdir()
    Image.fromarray(grey).save(tmp_path / "p8/site.png")
    Image.fromarray(grey.astype(np.uint16) * 257).save(tmp_path / "p16/site.png")
    assert Image.open(tmp_path / "p16/site.png").mode == "I;16"
    for name in ("p8", "p16"):
        split_folder(tmp_path / name, tmp_path / f"h{name}", workers=1, show_progress=False)
    names = ["site_left.png", "site_right.png"]
    eight, sixteen = tensors(tmp_path / "hp8", names), tensors(tmp_path / "hp16", names)
    step = 1 / 255 / 0.25  # one grey level after normalisation
    for a, b in zip(eight, sixteen):
        assert (a - b).abs().max() <= step + 1e-6
    # predict decodes the in-memory halves through the same conversion
    for (side, data, _), expected in zip(encode_halves(tmp_path / "p16/site.png")[0], eight):
        x = build_transform(CFG, False)(open_rgb(io.BytesIO(data)))
        assert (x - expected).abs().max() <= step + 1e-6
    assert np.asarray(open_rgb(tmp_path / "hp16/site_left.png")).mean() < 200  # not near-white


@pytest.mark.parametrize("mode", ["1", "L", "P", "LA", "RGBA", "CMYK", "I", "I;16"])
def test_every_mode_converts_to_the_expected_rgb(tmp_path, mode):
    grey = scene(16)
    rgb = Image.fromarray(grey).convert("RGB")
    if mode in ("I", "I;16"):
        image = Image.fromarray(grey.astype(np.uint16) * 257)
        image = image.convert("I") if mode == "I" else image
        expected = rgb
    elif mode in ("LA", "RGBA"):
        image = rgb.convert("RGBA")
        alpha = np.full(grey.shape, 255, np.uint8)
        alpha[:, :4] = 0  # a transparent band: composited onto black
        image.putalpha(Image.fromarray(alpha))
        image = image.convert(mode) if mode != "RGBA" else image
        expected = np.asarray(image.convert("RGBA").convert("RGB")).copy()
        expected[:, :4] = 0
        expected = Image.fromarray(expected)
    else:
        image = rgb.convert(mode)
        expected = image.convert("RGB")
    path = tmp_path / ("x.tif" if mode in ("CMYK", "I") else "x.png")
    image.save(path)
    got = open_rgb(path)
    assert got.mode == "RGB"
    assert np.abs(np.asarray(got, int) - np.asarray(expected, int)).max() <= 1


def test_palette_transparency_is_composited_not_ignored(tmp_path):
    image = Image.new("P", (8, 8), 1)
    image.putpalette([255, 255, 255, 200, 10, 10] + [0] * 762)
    image.info["transparency"] = 0
    image.paste(0, (0, 0, 4, 8))  # left half: palette entry 0 = white, but transparent
    image.save(tmp_path / "p.png", transparency=0)
    got = np.asarray(open_rgb(tmp_path / "p.png"))
    assert (got[:, :4] == 0).all() and (got[:, 4:] == [200, 10, 10]).all()


@pytest.mark.parametrize("make, message", [
    (lambda g: Image.fromarray(g.astype(np.float32) / 255), "floating-point"),
    (lambda g: Image.fromarray(g.astype(np.int32) * 100000), "outside 16 bits"),
])
def test_split_refuses_what_it_cannot_convert_naming_the_file(tmp_path, make, message):
    (tmp_path / "in").mkdir()
    make(scene()).save(tmp_path / "in/odd.tif")
    report = split_folder(tmp_path / "in", tmp_path / "out", workers=1, on_error="skip", show_progress=False)
    assert report["skipped"][0]["file"] == "odd.tif"
    assert message in report["skipped"][0]["error"] and "export it as" in report["skipped"][0]["error"]

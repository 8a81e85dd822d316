"""How close split_images' JPEG halves stay to the source panorama, per size and subsampling.

    python bench/split_quality.py [--widths 1024 2048 4096 8192] [--count 2]

For each width, content (the demo's drawn scenes, and the same with photo-like fine texture),
chroma subsampling (4:2:0, 4:4:4) and source quality (90, 95) it draws `count` panoramas, saves them as JPEG, splits them with pano360, and reports the mean
absolute difference (grey levels, 0-255) between the decoded halves and the decoded source,
next to a plain re-encode at quality 95 with 4:2:0. Why it varies with size: the halves are
re-encoded with the source's quantization tables and subsampling, which is nearly
idempotent; what is lost comes from chroma re-sampling and colour-conversion rounding at
edges, and smaller images have more edge per block.
"""
import argparse
import io
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from pano360.data.demo.generate import _panorama
from pano360.data.pixels import encode_halves


def mean_abs_diff(source: Image.Image, halves: list[bytes]) -> float:
    full = np.asarray(source.convert("RGB"), dtype=np.float64)
    stitched = np.concatenate([np.asarray(Image.open(io.BytesIO(b)).convert("RGB"), np.float64) for b in halves],
                              axis=1)
    return float(np.abs(full - stitched).mean())


def textured(image: Image.Image, seed: int) -> Image.Image:
    """The demo scene with photo-like fine texture: per-pixel noise and 1-3 px detail."""
    rng = np.random.default_rng(seed)
    w, h = image.size
    fine = rng.normal(0, 14, (h, w, 3))
    coarse = np.asarray(Image.fromarray(rng.integers(0, 256, (h // 3, w // 3, 3), np.uint8)).resize((w, h)),
                        np.float64) - 128
    pixels = np.asarray(image, np.float64) + fine + 0.25 * coarse
    return Image.fromarray(pixels.clip(0, 255).astype(np.uint8))


def plain_q95(source: Image.Image) -> list[bytes]:
    w, h = source.size
    out = []
    for box in ((0, 0, (w + 1) // 2, h), ((w + 1) // 2, 0, w, h)):
        buf = io.BytesIO()
        source.crop(box).save(buf, "JPEG", quality=95)
        out.append(buf.getvalue())
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--widths", type=int, nargs="+", default=[1024, 2048, 4096, 8192])
    ap.add_argument("--count", type=int, default=2)
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for width in args.widths:
          for content in ("drawn", "textured"):
            for subsampling, name in ((2, "4:2:0"), (0, "4:4:4")):
                for quality in (90, 95):
                    ours, plain = [], []
                    for index in range(args.count):
                        image, _, _ = _panorama(seed=11, index=index, width=width)
                        if content == "textured":
                            image = textured(image, index)
                        path = Path(tmp) / f"p{width}_{index}.jpg"
                        image.save(path, "JPEG", quality=quality, subsampling=subsampling)
                        source = Image.open(path)
                        source.load()
                        ours.append(mean_abs_diff(source, [b for _, b, _ in encode_halves(path)[0]]))
                        plain.append(mean_abs_diff(source, plain_q95(source)))
                    rows.append((width, content, name, quality, float(np.mean(ours)), float(np.mean(plain))))
                    print(f"{width:>5}  {content:<8} {name}  q{quality}  pano360 {rows[-1][4]:.4f}  "
                          f"plain q95 {rows[-1][5]:.4f}", flush=True)
    print("\n| panorama width | content | subsampling | source quality | pano360 halves: mean abs diff | "
          "plain re-encode q95 4:2:0 |")
    print("|---|---|---|---|---|---|")
    for width, content, name, quality, ours, plain in rows:
        print(f"| {width} | {content} | {name} | {quality} | {ours:.4f} | {plain:.4f} |")


if __name__ == "__main__":
    main()

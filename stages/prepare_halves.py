"""DVC stage prepare_halves: every half once at the size training needs → data/interim/prepared/.

Reads params ``prepare``, ``model.img_size`` and ``train.augment.scale`` (the crop range sets
the margin); changing the head or the learning rate does not rerun it.
"""
import argparse
import sys
from pathlib import Path
from typing import Annotated

import pandas as pd
from pydantic import Field

# This checkout's pano360, not whatever `import pano360` finds first: a queued experiment
# runs in a copy of the repository, and must run the code DVC hashed as its dependencies.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pano360.io import write_json
from pano360.params import ParamsError, check_unchanged, load_params, read_yaml, validate_section
from pano360.prepare import PrepareError, PrepareParams, bytes_on_disk, prepare_folder, settings


def _param(raw: dict, section: str, *keys):
    value = raw.get(section) or {}
    for key in keys:
        if not isinstance(value, dict) or key not in value:
            raise ParamsError(f"params.yaml lacks {'.'.join((section,) + keys)}")
        value = value[key]
    return value


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--halves", default="data/interim/halves")
    ap.add_argument("--manifest", default="data/interim/halves.csv")
    ap.add_argument("--out", default="data/interim/prepared")
    ap.add_argument("--settings", default="data/interim/prepared.json")
    args = ap.parse_args()
    try:
        params = load_params(prepare=PrepareParams)
        raw = read_yaml()
        # Only these two values of other sections matter here (validated again in full by train).
        img_size = validate_section("model.img_size", Annotated[int, Field(ge=16)],
                                    _param(raw, "model", "img_size"))
        scale = validate_section("train.augment.scale", tuple[Annotated[float, Field(gt=0, le=1)], float],
                                 _param(raw, "train", "augment", "scale"))
        spec = settings(params.prepare, img_size, scale[0])
        images = pd.read_csv(args.manifest, dtype={"image": str})["image"].tolist()
        report = prepare_folder(images, args.halves, args.out, spec, workers=params.prepare.workers)
        check_unchanged(params)
        now = read_yaml()
        if (_param(now, "model", "img_size"), _param(now, "train", "augment", "scale")) != \
                (_param(raw, "model", "img_size"), _param(raw, "train", "augment", "scale")):
            raise ParamsError("params.yaml changed while this stage ran (model.img_size or "
                              "train.augment.scale); nothing was written, run `dvc repro` again")
    except (ParamsError, PrepareError) as exc:
        print(f"prepare_halves: {exc}", file=sys.stderr)
        return 1
    size = bytes_on_disk(args.out)
    write_json(args.settings, {**report, "bytes": size})
    print(f"prepare_halves: {report['halves']} halves at {spec['size']}×{spec['size']} ({spec['format']}) → "
          f"{args.out} ({size / 2**20:.1f} MiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

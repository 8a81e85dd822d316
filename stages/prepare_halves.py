"""DVC stage prepare_halves: every half once at the size training needs → data/interim/prepared/.

Reads params ``prepare``, ``model.img_size`` and ``train.augment.scale`` (the crop range sets
the margin); changing the head or the learning rate does not rerun it.
"""
import sys
from typing import Annotated

import pandas as pd
from pydantic import Field

from pano360.data.incremental import state_path
from pano360.data.prepare import PrepareParams, bytes_on_disk, prepare_folder, settings
from pano360.io import write_json
from pano360.stage import run_stage

HALVES, MANIFEST = "data/interim/halves", "data/interim/halves.csv"
PREPARED, SETTINGS = "data/interim/prepared", "data/interim/prepared.json"
STATE = "data/interim/prepared.state.json"      # what made each prepared half (beside PREPARED)
PARAMS = {"prepare": PrepareParams,
          # only these values of other sections matter here (train validates them in full)
          "model.img_size": Annotated[int, Field(ge=16)],
          "train.augment.scale": tuple[Annotated[float, Field(gt=0, le=1)], float]}


assert state_path(PREPARED).as_posix() == STATE


def compute(params):
    spec = settings(params.prepare, params["model.img_size"], params["train.augment.scale"][0])
    images = pd.read_csv(MANIFEST, dtype={"image": str})["image"].tolist()
    return spec, prepare_folder(images, HALVES, PREPARED, spec, workers=params.prepare.workers)


def write(params, result):
    spec, report = result
    run = report.pop("run")   # not in the settings file: an update and a fresh run must agree
    size = bytes_on_disk(PREPARED)
    write_json(SETTINGS, {**report, "bytes": size})
    return (f"prepare_halves: {report['halves']} halves at {spec['size']}×{spec['size']} ({spec['format']}) → "
            f"{PREPARED} ({size / 2**20:.1f} MiB; {run['prepared']} prepared now, {run['kept']} kept from the "
            f"last run, {run['removed_files']} stale files removed)")


if __name__ == "__main__":
    sys.exit(run_stage("prepare_halves", PARAMS, compute, write))

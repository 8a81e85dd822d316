"""A small workspace ready to train on, built in-process from a built-in data set: the demo
generator's panoramas and export, split into halves, labels read, partitioned, halves prepared.
The same steps as the pipeline's data stages, for tests and benchmarks (and for trying the
library without DVC)."""
from __future__ import annotations

from pathlib import Path

from pano360.data.demo import generate
from pano360.data.panorama import split_folder
from pano360.data.partition import partition
from pano360.data.prepare import PrepareParams, prepare_folder, settings
from pano360.io import write_csv, write_json
from pano360.labels.table import load_labels

FRACTIONS = {"train": 0.6, "val": 0.2, "test": 0.2}


def build_splits(root, *, count: int, width: int, seed: int = 0, preset: str = "demo", img_size: int = 64,
                 min_scale: float = 1.0, fractions: dict | None = None, partition_seed: int = 0,
                 workers: int = 1, **labels_options) -> Path:
    """``root/raw`` (panoramas + LabelBox export), ``halves/``, ``prepared/`` with
    ``prepared.json``, ``label_schema.json`` and ``{train,val,test}.csv``; returns ``root``."""
    root = Path(root)
    generate(root / "raw", count=count, width=width, seed=seed, preset=preset)
    manifest = split_folder(root / "raw/panoramas", root / "halves", workers=workers, show_progress=False)["manifest"]
    images = [h["image"] for h in manifest]
    table = load_labels(root / "raw/labels.ndjson", halves=images, **labels_options)
    write_json(root / "label_schema.json", table.report["label_schema"])
    parts, _, _ = partition(table.frame, fractions or FRACTIONS, seed=partition_seed)
    for name, frame in parts.items():
        write_csv(root / f"{name}.csv", frame)
    spec = settings(PrepareParams(), img_size=img_size, min_scale=min_scale)
    write_json(root / "prepared.json", prepare_folder(images, root / "halves", root / "prepared", spec,
                                                      workers=workers, show_progress=False))
    return root

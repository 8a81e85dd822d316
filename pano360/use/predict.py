"""Predict on new panoramas: split in memory, batch the halves through the model (a checkpoint
with PyTorch, or an exported bundle with onnxruntime), apply the tuned thresholds, and report
per half and per panorama (a class is present when either half has it; its score is the max
of the halves, exactly as the evaluate stage aggregates). The loop over panoramas is the
bundle runner's (:mod:`pano360.use.runner`), so both paths prepare identical pixels."""
from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from pano360.data.dataset import build_transform
from pano360.use.inference import autocast, checkpoint_autocast, default_device, score_table, use_channels_last
from pano360.use.runner import Bundle, BundleError, Panorama, as_panorama, folder_images, is_bundle, \
    panorama_scores, score_panoramas, unique_inputs
from pano360.io import atomic_path
from pano360.model.backbone import load_checkpoint
from pano360.data.naming import DEFAULT_PATTERN
from pano360.data.pixels import IMAGE_SUFFIXES
from pano360.progress import progress
from pano360.evaluation.thresholds_file import ThresholdsFileError, read_thresholds_file
from pano360.errors import Pano360Error

FORMATS = ("csv", "jsonl", "parquet", "labelbox")
EXTENSIONS = {".csv": "csv", ".jsonl": "jsonl", ".parquet": "parquet", ".ndjson": "labelbox"}
_SHOWN = 10


class PredictError(Pano360Error, RuntimeError):
    pass


def _listing(paths) -> str:
    paths = [str(p) for p in paths]
    return ", ".join(paths[:_SHOWN]) + (f" and {len(paths) - _SHOWN} more" if len(paths) > _SHOWN else "")


def collect_inputs(items: list[str], root=None) -> list[Panorama]:
    """Panorama files, folders (searched recursively) and ``@list.txt`` files (one path per
    line, relative to the list; ``#`` comments). Every problem is found before any work:
    a path that does not exist, a file that is not an image, a folder without images.
    A folder's panoramas get their subfolders there as ``{folder}``; a file, its folder below
    ``root`` when it lies there (as split_images names panoramas below data/raw/panoramas)."""
    found: list[Panorama] = []
    missing, not_images, empty = [], [], []

    def add(path: Path, where: str = "") -> None:
        if path.is_dir():
            images = folder_images(path)
            if not images:
                empty.append(f"{path}{where}")
            found.extend(images)
        elif not path.exists():
            missing.append(f"{path}{where}")
        elif path.suffix.lower() not in IMAGE_SUFFIXES:
            not_images.append(f"{path}{where}")
        else:
            found.append(as_panorama(path, root))

    for item in items:
        if item.startswith("@"):
            listing = Path(item[1:])
            if not listing.is_file():
                raise PredictError(f"list file {listing} does not exist")
            for number, line in enumerate(listing.read_text(encoding="utf-8").splitlines(), 1):
                line = line.strip()
                if line and not line.startswith("#"):
                    entry = Path(line)
                    add(entry if entry.is_absolute() else listing.parent / entry, f" ({listing}:{number})")
        else:
            add(Path(item))
    problems = []
    if missing:
        problems.append(f"{len(missing)} input(s) do not exist: {_listing(missing)}")
    if not_images:
        problems.append(f"{len(not_images)} input(s) are not panoramas ({', '.join(sorted(IMAGE_SUFFIXES))}): "
                        f"{_listing(not_images)}; to pass a file that lists paths, write @{not_images[0]}")
    if empty:
        problems.append(f"folder(s) without panoramas: {_listing(empty)}")
    if problems:
        raise PredictError("; ".join(problems))
    unique = unique_inputs(found)
    if not unique:
        raise PredictError("no panoramas given")
    return unique


def output_format(out: Path, fmt: str | None) -> str:
    """The table format: from ``--out``'s extension, or ``fmt``; a clash is an error."""
    if out.is_dir():
        raise PredictError(f"--out {out} is a folder; give a file name, e.g. {out / 'predictions.csv'}")
    from_ext = EXTENSIONS.get(out.suffix.lower())
    if fmt and from_ext and fmt != from_ext:
        raise PredictError(f"--format {fmt} does not match --out {out} (a {from_ext} name); "
                           f"change one of them")
    if not (fmt or from_ext):
        raise PredictError(f"cannot tell the format from --out {out}: name it .csv, .jsonl, .parquet or "
                           f".ndjson (LabelBox pre-labels), or give --format")
    return fmt or from_ext


def check_output(out: Path) -> None:
    """Fail before any work if ``out`` (and its panorama table) cannot be written."""
    for path in (out, panorama_table_path(out)):
        if path.is_dir():
            raise PredictError(f"--out {path} is a folder; give a file name, e.g. {path / 'predictions.csv'}")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out.parent, prefix=f".{out.name}.", suffix=".check"):
            pass
    except OSError as exc:
        raise PredictError(f"cannot write --out {out}: {exc.strerror or exc}") from None


@dataclass
class Prediction:
    halves: pd.DataFrame
    panoramas: pd.DataFrame
    failed: list[tuple[str, str]] = field(default_factory=list)
    classes: list[str] = field(default_factory=list)
    label_schema: dict | None = None   # where the classes came from in the training labels
    thresholds: np.ndarray | None = None   # the decision thresholds used


# ``thresholds_path`` default for a checkpoint (a bundle carries its own)
DEFAULT_THRESHOLDS = "models/thresholds.json"


def _checkpoint_scorer(model_path, batch_size: int):
    """``(score, ckpt)``: ``score`` runs the checkpoint's model over prepared halves."""
    device = default_device()
    model, ckpt = load_checkpoint(model_path, map_location=device)  # errors before any work
    model.to(device).eval()
    transform, amp = build_transform(ckpt["data_config"], False), checkpoint_autocast(ckpt, device)
    channels_last = use_channels_last(model, device)

    @torch.no_grad()
    def score(images) -> np.ndarray:
        out = []
        for start in range(0, len(images), batch_size):
            batch = torch.stack([transform(image) for image in images[start:start + batch_size]]).to(device)
            if channels_last:
                batch = batch.contiguous(memory_format=torch.channels_last)
            with autocast(device, amp):
                logits = model(batch)
            out.append(torch.sigmoid(logits.float()).cpu().numpy())
        return np.concatenate(out)

    return score, ckpt


def workspace_name_pattern(params_file: str = "params.yaml") -> str:
    """``split.name_pattern`` of the project in the current folder (so predict names halves as
    split_images does there), else the default pattern."""
    try:
        import yaml
        params = yaml.safe_load(Path(params_file).read_text(encoding="utf-8")) or {}
        return (params.get("split") or {}).get("name_pattern") or DEFAULT_PATTERN
    except (OSError, ValueError, AttributeError):
        return DEFAULT_PATTERN


def predict_panoramas(inputs: list[Path], model_path, thresholds_path="default", batch_size: int = 32,
                      chunk: int = 64, name_pattern: str | None = None,
                      show_progress: bool = True) -> Prediction:
    """Probabilities and decisions for every readable panorama; unreadable ones are listed.

    ``model_path``: a checkpoint (``models/model.pt``) or an exported bundle
    (``models/bundle``, run with onnxruntime). ``thresholds_path``: a thresholds file, None
    for 0.5, or ``"default"``: the bundle's own, or ``models/thresholds.json`` for a
    checkpoint. ``name_pattern`` None: the bundle's, or the default pattern."""
    try:
        if is_bundle(model_path):
            bundle = Bundle(model_path)
            classes, own_thresholds, schema = bundle.classes, bundle.thresholds, bundle.label_schema
            prepare, pattern = bundle.prepare, bundle.name_pattern

            def score(images):
                return bundle.probabilities(images, batch_size)
        else:
            score, ckpt = _checkpoint_scorer(model_path, batch_size)
            classes, schema, prepare = ckpt["classes"], ckpt.get("labels"), ckpt.get("prepare")
            own_thresholds, pattern = None, workspace_name_pattern()
        if thresholds_path == "default" and own_thresholds is not None:
            thresholds = own_thresholds
        elif thresholds_path:
            path = DEFAULT_THRESHOLDS if thresholds_path == "default" else thresholds_path
            thresholds = read_thresholds_file(path, classes)
        else:
            thresholds = np.full(len(classes), 0.5)
    except (ThresholdsFileError, BundleError) as exc:
        raise PredictError(str(exc)) from None
    bar = progress(total=len(inputs), desc="predict", unit="pano", disable=not show_progress)
    try:   # score_panoramas refuses two panoramas that would give one half name before any work
        rows, p, failed = score_panoramas(inputs, score, prepare, name_pattern or pattern, chunk, bar.update)
    except BundleError as exc:
        raise PredictError(str(exc)) from None
    finally:
        bar.close()
    if not rows:
        p = np.zeros((0, len(classes)))
    halves = score_table(pd.DataFrame(rows, columns=["image", "panorama", "side", "source"]), p, thresholds, classes)
    ids, pano_probs = panorama_scores(rows, p)
    panoramas = score_table(pd.DataFrame(ids, columns=["panorama", "source"]), pano_probs, thresholds, classes)
    return Prediction(halves, panoramas, failed, list(classes), schema, thresholds)


def write_table(frame: pd.DataFrame, path: Path, fmt: str) -> None:
    with atomic_path(path) as tmp:
        if fmt == "csv":
            frame.to_csv(tmp, index=False, lineterminator="\n")
        elif fmt == "jsonl":
            frame.to_json(tmp, orient="records", lines=True)
        elif fmt == "parquet":
            frame.to_parquet(tmp, index=False)
        else:
            raise PredictError(f"--format must be one of {FORMATS}")


def panorama_table_path(out: Path) -> Path:
    return out.with_name(f"{out.stem}_panoramas{out.suffix}")

"""Reading ``models/thresholds.json`` (written by :func:`thresholds.write_thresholds_file`).

Apart from the tuning code, so the commands that only apply thresholds (predict, the export
stage) do not import scikit-learn and iterative-stratification (1.5 s of start-up each).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from pano360.errors import Pano360Error


class ThresholdsFileError(Pano360Error, ValueError):
    pass


def read_thresholds_file(path, classes: list[str]) -> np.ndarray:
    """Thresholds from ``models/thresholds.json`` in the model's class order; a file tuned for
    other classes is an error, never a silent mis-assignment."""
    try:
        spec = json.loads(Path(path).read_text(encoding="utf-8"))
        thresholds = spec["thresholds"]
    except FileNotFoundError:
        raise ThresholdsFileError(f"thresholds file {path} does not exist") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise ThresholdsFileError(f"{path} is not a pano360 thresholds file ({exc})") from None
    if spec.get("classes") != classes or set(thresholds) != set(classes):
        raise ThresholdsFileError(
            f"{path} holds thresholds for classes {spec.get('classes') or sorted(thresholds)}, but the "
            f"model predicts {classes}; use the thresholds tuned for this model (dvc repro tune_thresholds)")
    return np.array([thresholds[c] for c in classes], dtype=float)

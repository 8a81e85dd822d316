"""params.yaml is the one configuration surface; stages read their sections from it."""
from __future__ import annotations

from pathlib import Path

import yaml


def load_params(path: str | Path = "params.yaml") -> dict:
    with open(path, encoding="utf-8") as fh:
        return yaml.safe_load(fh) or {}


def section(params: dict, name: str) -> dict:
    if name not in params:
        raise KeyError(f"params.yaml has no '{name}' section; see README 'Parameters'")
    return params[name] or {}

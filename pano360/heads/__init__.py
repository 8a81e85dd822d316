"""Multi-label heads. Each maps spatial tokens (B, N, C) to float32 logits (B, K)."""
from __future__ import annotations

import inspect

from torch import nn

from .csra import CSRAHead
from .fc import FCHead
from .mldecoder import MLDecoderHead, load_official_state_dict
from .tokens import feature_layout, to_tokens

HEADS = ("fc", "csra", "mldecoder")
_CLASSES = {"fc": FCHead, "csra": CSRAHead, "mldecoder": MLDecoderHead}

__all__ = [
    "HEADS", "CSRAHead", "FCHead", "MLDecoderHead",
    "build_head", "feature_layout", "load_official_state_dict", "to_tokens",
]


def build_head(name: str, in_features: int, num_classes: int, **options) -> nn.Module:
    """Build head ``name`` from HEADS; ``options`` are that head's keyword arguments."""
    if name not in _CLASSES:
        raise ValueError(f"unknown head {name!r}; choose one of {HEADS}")
    cls = _CLASSES[name]
    allowed = [p for p in inspect.signature(cls).parameters if p not in ("in_features", "num_classes")]
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise TypeError(f"unknown option(s) {unknown} for head {name!r}; allowed: {allowed}")
    return cls(in_features, num_classes, **options)

"""Multi-label heads. Each maps spatial tokens (B, N, C) to float32 logits (B, K).

Their options are params.yaml's ``heads.<name>`` sections (schemas below); ``lr_mult`` is
not a constructor option but a training setting: the head learns at ``train.lr × lr_mult``.
"""
from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import Field, NonNegativeFloat, PositiveFloat, PositiveInt, field_validator
from torch import nn

from pano360.params import Section, validate_section
from pano360.model.heads.csra import CSRAHead
from pano360.model.heads.fc import FCHead
from pano360.model.heads.mldecoder import MLDecoderHead, load_official_state_dict
from pano360.model.heads.tokens import feature_layout, to_tokens

HEADS = ("fc", "csra", "mldecoder")
HeadName = Literal["fc", "csra", "mldecoder"]
# auto: 10 when the backbone starts from pretrained weights (a new head must catch up with a
# trained backbone, as in CSRA's and MMPretrain's recipes), 1 when everything starts random;
# ML-Decoder's attention layers a tenth of that (measured on the hard demo set, BENCHMARKS.md).
LrMult = Union[Literal["auto"], PositiveFloat]
AUTO_LR_MULT = {"fc": (1.0, 10.0), "csra": (1.0, 10.0), "mldecoder": (0.1, 1.0)}  # (scratch, pretrained)

__all__ = [
    "HEADS", "CSRAHead", "FCHead", "MLDecoderHead", "HeadsParams",
    "build_head", "feature_layout", "head_lr_mult", "load_official_state_dict", "to_tokens",
]


class FCParams(Section):
    drop_rate: Annotated[float, Field(ge=0, lt=1)] = 0.0
    lr_mult: LrMult = "auto"


class CSRAParams(Section):
    # 2 branches: temperature 1 and 99 (max pooling, which small objects need); λ weighs them
    num_heads: Literal[1, 2, 4, 6, 8] = 2   # the paper's temperatures per head count
    lam: NonNegativeFloat = 1.0             # λ, weight of the attention logit
    lr_mult: LrMult = "auto"


class MLDecoderParams(Section):
    num_groups: int = -1                    # -1: min(100, classes) queries
    decoder_embedding: PositiveInt = 768
    num_heads: PositiveInt = 8
    dim_feedforward: PositiveInt = 2048
    dropout: Annotated[float, Field(ge=0, lt=1)] = 0.1
    lr_mult: LrMult = "auto"

    @field_validator("num_groups")
    @classmethod
    def _groups(cls, value):
        if value != -1 and value < 1:
            raise ValueError("must be -1 (automatic) or a positive number of groups")
        return value


class HeadsParams(Section):
    """params.yaml ``heads``: each head's options (only the chosen head's are used)."""
    fc: FCParams = FCParams()
    csra: CSRAParams = CSRAParams()
    mldecoder: MLDecoderParams = MLDecoderParams()


HEAD_PARAMS = {"fc": FCParams, "csra": CSRAParams, "mldecoder": MLDecoderParams}
_CLASSES = {"fc": FCHead, "csra": CSRAHead, "mldecoder": MLDecoderHead}


def head_options(name: str, options: dict) -> dict:
    """Constructor options of head ``name``: validated, defaults filled, without ``lr_mult``."""
    if name not in _CLASSES:
        raise ValueError(f"unknown head {name!r}; choose one of {HEADS}")
    params = validate_section(f"heads.{name}", HEAD_PARAMS[name], options)
    return params.model_dump(exclude={"lr_mult"})


def head_lr_mult(name: str, options: dict, pretrained: bool) -> float:
    """The head's learning-rate multiplier, ``auto`` resolved (AUTO_LR_MULT)."""
    value = validate_section(f"heads.{name}", HEAD_PARAMS[name], options).lr_mult
    return AUTO_LR_MULT[name][int(pretrained)] if value == "auto" else float(value)


def build_head(name: str, in_features: int, num_classes: int, **options) -> nn.Module:
    """Build head ``name`` from HEADS; ``options`` are that head's ``heads.<name>`` params."""
    options = head_options(name, options)  # unknown names fail here, clearly
    return _CLASSES[name](in_features, num_classes, **options)

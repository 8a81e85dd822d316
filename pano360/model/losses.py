"""Multi-label losses: BCE, and timm's asymmetric loss with the paper's settings made explicit."""
from __future__ import annotations

from typing import Annotated

from pydantic import Field, NonNegativeFloat
from timm.loss import AsymmetricLossMultiLabel
from torch import nn

from pano360.params import Section

LOSSES = ("bce", "asl")


class AslParams(Section):
    """params.yaml ``train.asl``: asymmetric loss settings (the paper's, not timm's defaults)."""
    gamma_neg: NonNegativeFloat = 4.0
    gamma_pos: NonNegativeFloat = 0.0
    clip: Annotated[float, Field(ge=0, lt=1)] = 0.05


class _Mean(nn.Module):
    """Sum-over-classes losses divided by the class count, so lr does not depend on K or B."""

    def __init__(self, loss: nn.Module, num_classes: int):
        super().__init__()
        self.loss, self.num_classes = loss, num_classes

    def forward(self, logits, targets):
        return self.loss(logits.float(), targets.float()) / self.num_classes


def build_loss(name: str, num_classes: int, **asl_options) -> nn.Module:
    """``bce``: mean BCE-with-logits. ``asl``: ASL (Ridnik et al.) with the paper's γ−=4, γ+=0,
    clip 0.05 (timm defaults to γ+=1), reduced to a mean over batch AND classes like BCE, so
    switching loss does not silently change the effective learning rate."""
    if name == "bce":
        return nn.BCEWithLogitsLoss()
    if name == "asl":
        o = AslParams.model_validate(asl_options)
        asl = AsymmetricLossMultiLabel(gamma_neg=o.gamma_neg, gamma_pos=o.gamma_pos, clip=o.clip,
                                       eps=1e-8, reduction="batchmean")
        return _Mean(asl, num_classes)
    raise ValueError(f"train.loss must be one of {LOSSES}, not {name!r}")

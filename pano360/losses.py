"""Multi-label losses: BCE, and timm's asymmetric loss with the paper's settings made explicit."""
from __future__ import annotations

from torch import nn
from timm.loss import AsymmetricLossMultiLabel

LOSSES = ("bce", "asl")


class _Mean(nn.Module):
    """Sum-over-classes losses divided by the class count, so lr does not depend on K or B."""

    def __init__(self, loss: nn.Module, num_classes: int):
        super().__init__()
        self.loss, self.num_classes = loss, num_classes

    def forward(self, logits, targets):
        return self.loss(logits.float(), targets.float()) / self.num_classes


def build_loss(name: str, num_classes: int, gamma_neg: float = 4.0, gamma_pos: float = 0.0,
               clip: float = 0.05) -> nn.Module:
    """``bce``: mean BCE-with-logits. ``asl``: ASL (Ridnik et al.) with the paper's γ−=4, γ+=0,
    clip 0.05 (timm defaults to γ+=1), reduced to a mean over batch AND classes like BCE, so
    switching loss does not silently change the effective learning rate."""
    if name == "bce":
        return nn.BCEWithLogitsLoss()
    if name == "asl":
        asl = AsymmetricLossMultiLabel(gamma_neg=gamma_neg, gamma_pos=gamma_pos, clip=clip,
                                       eps=1e-8, reduction="batchmean")
        return _Mean(asl, num_classes)
    raise ValueError(f"train.loss must be one of {LOSSES}, not {name!r}")

"""Baseline head: average over tokens, then a linear classifier."""
from __future__ import annotations

from torch import Tensor, nn

from pano360.model.heads.tokens import check_tokens


class FCHead(nn.Module):
    def __init__(self, in_features: int, num_classes: int, drop_rate: float = 0.0):
        super().__init__()
        self.in_features = in_features
        self.num_classes = num_classes
        self.drop = nn.Dropout(drop_rate)
        self.fc = nn.Linear(in_features, num_classes)

    def forward(self, tokens: Tensor) -> Tensor:
        check_tokens(tokens, self.in_features)
        return self.fc(self.drop(tokens.mean(dim=1))).float()

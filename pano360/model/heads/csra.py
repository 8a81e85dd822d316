"""CSRA: class-specific residual attention (Zhu & Wu, ICCV 2021), following the official code.

Per branch, with class vectors m_k and tokens x_j:
    s_kj = <m_k, x_j> / ||m_k||
    logit_k = mean_j s_kj + lam * sum_j softmax_j(T * s_k.)_j * s_kj
where T == 99 (or inf) means max_j s_kj. The head returns the SUM of its branches' logits.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from pano360.model.heads.tokens import check_tokens

# Official per-head-count temperatures; 99 is the code's marker for max pooling.
TEMPERATURES = {
    1: (1,),
    2: (1, 99),
    4: (1, 2, 4, 99),
    6: (1, 2, 3, 4, 5, 99),
    8: (1, 2, 3, 4, 5, 6, 7, 99),
}


def _is_max_pooling(temperature: float) -> bool:
    return temperature == 99 or temperature == math.inf


class CSRAHead(nn.Module):
    def __init__(self, in_features: int, num_classes: int, num_heads: int = 2, lam: float = 1.0):
        super().__init__()
        if num_heads not in TEMPERATURES:
            raise ValueError(f"CSRA num_heads must be one of {sorted(TEMPERATURES)}, got {num_heads}")
        self.in_features = in_features
        self.num_classes = num_classes
        self.lam = lam
        self.temperatures = TEMPERATURES[num_heads]
        # One bias-free class-vector matrix (K x C) per branch, stacked: (heads, K, C).
        self.class_vectors = nn.Parameter(torch.empty(num_heads, num_classes, in_features))
        # Same distribution as nn.Linear's default init; never zero (the scores divide by ||m_k||).
        bound = 1 / math.sqrt(in_features)
        nn.init.uniform_(self.class_vectors, -bound, bound)

    def forward(self, tokens: Tensor) -> Tensor:
        check_tokens(tokens, self.in_features)
        unit_vectors = self.class_vectors / self.class_vectors.norm(dim=-1, keepdim=True)
        scores = torch.einsum("bnc,hkc->hbkn", tokens, unit_vectors)
        logits = 0
        for branch_scores, temperature in zip(scores, self.temperatures):
            if _is_max_pooling(temperature):
                attention = branch_scores.amax(dim=-1)
            else:
                weights = torch.softmax(temperature * branch_scores, dim=-1)
                attention = (weights * branch_scores).sum(dim=-1)
            logits = logits + branch_scores.mean(dim=-1) + self.lam * attention
        return logits.float()

"""ML-Decoder head (Ridnik et al., arXiv 2111.12933) without ``nn.TransformerDecoder``.

``nn.TransformerDecoder`` no longer accepts the official cross-attention-only layer on
torch >= 2.1, so the single layer is written out here. Parameter names and shapes match
``timm.layers.ml_decoder.MLDecoder``, so its state_dicts load strictly; the official repo's
layout loads through ``load_official_state_dict``.
"""
from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from pano360.model.heads.tokens import check_tokens

DEFAULT_GROUPS = 100


class QueryDecoderLayer(nn.Module):
    """Post-LN decoder layer with cross-attention and FFN but no self-attention."""

    def __init__(self, dim: int, num_heads: int, dim_feedforward: int, dropout: float):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.multihead_attn = nn.MultiheadAttention(dim, num_heads, dropout=dropout, batch_first=True)
        self.norm2 = nn.LayerNorm(dim)
        self.linear1 = nn.Linear(dim, dim_feedforward)
        self.linear2 = nn.Linear(dim_feedforward, dim)
        self.norm3 = nn.LayerNorm(dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, queries: Tensor, memory: Tensor) -> Tensor:
        # Kept from the official code, where self-attention used to be: in training this is
        # multiplicative noise on the queries, in eval it is norm1(2 * queries).
        q = self.norm1(queries + self.dropout(queries))
        attended = self.multihead_attn(q, memory, memory, need_weights=False)[0]
        q = self.norm2(q + self.dropout(attended))
        ffn = self.linear2(self.dropout(F.relu(self.linear1(q))))
        return self.norm3(q + self.dropout(ffn))


class QueryDecoder(nn.Module):
    """Holds the layer under ``layers.0`` so the keys match the reference implementations."""

    def __init__(self, layer: QueryDecoderLayer):
        super().__init__()
        self.layers = nn.ModuleList([layer])

    def forward(self, queries: Tensor, memory: Tensor) -> Tensor:
        for layer in self.layers:
            queries = layer(queries, memory)
        return queries


class MLDecoderHead(nn.Module):
    def __init__(
        self,
        in_features: int,
        num_classes: int,
        num_groups: int = -1,
        decoder_embedding: int = 768,
        num_heads: int = 8,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
    ):
        super().__init__()
        if decoder_embedding <= 0 or decoder_embedding % num_heads:
            raise ValueError(
                f"decoder_embedding={decoder_embedding} must be positive and divisible by "
                f"num_heads={num_heads}"
            )
        groups = min(DEFAULT_GROUPS if num_groups < 0 else num_groups, num_classes)
        if groups <= 0:
            raise ValueError(
                f"num_groups must be -1 (default {DEFAULT_GROUPS}) or positive, got {num_groups}"
            )
        # The official rounding, kept for state_dict compatibility; it can fall one short of ceil().
        duplicate_factor = int(num_classes / groups + 0.999)
        if groups * duplicate_factor < num_classes:
            raise ValueError(
                f"{groups} groups x duplicate factor {duplicate_factor} cannot cover {num_classes} classes; "
                "choose another num_groups"
            )
        self.in_features = in_features
        self.num_classes = num_classes

        self.embed_standart = nn.Linear(in_features, decoder_embedding)  # official (mis)spelling
        self.decoder = QueryDecoder(QueryDecoderLayer(decoder_embedding, num_heads, dim_feedforward, dropout))
        # Random queries that are never trained (N(0, 1) from nn.Embedding), one per group.
        self.query_embed = nn.Embedding(groups, decoder_embedding)
        self.query_embed.requires_grad_(False)
        # Group FC: query g scores classes g*F .. g*F+F-1 with its own (D, F) matrix.
        self.duplicate_pooling = nn.Parameter(torch.empty(groups, decoder_embedding, duplicate_factor))
        self.duplicate_pooling_bias = nn.Parameter(torch.zeros(num_classes))
        nn.init.xavier_normal_(self.duplicate_pooling)

    def forward(self, tokens: Tensor) -> Tensor:
        check_tokens(tokens, self.in_features)
        memory = F.relu(self.embed_standart(tokens))
        queries = self.query_embed.weight.unsqueeze(0).expand(tokens.shape[0], -1, -1)
        decoded = self.decoder(queries, memory)  # (B, G, D)
        grouped = torch.einsum("bgd,gdf->bgf", decoded, self.duplicate_pooling)
        return (grouped.flatten(1)[:, : self.num_classes] + self.duplicate_pooling_bias).float()


# The official ML_Decoder repo hangs these tensors on its nn.TransformerDecoder sub-module.
_OFFICIAL_PREFIXES = {
    "decoder.embed_standart.": "embed_standart.",
    "decoder.query_embed.": "query_embed.",
    "decoder.duplicate_pooling": "duplicate_pooling",  # also covers duplicate_pooling_bias
}


def load_official_state_dict(head: MLDecoderHead, state_dict: Mapping[str, Tensor]):
    """Strictly load a head state_dict in the official repo's layout (or timm's) into ``head``."""
    renamed = {}
    for key, value in state_dict.items():
        for old, new in _OFFICIAL_PREFIXES.items():
            if key.startswith(old):
                key = new + key[len(old):]
                break
        renamed[key] = value
    return head.load_state_dict(renamed, strict=True)

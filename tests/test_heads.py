"""Tests for pano360.model.heads: maths of each head, token layouts of timm backbones, edge cases."""
from __future__ import annotations

import math

import pytest
import timm
import torch
from timm.layers.ml_decoder import MLDecoder

from pano360.model.heads import (
    HEADS,
    CSRAHead,
    FCHead,
    MLDecoderHead,
    build_head,
    feature_layout,
    load_official_state_dict,
    to_tokens,
)

NUM_CLASSES = 5
SMALL_DECODER = {"decoder_embedding": 32}  # keeps ML-Decoder tests fast; 8 heads of dim 4


def make_head(name: str, in_features: int, num_classes: int = NUM_CLASSES) -> torch.nn.Module:
    options = {"csra": {"num_heads": 4, "lam": 0.5}, "mldecoder": SMALL_DECODER}.get(name, {})
    return build_head(name, in_features, num_classes, **options)


# --------------------------------------------------------------------------- timm oracle


class _SelfAttnStub:
    """nn.TransformerDecoder (torch >= 2.1) reads layers[0].self_attn.batch_first."""

    batch_first = False


def runnable_timm_mldecoder(num_classes, in_features, num_groups=-1, decoder_embedding=32) -> MLDecoder:
    """timm's MLDecoder, patched so that it runs on torch >= 2.1 without changing its maths."""
    module = MLDecoder(num_classes, num_of_groups=num_groups, decoder_embedding=decoder_embedding,
                       initial_num_features=in_features)
    layer = module.decoder.layers[0]
    layer.self_attn = _SelfAttnStub()
    original_forward = layer.forward

    def forward(*args, tgt_is_causal=None, memory_is_causal=False, **kwargs):
        return original_forward(*args, **kwargs)

    layer.forward = forward
    return module


# --------------------------------------------------------------------------- backbones

TINY_BACKBONES = {
    # family: (create_model args, input (C, H, W), expected feature_layout)
    "convnext": (("test_convnext",), {}, (3, 96, 128), ("NCHW", 0)),
    "resnet": (("test_resnet",), {}, (3, 96, 128), ("NCHW", 0)),
    "swinv2": (
        ("swinv2_tiny_window8_256",),
        dict(img_size=(64, 128), window_size=4, embed_dim=16, depths=(1, 1, 1, 1),
             num_heads=(1, 1, 1, 1), num_classes=0, global_pool=""),
        (3, 64, 128),
        ("NHWC", 0),
    ),
    "vit": (("test_vit",), {}, (3, 160, 160), ("NLC", 1)),
    "vit_reg": (
        ("vit_tiny_patch16_224",),
        dict(img_size=32, patch_size=8, embed_dim=32, depth=1, num_heads=2, reg_tokens=4,
             no_embed_class=True),
        (3, 32, 32),
        ("NLC", 5),
    ),
}


@pytest.fixture(scope="module")
def backbones():
    """family -> (model, forward_features output for 2 images)."""
    torch.manual_seed(0)
    out = {}
    for family, (args, kwargs, input_size, _) in TINY_BACKBONES.items():
        model = timm.create_model(*args, pretrained=False, **kwargs).eval()
        with torch.no_grad():
            out[family] = model, model.forward_features(torch.randn(2, *input_size))
    return out


@pytest.mark.parametrize("family", TINY_BACKBONES)
def test_feature_layout(backbones, family):
    model, features = backbones[family]
    fmt, prefix = feature_layout(model)
    assert (fmt, prefix) == TINY_BACKBONES[family][3]
    tokens = to_tokens(features, fmt, prefix)
    assert tokens.shape[0] == 2 and tokens.shape[2] == model.num_features
    assert model.training is False  # a probing forward must not flip the mode


def test_feature_layout_keeps_train_mode(backbones):
    model, _ = backbones["resnet"]  # no output_fmt / num_prefix_tokens: probed with a forward
    model.train()
    try:
        assert feature_layout(model) == ("NCHW", 0)
        assert model.training
    finally:
        model.eval()


def test_feature_layout_probes_at_the_created_img_size():
    # img_size= at creation leaves pretrained_cfg at 160 px, which this MaxViT would reject
    model = timm.create_model("test_maxvit", pretrained=False, img_size=128, num_classes=0, global_pool="")
    assert model.pretrained_cfg["input_size"] == (3, 160, 160)
    assert feature_layout(model) == ("NCHW", 0)


# --------------------------------------------------------------------------- to_tokens


def test_to_tokens_layouts_agree():
    nchw = torch.randn(2, 6, 3, 4)
    tokens = to_tokens(nchw, "NCHW")
    assert tokens.shape == (2, 12, 6)
    # token (h, w) row-major holds the channel vector at that position
    assert torch.equal(tokens[:, 1 * 4 + 2], nchw[:, :, 1, 2])
    assert torch.equal(to_tokens(nchw.permute(0, 2, 3, 1), "NHWC"), tokens)

    nlc = torch.randn(2, 7, 6)
    assert torch.equal(to_tokens(nlc, "NLC", 2), nlc[:, 2:])
    assert torch.equal(to_tokens(nlc, "NLC"), nlc)


@pytest.mark.parametrize(
    "shape, fmt, prefix, match",
    [
        ((2, 7, 6), "NCHW", 0, "4-D"),
        ((2, 7, 6), "NHWC", 0, "4-D"),
        ((2, 6, 3, 4), "NLC", 0, "3-D"),
        ((2, 7, 6), "NLC", 7, "num_prefix_tokens"),
        ((2, 7, 6), "NLC", -1, "num_prefix_tokens"),
        ((2, 6, 3, 4), "NCHW", 1, "prefix"),
        ((2, 6, 3, 4), "CHW", 0, "unknown output_fmt"),
    ],
)
def test_to_tokens_rejects_contradicting_shapes(shape, fmt, prefix, match):
    with pytest.raises(ValueError, match=match):
        to_tokens(torch.randn(shape), fmt, prefix)


# --------------------------------------------------------------------------- fc


def test_fc_is_mean_then_linear():
    head = FCHead(8, NUM_CLASSES).eval()
    tokens = torch.randn(3, 10, 8)
    expected = tokens.mean(1) @ head.fc.weight.T + head.fc.bias
    torch.testing.assert_close(head(tokens), expected)


# --------------------------------------------------------------------------- CSRA


def csra_reference(tokens, class_vectors, temperatures, lam):
    """Loop-by-loop CSRA in float64: sum over branches of mean + lam * attention pooling."""
    tokens, class_vectors = tokens.double(), class_vectors.double()
    batch, positions, _ = tokens.shape
    out = torch.zeros(batch, class_vectors.shape[1], dtype=torch.float64)
    for b in range(batch):
        for vectors, t in zip(class_vectors, temperatures):
            for k, m in enumerate(vectors):
                norm = math.sqrt(sum(float(v) ** 2 for v in m))
                s = [float(torch.dot(m, tokens[b, j])) / norm for j in range(positions)]
                base = sum(s) / positions
                if t == 99 or t == math.inf:
                    attention = max(s)
                else:
                    top = max(t * v for v in s)  # stable softmax
                    e = [math.exp(t * v - top) for v in s]
                    attention = sum(w * v for w, v in zip(e, s)) / sum(e)
                out[b, k] += base + lam * attention
    return out


@pytest.mark.parametrize("num_heads", [1, 2, 4, 6, 8])
def test_csra_matches_loop_reference(num_heads):
    torch.manual_seed(num_heads)
    head = CSRAHead(6, 3, num_heads=num_heads, lam=0.4).eval()
    assert head.class_vectors.shape == (num_heads, 3, 6)
    tokens = torch.randn(2, 5, 6) * 2
    expected = csra_reference(tokens, head.class_vectors.detach(), head.temperatures, 0.4)
    torch.testing.assert_close(head(tokens).double(), expected, rtol=1e-5, atol=1e-5)


def test_csra_temperatures_and_max_pooling():
    assert CSRAHead(4, 2, num_heads=1).temperatures == (1,)
    assert CSRAHead(4, 2, num_heads=4).temperatures == (1, 2, 4, 99)
    assert CSRAHead(4, 2, num_heads=8).temperatures == (1, 2, 3, 4, 5, 6, 7, 99)

    torch.manual_seed(0)
    head = CSRAHead(4, 2, num_heads=1, lam=1.0)
    tokens = torch.randn(3, 6, 4)
    unit = head.class_vectors[0] / head.class_vectors[0].norm(dim=-1, keepdim=True)
    scores = tokens @ unit.T  # (B, N, K)
    head.temperatures = (99,)
    torch.testing.assert_close(head(tokens), scores.mean(1) + scores.amax(1))
    head.temperatures = (math.inf,)
    torch.testing.assert_close(head(tokens), scores.mean(1) + scores.amax(1))
    head.temperatures = (100,)  # only exactly 99 (or inf) is max pooling
    assert not torch.allclose(head(tokens), scores.mean(1) + scores.amax(1))


def test_csra_sums_branches():
    torch.manual_seed(0)
    multi = CSRAHead(4, 3, num_heads=2, lam=0.3)
    tokens = torch.randn(2, 5, 4)
    branch_sum = 0
    for vectors, t in zip(multi.class_vectors, multi.temperatures):
        single = CSRAHead(4, 3, num_heads=1, lam=0.3)
        single.temperatures = (t,)
        single.class_vectors.data.copy_(vectors[None])
        branch_sum = branch_sum + single(tokens)
    torch.testing.assert_close(multi(tokens), branch_sum)


def test_csra_invariant_to_class_vector_scale():
    torch.manual_seed(0)
    head = CSRAHead(8, 4, num_heads=4)
    tokens = torch.randn(2, 9, 8)
    before = head(tokens)
    with torch.no_grad():
        head.class_vectors.mul_(torch.rand(4, 4, 1) * 10 + 0.01)
    torch.testing.assert_close(head(tokens), before)


def test_csra_default_init_is_finite_and_not_zero():
    head = CSRAHead(16, 7, num_heads=8)
    assert (head.class_vectors.norm(dim=-1) > 0).all()
    assert torch.isfinite(head(torch.randn(2, 4, 16))).all()
    assert not any("bias" in name for name, _ in head.named_parameters())


@pytest.mark.parametrize("num_heads", [0, 3, 5, 16])
def test_csra_rejects_unsupported_head_count(num_heads):
    with pytest.raises(ValueError, match=r"\[1, 2, 4, 6, 8\]"):
        CSRAHead(4, 2, num_heads=num_heads)


# --------------------------------------------------------------------------- ML-Decoder

EXPECTED_MLDECODER_KEYS = {
    "embed_standart.weight", "embed_standart.bias", "query_embed.weight",
    "duplicate_pooling", "duplicate_pooling_bias",
    *(f"decoder.layers.0.{name}" for name in (
        "norm1.weight", "norm1.bias", "norm2.weight", "norm2.bias", "norm3.weight", "norm3.bias",
        "multihead_attn.in_proj_weight", "multihead_attn.in_proj_bias",
        "multihead_attn.out_proj.weight", "multihead_attn.out_proj.bias",
        "linear1.weight", "linear1.bias", "linear2.weight", "linear2.bias",
    )),
}


@pytest.mark.parametrize(
    "num_classes, num_groups, groups, factor",
    [
        (5, -1, 5, 1),  # K <= 100: one query per class
        (250, -1, 100, 3),  # K > 100: groups < K, duplicate factor > 1
        (1, -1, 1, 1),
        (10, 4, 4, 3),  # explicit num_groups, last group partly unused
        (3, 10, 3, 1),  # num_groups capped at K
    ],
)
def test_mldecoder_matches_timm(num_classes, num_groups, groups, factor):
    torch.manual_seed(0)
    oracle = runnable_timm_mldecoder(num_classes, 16, num_groups).eval()
    head = MLDecoderHead(16, num_classes, num_groups=num_groups, **SMALL_DECODER).eval()
    head.load_state_dict(oracle.state_dict(), strict=True)
    assert set(head.state_dict()) == EXPECTED_MLDECODER_KEYS
    assert head.duplicate_pooling.shape == (groups, 32, factor)
    assert head.query_embed.weight.shape == (groups, 32)

    tokens = torch.randn(3, 7, 16)
    with torch.no_grad():
        torch.testing.assert_close(head(tokens), oracle(tokens), rtol=1e-5, atol=1e-5)
        # Queries with a variance near LayerNorm's eps make norm1(2q) differ from norm1(q),
        # which exposes a missing `tgt + dropout(tgt)` line.
        oracle.query_embed.weight.mul_(1e-3)
        head.query_embed.weight.mul_(1e-3)
        torch.testing.assert_close(head(tokens), oracle(tokens), rtol=1e-5, atol=1e-5)


def mldecoder_reference(tokens, sd, num_classes, num_heads=8, eps=1e-5):
    """ML-Decoder in eval mode written out from the equations, in float64."""
    sd = {k: v.double() for k, v in sd.items()}
    x = tokens.double()
    p = "decoder.layers.0."

    def layer_norm(v, name):
        mean = v.mean(-1, keepdim=True)
        var = ((v - mean) ** 2).mean(-1, keepdim=True)
        return (v - mean) / torch.sqrt(var + eps) * sd[p + name + ".weight"] + sd[p + name + ".bias"]

    memory = torch.clamp(x @ sd["embed_standart.weight"].T + sd["embed_standart.bias"], min=0)
    queries = sd["query_embed.weight"]
    dim = queries.shape[1]
    q1 = layer_norm(2 * queries, "norm1").expand(x.shape[0], -1, -1)  # eval: q + dropout(q) = 2q

    w_q, w_k, w_v = sd[p + "multihead_attn.in_proj_weight"].split(dim)
    b_q, b_k, b_v = sd[p + "multihead_attn.in_proj_bias"].split(dim)
    q, k, v = q1 @ w_q.T + b_q, memory @ w_k.T + b_k, memory @ w_v.T + b_v
    head_dim = dim // num_heads
    per_head = []
    for h in range(num_heads):
        cols = slice(h * head_dim, (h + 1) * head_dim)
        weights = torch.softmax(q[..., cols] @ k[..., cols].transpose(1, 2) / math.sqrt(head_dim), dim=-1)
        per_head.append(weights @ v[..., cols])
    attended = torch.cat(per_head, -1) @ sd[p + "multihead_attn.out_proj.weight"].T
    attended = attended + sd[p + "multihead_attn.out_proj.bias"]

    q2 = layer_norm(q1 + attended, "norm2")
    hidden = torch.clamp(q2 @ sd[p + "linear1.weight"].T + sd[p + "linear1.bias"], min=0)
    decoded = layer_norm(q2 + hidden @ sd[p + "linear2.weight"].T + sd[p + "linear2.bias"], "norm3")

    pooling = sd["duplicate_pooling"]  # (G, D, F)
    logits = torch.zeros(x.shape[0], pooling.shape[0] * pooling.shape[2], dtype=torch.float64)
    for g in range(pooling.shape[0]):
        for f in range(pooling.shape[2]):
            logits[:, g * pooling.shape[2] + f] = decoded[:, g] @ pooling[g, :, f]
    return logits[:, :num_classes] + sd["duplicate_pooling_bias"]


@pytest.mark.parametrize("num_classes, num_groups", [(5, -1), (11, 4)])
def test_mldecoder_matches_written_out_maths(num_classes, num_groups):
    torch.manual_seed(1)
    head = MLDecoderHead(12, num_classes, num_groups=num_groups, **SMALL_DECODER).eval()
    with torch.no_grad():
        # make the zero-initialised biases matter
        head.duplicate_pooling_bias.normal_()
        head.decoder.layers[0].multihead_attn.in_proj_bias.normal_()
        # small queries: norm1(2q) then differs visibly from norm1(q) (eps), testing the quirk
        head.query_embed.weight.mul_(1e-3)
    tokens = torch.randn(2, 6, 12)
    expected = mldecoder_reference(tokens, head.state_dict(), num_classes)
    with torch.no_grad():
        got = head.double()(tokens.double())
    assert got.dtype == torch.float32
    torch.testing.assert_close(got.double(), expected, rtol=1e-6, atol=1e-6)


def test_mldecoder_defaults_and_init():
    torch.manual_seed(0)
    head = MLDecoderHead(24, 130)
    assert head.duplicate_pooling.shape == (100, 768, 2)
    assert head.decoder.layers[0].multihead_attn.num_heads == 8
    assert head.decoder.layers[0].linear1.out_features == 2048
    queries = head.query_embed.weight
    assert not queries.requires_grad
    assert abs(queries.mean().item()) < 0.02 and abs(queries.std().item() - 1) < 0.02  # N(0, 1)
    assert torch.equal(head.duplicate_pooling_bias, torch.zeros(130))


def test_mldecoder_train_mode_uses_dropout():
    torch.manual_seed(0)
    head = MLDecoderHead(8, 3, **SMALL_DECODER).train()
    tokens = torch.randn(2, 4, 8)
    assert not torch.allclose(head(tokens), head(tokens))
    head.eval()
    torch.testing.assert_close(head(tokens), head(tokens))


def test_mldecoder_rejects_groups_that_cannot_cover_classes():
    # int(6001 / 2000 + 0.999) == 3 and 2000 * 3 < 6001: the official rounding falls short
    with pytest.raises(ValueError, match="cannot cover 6001 classes"):
        MLDecoderHead(8, 6001, num_groups=2000, decoder_embedding=8)


def test_mldecoder_rejects_feature_maps():
    head = MLDecoderHead(8, 3, **SMALL_DECODER)
    with pytest.raises(ValueError, match="to_tokens"):
        head(torch.randn(2, 8, 3, 3))


def test_load_official_state_dict():
    torch.manual_seed(0)
    source = MLDecoderHead(16, 7, **SMALL_DECODER).eval()
    moved = ("embed_standart.", "query_embed.", "duplicate_pooling")
    official = {(f"decoder.{k}" if k.startswith(moved) else k): v for k, v in source.state_dict().items()}
    assert "decoder.duplicate_pooling_bias" in official and "decoder.query_embed.weight" in official

    target = MLDecoderHead(16, 7, **SMALL_DECODER).eval()
    load_official_state_dict(target, official)
    tokens = torch.randn(2, 5, 16)
    torch.testing.assert_close(target(tokens), source(tokens))
    assert not target.query_embed.weight.requires_grad

    load_official_state_dict(target, source.state_dict())  # timm's layout passes through unchanged
    with pytest.raises(RuntimeError, match="wordvec_proj"):  # the ZSL variant is not supported
        load_official_state_dict(target, {**official, "wordvec_proj.weight": torch.zeros(32, 300)})


# --------------------------------------------------------------------------- heads on timm layouts


def permute_spatial(features, fmt, prefix, generator):
    """Shuffle spatial positions of raw backbone features (rows and columns of 4-D maps)."""
    if fmt == "NLC":
        order = torch.randperm(features.shape[1] - prefix, generator=generator) + prefix
        return torch.cat([features[:, :prefix], features[:, order]], dim=1)
    h_axis, w_axis = (2, 3) if fmt == "NCHW" else (1, 2)
    rows = torch.randperm(features.shape[h_axis], generator=generator)
    cols = torch.randperm(features.shape[w_axis], generator=generator)
    return features.index_select(h_axis, rows).index_select(w_axis, cols)


@pytest.mark.parametrize("name", HEADS)
@pytest.mark.parametrize("family", TINY_BACKBONES)
def test_heads_on_backbone_layouts(backbones, family, name):
    model, features = backbones[family]
    fmt, prefix = TINY_BACKBONES[family][3]
    torch.manual_seed(0)
    head = make_head(name, model.num_features).eval()
    generator = torch.Generator().manual_seed(0)

    with torch.no_grad():
        tokens = to_tokens(features, fmt, prefix)
        logits = head(tokens)
        assert logits.shape == (2, NUM_CLASSES) and logits.dtype == torch.float32
        assert torch.isfinite(logits).all()

        shuffled_tokens = tokens[:, torch.randperm(tokens.shape[1], generator=generator)]
        torch.testing.assert_close(head(shuffled_tokens), logits, rtol=1e-5, atol=1e-5)

        shuffled = permute_spatial(features, fmt, prefix, generator)
        assert not torch.equal(shuffled, features)
        torch.testing.assert_close(head(to_tokens(shuffled, fmt, prefix)), logits, rtol=1e-5, atol=1e-5)

        if prefix:  # cls/register tokens are dropped, so changing them changes nothing
            altered = features.clone()
            altered[:, :prefix] = torch.randn_like(altered[:, :prefix])
            torch.testing.assert_close(head(to_tokens(altered, fmt, prefix)), logits)


@pytest.mark.parametrize("name", HEADS)
def test_nhwc_read_as_nchw_is_wrong(backbones, name):
    """Negative control: a shape-valid wrong `view` breaks permutation invariance."""
    model, features = backbones["swinv2"]  # (B, H, W, C)
    batch, height, width, channels = features.shape
    torch.manual_seed(0)
    head = make_head(name, channels).eval()
    rows = torch.tensor([1, 0])  # swap the two rows of the 2 x 4 map
    swapped = features[:, rows]

    with torch.no_grad():
        torch.testing.assert_close(head(to_tokens(swapped, "NHWC")), head(to_tokens(features, "NHWC")),
                                   rtol=1e-5, atol=1e-5)

        def wrong(x):
            return head(to_tokens(x.reshape(batch, channels, height, width), "NCHW"))

        assert not torch.allclose(wrong(swapped), wrong(features), rtol=1e-3, atol=1e-3)

        # Passing the NHWC map with the NCHW label, without a view, is caught outright.
        with pytest.raises(ValueError, match=rf"\(B, N, {channels}\)"):
            head(to_tokens(features, "NCHW"))


# --------------------------------------------------------------------------- gradients and factory


@pytest.mark.parametrize("name", HEADS)
def test_gradients_reach_every_trainable_parameter(name):
    torch.manual_seed(0)
    head = make_head(name, 16, num_classes=130).train()  # ML-Decoder: 100 groups x 2
    tokens = torch.randn(3, 9, 16, requires_grad=True)
    head(tokens).pow(2).sum().backward()
    assert tokens.grad is not None and tokens.grad.abs().sum() > 0
    for param_name, param in head.named_parameters():
        if param.requires_grad:
            assert param.grad is not None and param.grad.abs().sum() > 0, param_name
        else:
            assert param.grad is None, param_name
    if name == "mldecoder":
        assert not head.query_embed.weight.requires_grad and head.query_embed.weight.grad is None


def test_build_head():
    assert HEADS == ("fc", "csra", "mldecoder")
    assert isinstance(build_head("fc", 8, 3, drop_rate=0.2), FCHead)
    csra = build_head("csra", 8, 3, num_heads=6, lam=0.4)
    assert isinstance(csra, CSRAHead) and csra.temperatures == (1, 2, 3, 4, 5, 99) and csra.lam == 0.4
    decoder = build_head("mldecoder", 8, 3, num_groups=2, decoder_embedding=16)
    assert decoder.duplicate_pooling.shape == (2, 16, 2)

    with pytest.raises(ValueError, match="'fc', 'csra', 'mldecoder'"):
        build_head("transformer", 8, 3)
    with pytest.raises(ValueError, match=r"heads\.csra\.temperature is not an option"):
        build_head("csra", 8, 3, temperature=2)
    with pytest.raises(ValueError, match=r"heads\.fc\.num_heads is not an option"):
        build_head("fc", 8, 3, num_heads=4)


@pytest.mark.parametrize("name", HEADS)
def test_heads_reject_wrong_token_width(name):
    head = make_head(name, 8)
    with pytest.raises(ValueError, match=r"\(B, N, 8\)"):
        head(torch.randn(2, 4, 9))

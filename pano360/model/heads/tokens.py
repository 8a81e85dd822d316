"""Turn a backbone's ``forward_features`` output into spatial tokens (B, N, C).

Every head consumes tokens, so the layout knowledge lives here only. Switching between NHWC
and NCHW with ``view``/``reshape`` is shape-valid and silently wrong, hence explicit formats.
"""
from __future__ import annotations

import torch
from timm.data import resolve_model_data_config
from timm.layers import to_2tuple
from torch import Tensor, nn

OUTPUT_FORMATS = ("NCHW", "NHWC", "NLC")
# Learned tokens that token models put before the image positions.
TOKEN_PARAMETERS = ("cls_token", "dist_token", "reg_token")


def _format_name(output_fmt) -> str:
    # timm stores either a plain string or its ``Format`` enum.
    fmt = getattr(output_fmt, "value", output_fmt)
    if fmt not in OUTPUT_FORMATS:
        raise ValueError(f"unknown output_fmt {output_fmt!r}; expected one of {OUTPUT_FORMATS}")
    return fmt


def to_tokens(features: Tensor, output_fmt: str, num_prefix_tokens: int = 0) -> Tensor:
    """Return spatial tokens (B, N, C) from a feature map or token sequence.

    NCHW: flatten H, W and move channels last. NHWC: flatten H, W. NLC: drop the first
    ``num_prefix_tokens`` (cls, register, distillation) tokens.
    """
    fmt = _format_name(output_fmt)
    if fmt == "NLC":
        if features.ndim != 3:
            raise ValueError(
                f"output_fmt 'NLC' needs a 3-D tensor (B, N, C), got shape {tuple(features.shape)}"
            )
        if not 0 <= num_prefix_tokens < features.shape[1]:
            raise ValueError(
                f"num_prefix_tokens={num_prefix_tokens} must be in [0, {features.shape[1]}) "
                f"for {features.shape[1]} tokens"
            )
        return features[:, num_prefix_tokens:]
    if features.ndim != 4:
        raise ValueError(f"output_fmt {fmt!r} needs a 4-D tensor, got shape {tuple(features.shape)}")
    if num_prefix_tokens:
        raise ValueError(
            f"a {fmt} feature map has no prefix tokens, got num_prefix_tokens={num_prefix_tokens}"
        )
    if fmt == "NCHW":
        return features.flatten(2).transpose(1, 2)
    return features.flatten(1, 2)


def check_tokens(tokens: Tensor, in_features: int) -> None:
    """Raise a ValueError unless ``tokens`` is (B, N, in_features) with N >= 1."""
    if tokens.ndim != 3 or tokens.shape[1] == 0 or tokens.shape[2] != in_features:
        raise ValueError(
            f"expected tokens of shape (B, N, {in_features}), got {tuple(tokens.shape)}; "
            "convert backbone features with to_tokens() and the backbone's layout first"
        )


def feature_layout(model: nn.Module) -> tuple[str, int]:
    """Return ``(output_fmt, num_prefix_tokens)`` of a timm model's ``forward_features``.

    Decided without running the model where timm says it: an explicit ``output_fmt``
    attribute (Swin, MambaOut, ...) wins; otherwise a ``num_prefix_tokens`` attribute marks
    a ViT-like token model (NLC). Anything else (most CNNs, but also e.g. LeViT, which returns
    tokens) is probed with one dummy forward (eval mode, no grad) at the model's input size, and
    the layout is read from where ``model.num_features`` sits in the output shape.
    """
    prefix = int(getattr(model, "num_prefix_tokens", 0) or 0)
    fmt = getattr(model, "output_fmt", None)
    if fmt is not None:
        fmt = _format_name(fmt)
        return fmt, prefix if fmt == "NLC" else 0
    if hasattr(model, "num_prefix_tokens"):
        return "NLC", prefix

    shape = _probe_output_shape(model)
    if len(shape) == 3:
        # No num_prefix_tokens: class/distillation/register tokens may still lead the sequence
        # (VOLO's class token, PiT's class token alone). Count them from the model's token
        # parameters, never feed them to a head as if they were image positions.
        tokens = sum(int(p.shape[1]) for name in TOKEN_PARAMETERS
                     if isinstance(p := getattr(model, name, None), torch.Tensor) and p.ndim == 3)
        if shape[1] - tokens < 1:
            raise ValueError(
                f"{type(model).__name__}.forward_features returns only its {shape[1]} class token(s), "
                f"no spatial tokens; pano360's heads need one token per image position. Choose "
                f"another backbone (e.g. a ViT, Swin or CNN)")
        return "NLC", tokens
    channels = model.num_features
    if len(shape) == 4:
        channels_first, channels_last = shape[1] == channels, shape[3] == channels
        if channels_first != channels_last:
            return ("NCHW", 0) if channels_first else ("NHWC", 0)
    raise ValueError(
        f"cannot tell the layout of {type(model).__name__}.forward_features output {shape} "
        f"with num_features={channels}"
    )


def _probe_output_shape(model: nn.Module) -> tuple[int, ...]:
    input_size = _input_size(model)
    param = next(model.parameters())
    was_training = model.training
    model.eval()  # batch statistics of a single dummy image would be meaningless (or fail)
    try:
        with torch.no_grad():
            x = torch.zeros(1, *input_size, device=param.device, dtype=param.dtype)
            return tuple(model.forward_features(x).shape)
    except Exception as exc:
        raise ValueError(
            f"could not probe the layout of {type(model).__name__} with a {input_size} input: {exc}"
        ) from exc
    finally:
        model.train(was_training)


def _input_size(model: nn.Module) -> tuple[int, int, int]:
    """The model's input size: its own ``img_size`` where it records one, since creating it with
    ``img_size=`` does not update ``pretrained_cfg`` (MaxViT and CoAtNet then reject the default)."""
    channels, *default = resolve_model_data_config(model)["input_size"]
    img_size = getattr(model, "img_size", None)
    if img_size is None:
        img_size = getattr(getattr(model, "patch_embed", None), "img_size", None)
    return (channels, *(to_2tuple(img_size) if img_size else default))

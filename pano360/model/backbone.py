"""A timm backbone + one multi-label head, and the checkpoint format that carries both.

The backbone is created headless (``num_classes=0, global_pool=''``) and its
``forward_features`` output is turned into spatial tokens (B, N, C) by one function that
knows the layout (NCHW CNNs, NHWC Swin, NLC ViTs minus prefix tokens); every head reads
tokens, so a head never guesses a layout.
"""
from __future__ import annotations

import copy
import inspect
import os
import socket
import sys
from pathlib import Path
from typing import Annotated, Any, Optional
from urllib.parse import urlparse

import timm
import torch
from pydantic import Field
from torch import nn

from pano360.model.heads import build_head
from pano360.params import Section
from pano360.model.heads.tokens import feature_layout, to_tokens
from pano360.errors import Pano360Error

CHECKPOINT_FORMAT = "pano360-model"
CHECKPOINT_VERSION = 2  # 2: records how the halves were prepared


class CheckpointError(Pano360Error, RuntimeError):
    pass


class ModelParams(Section):
    """params.yaml ``model``: the timm backbone."""
    name: str = "test_resnet"
    pretrained: bool = False                 # timm hub weights (needs internet)
    pretrained_file: Optional[str] = None    # local weights file (.safetensors/.pth), offline
    img_size: Annotated[int, Field(ge=16)] = 128   # input size in pixels (halves are square)
    drop_path_rate: Annotated[float, Field(ge=0, lt=1)] = 0.0
    # more timm.create_model arguments; the demo's CNN keeps a finer feature map (stride 16)
    kwargs: dict[str, Any] = {"output_stride": 16}


def create_backbone(name: str, pretrained: bool = False, pretrained_file: str | None = None,
                    img_size: int | None = None, **kwargs) -> nn.Module:
    """Headless timm backbone (``num_classes=0, global_pool=''``).

    ``pretrained_file``: local weights (.safetensors/.pth, plain or wrapped in ``state_dict``/
    ``model``), run through the model's own timm checkpoint filter (position embeddings
    adapted), and proven loaded: every backbone tensor must come from the file (the
    classifier excepted), or the error lists the missing and unexpected keys.
    ``pretrained``: timm's hub weights; without them cached and without network this fails at
    once, not after a minute of retries."""
    if img_size and accepts_img_size(name):
        kwargs["img_size"] = img_size
    if pretrained_file:
        if not Path(pretrained_file).is_file():
            raise ValueError(f"model.pretrained_file {pretrained_file} does not exist")
        pretrained = False
    elif pretrained:
        _check_hub_weights(name)
    try:
        backbone = timm.create_model(name, pretrained=pretrained, num_classes=0, global_pool="", **kwargs)
    except RuntimeError as exc:
        if "Unknown model" in str(exc):
            raise ValueError(f"model.name {name!r} is not a timm model; see timm.list_models()") from None
        raise
    except TypeError as exc:
        raise ValueError(f"timm model {name!r} does not take these arguments ({exc}); check model.kwargs") from None
    if pretrained_file:
        load_weights_file(backbone, pretrained_file)
    return backbone


def accepts_img_size(name: str) -> bool:
    """Whether the model's class takes ``img_size`` (transformers fix their input size at
    creation; most CNNs do not take it). Read from the class's signature, built on the meta
    device (no memory, no weights), following ``**kwargs`` up the class hierarchy."""
    try:
        with torch.device("meta"):
            cls = type(timm.create_model(name, pretrained=False))
    except Exception:
        return False  # unknown names fail with a clear message in create_backbone
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        parameters = inspect.signature(init).parameters
        if "img_size" in parameters:
            return True
        if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
            return False
    return False


def _classifier_keys(backbone: nn.Module) -> tuple[str, ...]:
    classifier = (getattr(backbone, "pretrained_cfg", None) or {}).get("classifier") or ()
    return (classifier,) if isinstance(classifier, str) else tuple(classifier)


def load_weights_file(backbone: nn.Module, path) -> None:
    """Load a local weights file into ``backbone`` strictly (the classifier excepted)."""
    try:
        state = timm.models.load_state_dict(str(path))  # unwraps state_dict/model, strips module.
    except Exception as exc:
        raise ValueError(f"model.pretrained_file {path} is not a readable weights file: {exc}") from None
    module = sys.modules.get(type(backbone).__module__)
    filter_fn = getattr(module, "checkpoint_filter_fn", None)
    if filter_fn is not None:
        try:
            state = filter_fn(state, backbone)
        except Exception as exc:
            raise ValueError(f"model.pretrained_file {path} does not fit {type(backbone).__name__}: {exc}") from None
    classifier = _classifier_keys(backbone)
    state = {k: v for k, v in state.items() if not any(k == c or k.startswith(c + ".") for c in classifier)}
    expected = {k for k in backbone.state_dict() if not any(k.startswith(c + ".") for c in classifier)}
    missing, unexpected = sorted(expected - set(state)), sorted(set(state) - expected)
    if missing or unexpected:
        def show(keys):
            return ", ".join(keys[:6]) + (f" and {len(keys) - 6} more" if len(keys) > 6 else "")
        raise ValueError(
            f"model.pretrained_file {path} does not hold this backbone's weights: "
            + (f"{len(missing)} of its {len(expected)} tensors are missing ({show(missing)})" if missing else "")
            + ("; " if missing and unexpected else "")
            + (f"{len(unexpected)} tensors are unexpected ({show(unexpected)})" if unexpected else "")
            + ". Use a file saved from the same timm architecture (model.name), with its keys as timm names them.")
    try:  # with the key sets equal, this copies every tensor or raises (a shape that does not fit)
        backbone.load_state_dict(state, strict=False)
    except RuntimeError as exc:
        raise ValueError(f"model.pretrained_file {path} does not fit {type(backbone).__name__}: "
                         f"{str(exc).splitlines()[-1].strip()}") from None


def _check_hub_weights(name: str) -> None:
    """Fail at once, clearly, when hub weights are neither cached nor downloadable."""
    try:
        cfg = timm.models.get_pretrained_cfg(name)
    except Exception:
        cfg = None
    if cfg is None:
        return  # timm reports models without pretrained weights itself
    if cfg.hf_hub_id:
        from huggingface_hub import constants, try_to_load_from_cache
        names = [cfg.hf_hub_filename] if cfg.hf_hub_filename else ["model.safetensors", "pytorch_model.bin"]
        if any(isinstance(try_to_load_from_cache(cfg.hf_hub_id, n), str) for n in names):
            constants.HF_HUB_OFFLINE = True  # cached: no update check (its retries take ~50 s offline)
            return
        host, where = "huggingface.co", f"the Hugging Face hub ({cfg.hf_hub_id})"
    elif cfg.url:
        if (Path(torch.hub.get_dir()) / "checkpoints" / Path(cfg.url).name).is_file():
            return
        host, where = urlparse(cfg.url).hostname, cfg.url
    else:
        return
    try:
        socket.create_connection((host, 443), timeout=3).close()
    except OSError:
        raise ValueError(
            f"model.pretrained: true needs {name}'s weights from {where}, which this machine cannot "
            f"reach. Download them once where there is network (timm.create_model({name!r}, "
            f"pretrained=True) caches them), or save the weights to a file and set "
            f"model.pretrained_file to it.") from None


class MultiLabelModel(nn.Module):
    def __init__(self, backbone: nn.Module, num_classes: int, head: str = "fc",
                 head_options: dict | None = None):
        super().__init__()
        self.backbone = backbone
        self.output_fmt, self.num_prefix_tokens = feature_layout(backbone)
        # ConvNeXt-style backbones normalise after pooling, inside their classifier head;
        # apply that (possibly pretrained) norm per position instead, before tokenising.
        norm = getattr(getattr(backbone, "head", None), "norm", None)
        self.feature_norm = norm if isinstance(norm, nn.Module) and not isinstance(norm, nn.Identity) else None
        self.head_name = head
        self.head = build_head(head, backbone.num_features, num_classes, **(head_options or {}))

    def tokens(self, images: torch.Tensor) -> torch.Tensor:
        features = self.backbone.forward_features(images)
        if self.feature_norm is not None:
            features = self.feature_norm(features)
        return to_tokens(features, self.output_fmt, self.num_prefix_tokens)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.tokens(images))


def build_model(model_cfg: dict, head: str, head_options: dict, num_classes: int,
                load_pretrained: bool = True) -> MultiLabelModel:
    """``model_cfg``: name, pretrained, pretrained_file, img_size, drop_path_rate, kwargs."""
    extra = dict(model_cfg.get("kwargs") or {})
    if model_cfg.get("drop_path_rate"):
        extra["drop_path_rate"] = float(model_cfg["drop_path_rate"])
    backbone = create_backbone(
        model_cfg["name"],
        pretrained=bool(model_cfg.get("pretrained")) and load_pretrained,
        pretrained_file=model_cfg.get("pretrained_file") if load_pretrained else None,
        img_size=model_cfg.get("img_size"), **extra)
    model = MultiLabelModel(backbone, num_classes, head, head_options)
    drop_unused_parameters(model, int(model_cfg.get("img_size") or 224))
    return model


def unused_parameters(model: nn.Module, img_size: int) -> tuple[list[str], set[str]]:
    """``(trainable parameters the forward pass does not use, modules it calls)``, found by
    one forward and backward pass of a copy on the meta device: shapes only, no compute, and
    no copy of the weights (each tensor's copy is an empty meta tensor)."""
    memo: dict = {}
    for p in model.parameters():
        memo[id(p)] = nn.Parameter(torch.empty_like(p, device="meta"), requires_grad=p.requires_grad)
    for b in model.buffers():
        memo[id(b)] = torch.empty_like(b, device="meta")
    probe = copy.deepcopy(model, memo)
    called: set[str] = set()
    for name, module in probe.named_modules():
        module.register_forward_pre_hook(lambda m, args, name=name: called.add(name))
    with torch.enable_grad():  # also when the model is built under no_grad (inference)
        out = probe(torch.empty(2, 3, img_size, img_size, device="meta"))
        trainable = [(n, p) for n, p in probe.named_parameters() if p.requires_grad]
        grads = torch.autograd.grad(out.sum(), [p for _, p in trainable], allow_unused=True)
    return [n for (n, _), g in zip(trainable, grads) if g is None], called


def drop_unused_parameters(model: MultiLabelModel, img_size: int) -> None:
    """Remove what the forward pass never uses, so it is not trained, decayed, synced (DDP
    fails at step 2 on a parameter without a gradient) or saved: modules it never calls
    (timm classifier parts such as ConvNeXt's and MaxViT-tf's MLP pre-logits, which a
    headless backbone keeps) are replaced by ``nn.Identity``; a parameter unused inside a
    module that is called is frozen. ``model.dropped`` lists the removed modules."""
    model.dropped = []
    try:
        unused, called = unused_parameters(model, img_size)
    except Exception:  # an op without a meta kernel: keep everything (single-process training works)
        return
    modules = dict(model.named_modules())
    for name in sorted({n.rsplit(".", 1)[0] for n in unused}, key=len):
        if name in called or any(name.startswith(d + ".") for d in model.dropped):
            continue
        parent, _, child = name.rpartition(".")
        setattr(modules[parent] if parent else model, child, nn.Identity())
        model.dropped.append(name)
    remaining = dict(model.named_parameters())
    for name in unused:
        if name in remaining:
            remaining[name].requires_grad_(False)


def data_config(model: MultiLabelModel, img_size: int | None = None) -> dict:
    """mean/std/interpolation of the backbone, at the training image size (plain lists)."""
    cfg = timm.data.resolve_data_config({}, model=model.backbone)
    size = int(img_size or cfg["input_size"][-1])
    return {"input_size": [3, size, size], "mean": [float(v) for v in cfg["mean"]],
            "std": [float(v) for v in cfg["std"]], "interpolation": cfg["interpolation"]}


def checkpoint_payload(model: MultiLabelModel, *, model_cfg: dict, head_options: dict,
                       classes: list[str], data_cfg: dict, prepare: dict | None = None, state_dict=None,
                       **extra) -> dict:
    """Everything needed to use the model later, without params.yaml; ``prepare``: how the
    halves were reduced before training (prepare.settings), None when used as they are."""
    cfg = {k: v for k, v in model_cfg.items() if k not in ("pretrained", "pretrained_file")}
    return {"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION,
            "model": cfg, "head": model.head_name, "head_options": dict(head_options),
            "classes": list(classes), "data_config": data_cfg, "prepare": prepare,
            "state_dict": state_dict if state_dict is not None else model.state_dict(), **extra}


def load_checkpoint(path: str | os.PathLike, map_location="cpu") -> tuple[MultiLabelModel, dict]:
    """Rebuild a trained model (eval mode) from a checkpoint; clear errors for foreign files."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"model file {path} does not exist (run `dvc repro train` first?)")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=False)
    except Exception as exc:
        raise CheckpointError(f"{path} is not a readable PyTorch checkpoint: {exc}") from exc
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path} is not a pano360 model checkpoint")
    if ckpt.get("version") != CHECKPOINT_VERSION:
        raise CheckpointError(f"{path} is a version {ckpt.get('version')} pano360 checkpoint; this "
                              f"pano360 reads version {CHECKPOINT_VERSION}. Retrain with `dvc repro`.")
    model = build_model(ckpt["model"], ckpt["head"], ckpt["head_options"], len(ckpt["classes"]),
                        load_pretrained=False)
    # checkpoints written before unused modules were dropped still hold their weights
    state = {k: v for k, v in ckpt["state_dict"].items() if not any(k.startswith(d + ".") for d in model.dropped)}
    model.load_state_dict(state)
    return model.eval(), ckpt

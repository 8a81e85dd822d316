"""The optimiser's parameter groups and the learning-rate schedule."""
from __future__ import annotations

import math

from timm.optim import param_groups_layer_decay, param_groups_weight_decay

from pano360.training.config import TrainingError


def lr_factor(step: int, total: int, warmup: int, schedule: str = "cosine", decays: int = 0,
              decay_rate: float = 0.1, min_factor: float = 0.01) -> float:
    """The learning rate of optimizer step ``step`` as a share of the peak: a linear warm-up
    from 0 over ``warmup`` steps, then either ``cosine`` decay to ``min_factor`` at ``total``,
    or (``plateau``) the peak × ``decay_rate`` per decay the plateaus of val mAP triggered so far."""
    warm = (step + 1) / warmup if warmup and step < warmup else 1.0
    if schedule == "plateau":
        return warm * decay_rate ** decays
    if warm < 1.0:
        return warm
    progress_ = (step - warmup) / max(1, total - warmup)
    return min_factor + (1 - min_factor) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress_)))


def advance_schedule(state, improved: bool, epoch: int, t) -> tuple[bool, bool]:
    """After validating epoch ``epoch`` (0-based): update ``state``'s counters (a
    ``ResumeState``) and return (stop early?, did the learning rate decay?) under ``t``'s
    (``TrainParams``) rules. Early stopping counts epochs since the best one; the plateau
    schedule decays after ``plateau_patience`` epochs without a better val mAP, then waits as
    long again before the next decay (ReduceLROnPlateau's rule)."""
    if improved:
        state.bad_epochs = state.plateau_epochs = 0
    else:
        state.bad_epochs += 1
        state.plateau_epochs += 1
    stop = bool(t.early_stop_patience and state.bad_epochs >= t.early_stop_patience and epoch + 1 < t.epochs)
    decayed = (t.schedule == "plateau" and state.plateau_epochs >= t.plateau_patience and not stop
               and epoch + 1 < t.epochs)   # no decay after the last epoch: nothing would use it
    if decayed:
        state.lr_decays += 1
        state.plateau_epochs = 0
    return stop, decayed


def param_groups(model, weight_decay: float, lr: float, head_lr_mult: float,
                 layer_decay: float = 1.0) -> list[dict]:
    """Optimizer groups from timm's own helpers: no weight decay on biases, norms and what the
    backbone's ``no_weight_decay()`` names (SwinV2's logit_scale and cpb_mlp, ViT's pos_embed
    and class/register tokens); with ``layer_decay`` < 1 each backbone layer learns at
    ``lr × layer_decay^(depth below the head)``; the head at ``lr × head_lr_mult``."""
    backbone, head = model.backbone, model.head
    no_decay = set(getattr(backbone, "no_weight_decay", lambda: set())())
    if layer_decay < 1.0:
        groups = param_groups_layer_decay(backbone, weight_decay=weight_decay, no_weight_decay_list=no_decay,
                                          layer_decay=layer_decay)
        for g in groups:  # the head sits above the last block (timm's/BEiT's convention)
            g["lr"] = lr * g.pop("lr_scale", 1.0) * layer_decay
    else:
        groups = param_groups_weight_decay(backbone, weight_decay, no_weight_decay_list=no_decay)
        for g in groups:
            g["lr"] = lr
    head_groups = param_groups_weight_decay(head, weight_decay)
    for g in head_groups:
        g["lr"] = lr * head_lr_mult
    for g in groups:
        g["part"] = "backbone"
    for g in head_groups:
        g["part"] = "head"
    groups += head_groups
    grouped = {id(p) for g in groups for p in g["params"]}
    trainable = {id(p) for p in model.parameters() if p.requires_grad}
    if grouped != trainable:  # a parameter outside backbone and head would never be trained
        raise TrainingError(f"{len(trainable - grouped)} trainable parameter(s) are in no optimizer group")
    return groups


def learning_rates(optimizer) -> dict[str, float]:
    """The learning rates to log: the head's, and the backbone's top block's (the highest of
    the backbone; under layer decay the stem's is far lower and says little)."""
    rates = {}
    for part in ("head", "backbone"):
        lrs = [g["lr"] for g in optimizer.param_groups if g.get("part") == part]
        if lrs:
            rates[f"lr/{part}"] = max(lrs)
    return rates

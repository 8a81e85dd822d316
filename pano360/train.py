"""The training loop, readable top to bottom (in the spirit of nanoGPT's train.py).

``train(cfg, paths)`` finetunes backbone + head on the train split, validates every epoch on
val (mAP), keeps the best and the last checkpoint, and logs to dvclive. Works single-process
or under ``torchrun`` (DDP; gloo on CPU, nccl on GPU); only rank 0 logs and writes.
``train.batch_size`` is the global batch: with N processes each takes batch_size / N, and
every sample's augmentation depends only on (seed, epoch, sample), so N processes follow
the same recipe as one. An interrupted run continues from its resume state when started
again with the same configuration, code and data.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal, Optional, Union

import numpy as np
import torch
import torch.distributed as dist
from pydantic import Field, NonNegativeFloat, NonNegativeInt, PositiveFloat, PositiveInt
from torch.nn.parallel import DistributedDataParallel
from timm.optim import param_groups_layer_decay, param_groups_weight_decay
from torch.utils.data import DataLoader, DistributedSampler

from .data import AugmentParams, DataError, HalfImages, build_transform, cache_fits, read_split
from .heads import HeadName, HeadsParams, head_lr_mult
from .inference import autocast, autocast_dtype, mean_ap, predict
from .io import save_torch, write_json
from .losses import AslParams, build_loss
from .model import ModelParams, build_model, checkpoint_payload, data_config
from .prepare import read_prepared, stored_names
from .params import Section, flatten
from .progress import progress


class TrainingError(RuntimeError):
    pass


class TrainParams(Section):
    """params.yaml ``train``: the training loop."""
    seed: int = 0
    epochs: PositiveInt = 30
    batch_size: PositiveInt = 16         # global batch (split across train.nproc processes)
    lr: PositiveFloat = 0.005
    weight_decay: NonNegativeFloat = 0.05
    # layer-wise lr decay: the backbone's layer k below the head learns at lr × layer_decay^k;
    # 1 = off (transformer finetuning recipes use 0.65-0.85)
    layer_decay: Annotated[float, Field(gt=0, le=1)] = 1.0
    warmup_epochs: NonNegativeFloat = 1
    grad_accum: PositiveInt = 1
    clip_grad: NonNegativeFloat = 1.0    # max gradient norm; 0 = off
    loss: Literal["bce", "asl"] = "bce"
    asl: AslParams = AslParams()         # options of loss: asl
    ema: bool = False
    ema_decay: Annotated[float, Field(gt=0, lt=1)] = 0.998
    early_stop_patience: NonNegativeInt = 8   # epochs without a better val mAP; 0 = off
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"
    channels_last: bool = True           # GPU only
    workers: NonNegativeInt = 0          # DataLoader processes per training process
    nproc: PositiveInt = 1               # training processes (DDP) on this machine
    backend: Literal["auto", "nccl", "gloo"] = "auto"   # DDP backend; auto: nccl on GPU
    cache_images: Union[Literal["auto"], bool] = "auto"   # decoded halves in RAM; auto: if they fit in 2 GB
    monitor_system: bool = True          # CPU/RAM/GPU curves in dvclive
    augment: AugmentParams = AugmentParams()


class TrainingConfig(Section):
    """What training reads from params.yaml: ``head``, ``heads``, ``model``, ``train``."""
    head: HeadName = "csra"
    heads: HeadsParams = HeadsParams()
    model: ModelParams = ModelParams()
    train: TrainParams = TrainParams()


@dataclass
class Paths:
    train_csv: str
    val_csv: str
    image_dir: str            # the prepared halves (or, without ``prepared``, the halves as they are)
    prepared: Optional[str] = None   # the prepare stage's settings file (data/interim/prepared.json)
    label_schema: Optional[str] = None   # where each class comes from in the export (load_labels)
    best: str = "models/model.pt"
    last: str = "models/last.pt"
    resume_dir: str = "models/.resume"
    live_dir: str = "dvclive"
    metrics: Optional[str] = None   # JSON with the best val mAP and the epochs run (the stage: metrics/train.json)
    # What the resume fingerprint covers besides the config; None: the splits, the images and
    # the pano360 package. The train stage passes its dvc.yaml deps.
    deps: Optional[list[str]] = field(default=None)


# ---------------------------------------------------------------- distributed / device

def setup_distributed(backend: str = "auto") -> tuple[int, int, torch.device]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    cuda = torch.cuda.is_available()
    device = torch.device(f"cuda:{local}" if cuda else "cpu")
    if cuda:
        torch.cuda.set_device(device)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group(("nccl" if cuda else "gloo") if backend == "auto" else backend)
    return rank, world, device


def broadcast_flag(flag: bool, device: torch.device, world: int) -> bool:
    """Rank 0's ``flag`` on every rank. The tensor lives on the training device: NCCL
    collectives take CUDA tensors only."""
    tensor = torch.tensor([int(flag)], device=device)
    if world > 1:
        dist.broadcast(tensor, 0)
    return bool(tensor.item())


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


# ---------------------------------------------------------------- schedule / optimiser

def lr_factor(step: int, total: int, warmup: int, min_factor: float = 0.01) -> float:
    """Linear warm-up from 0, then cosine decay to ``min_factor`` of the peak."""
    if warmup and step < warmup:
        return (step + 1) / warmup
    progress_ = (step - warmup) / max(1, total - warmup)
    return min_factor + (1 - min_factor) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress_)))


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
    groups += head_groups
    grouped = {id(p) for g in groups for p in g["params"]}
    trainable = {id(p) for p in model.parameters() if p.requires_grad}
    if grouped != trainable:  # a parameter outside backbone and head would never be trained
        raise TrainingError(f"{len(trainable - grouped)} trainable parameter(s) are in no optimizer group")
    return groups


# ---------------------------------------------------------------- logging

def start_live(live_dir: str, params: dict, monitor_system: bool, on_started=None):
    """dvclive run that never rewrites dvc.yaml (metrics/plots are declared there by hand).

    Its system monitor is a non-daemon thread: if anything (Ctrl-C included) interrupts this
    function after the thread started, the run is ended here, or the process could never exit."""
    from dvclive import Live
    import dvclive.monitor_system as monitor

    if monitor.GPU_AVAILABLE:
        # nvidia-ml-py installed but no driver makes dvclive's monitor log nothing at all;
        # probe NVML and keep CPU/RAM/disk monitoring when no GPU answers.
        try:
            monitor.nvmlInit()
            monitor.nvmlShutdown()
        except Exception:
            monitor.GPU_AVAILABLE = False
    live = Live(dir=live_dir, dvcyaml=False, save_dvc_exp=False, report=None,
                monitor_system=False)
    try:
        if monitor_system:
            live.monitor_system(interval=0.1, num_samples=10)  # one aggregated point per second
        if on_started is not None:
            on_started()
        live.log_params(params)
    except BaseException:
        live.end()
        raise
    return live


# ---------------------------------------------------------------- resume identity

def _hash_path(h, path: Path) -> None:
    """Small files by content; large files and folders by name, size and modification time
    (hashing gigabytes of images at every start would cost minutes)."""
    if path.is_file():
        st = path.stat()
        h.update(f"{path.name}\0{st.st_size}\0".encode())
        if st.st_size <= 1 << 20:
            h.update(path.read_bytes())
        else:
            h.update(str(st.st_mtime_ns).encode())
    elif path.is_dir():
        for p in sorted(path.rglob("*")):
            if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc":
                h.update(str(p.relative_to(path)).encode() + b"\0")
                _hash_path(h, p)
    else:
        h.update(f"{path}: missing".encode())


def fingerprint(cfg: TrainingConfig, deps: list[str]) -> str:
    """Identity of a run: its params, code and data. A resume state from another run is stale."""
    h = hashlib.sha256(cfg.model_dump_json().encode())
    for dep in deps:
        h.update(f"\0{dep}\0".encode())
        _hash_path(h, Path(dep))
    return h.hexdigest()[:16]


def _default_deps(paths: Paths) -> list[str]:
    return [paths.train_csv, paths.val_csv, paths.image_dir, str(Path(__file__).parent)]


# ---------------------------------------------------------------- training

PHASES = ("start", "live", "batch", "validate", "resume_write", "epoch_end", "save", "end")


def train(cfg: TrainingConfig | dict, paths: Paths, show_progress: bool = True,
          before_save=None, on_phase=None) -> dict:
    """Train with ``cfg`` (params.yaml's ``head``, ``heads``, ``model``, ``train``).

    ``before_save`` (rank 0) is called before the checkpoints are written; an exception there
    leaves no model behind (the stage checks that params.yaml did not change meanwhile).
    ``on_phase(name)`` is called as the run reaches each of :data:`PHASES` (tests interrupt
    training there, see :func:`interrupt_at`)."""
    phase = on_phase or (lambda name: None)
    cfg = cfg if isinstance(cfg, TrainingConfig) else TrainingConfig.model_validate(cfg)
    t, m = cfg.train, cfg.model
    head_params = getattr(cfg.heads, cfg.head).model_dump()
    head_options = {k: v for k, v in head_params.items() if k != "lr_mult"}
    pretrained = bool(m.pretrained or m.pretrained_file)
    lr_mult = head_lr_mult(cfg.head, head_params, pretrained)
    rank, world, device = setup_distributed(t.backend)
    main = rank == 0
    if t.batch_size % world:
        raise TrainingError(f"train.batch_size {t.batch_size} is the global batch and must divide by "
                            f"train.nproc {world}")
    seed_everything(t.seed)

    train_frame, classes = read_split(paths.train_csv)
    val_frame, val_classes = read_split(paths.val_csv)
    if val_classes != classes:
        raise TrainingError(f"{paths.val_csv} has classes {val_classes}, {paths.train_csv} has {classes}")
    if len(train_frame) == 0 or len(val_frame) == 0:
        raise TrainingError("train and val splits must both hold images; check partition.fractions")

    try:
        model = build_model(m.model_dump(), cfg.head, head_options, len(classes))
    except ValueError as exc:  # model.name / kwargs / weights file: the message says what to do
        raise TrainingError(str(exc)) from None
    data_cfg = data_config(model, m.img_size)
    spec = read_prepared(paths.prepared)
    # read now, not after the last epoch: a missing file must not cost a whole training run
    labels = json.loads(Path(paths.label_schema).read_text()) if paths.label_schema else None
    if spec is not None and spec["size"] < m.img_size:
        print(f"train: warning: the prepared halves are {spec['size']} px, smaller than model.img_size "
              f"{m.img_size}: training upsamples them (set prepare.size: auto)", flush=True)

    def dataset(frame, transform, seed=0):
        names = stored_names(frame["image"], spec)
        size = spec["size"] if spec is not None else 4096  # unprepared halves: assume large
        return HalfImages(frame, paths.image_dir, classes, transform, names,
                          cache=cache_fits(len(frame), size, t.cache_images), seed=seed)

    train_set = dataset(train_frame, build_transform(data_cfg, True, t.augment), seed=t.seed)
    val_set = dataset(val_frame, build_transform(data_cfg, False))

    channels_last = device.type == "cuda" and t.channels_last
    model.to(device, memory_format=torch.channels_last if channels_last else torch.preserve_format)
    amp_dtype = autocast_dtype(t.precision, device)
    scaler = torch.amp.GradScaler(device.type, enabled=amp_dtype == torch.float16)

    # The same sampler for 1 or N processes: N processes see, step by step, the very samples
    # one process would (each rank a strided share of the same permutation).
    batch = t.batch_size // world
    sampler = EpochSampler(DistributedSampler(train_set, world, rank, shuffle=True, seed=t.seed))
    loader_kw = dict(num_workers=t.workers, pin_memory=device.type == "cuda",
                     worker_init_fn=_quiet_worker, persistent_workers=t.workers > 0,
                     multiprocessing_context="spawn" if t.workers > 0 else None)
    train_loader = DataLoader(train_set, batch_size=batch, sampler=sampler,
                              drop_last=len(train_set) >= 2 * t.batch_size, **loader_kw)
    val_loader = DataLoader(val_set, batch_size=batch, shuffle=False, **loader_kw)

    accum = t.grad_accum
    steps_per_epoch = max(1, len(train_loader) // accum)
    total_steps = t.epochs * steps_per_epoch
    warmup = int(round(t.warmup_epochs * steps_per_epoch))
    optimizer = torch.optim.AdamW(param_groups(model, t.weight_decay, t.lr, lr_mult, t.layer_decay),
                                  lr=t.lr, betas=(0.9, 0.999))
    base_lrs = [g["lr"] for g in optimizer.param_groups]
    loss_fn = build_loss(t.loss, len(classes), **t.asl.model_dump())
    ema = None
    if t.ema:
        from timm.utils import ModelEmaV3
        ema = ModelEmaV3(model, decay=t.ema_decay, device=device)
    ddp_model = DistributedDataParallel(model) if world > 1 else model

    # Resume: a state from an interrupted run with the same config, code and data.
    run_id = fingerprint(cfg, paths.deps or _default_deps(paths))
    resume_dir = Path(paths.resume_dir)
    resume_path = resume_dir / f"{run_id}.pt"
    if main and resume_dir.is_dir():
        for stale in resume_dir.glob("*.pt"):  # other params, code or data: never resumable
            if stale != resume_path:
                stale.unlink(missing_ok=True)
    start_epoch, step, best, bad_epochs, history = 0, 0, -1.0, 0, []
    best_state = None
    if resume_path.is_file():
        state = torch.load(resume_path, map_location=device, weights_only=False)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scaler.load_state_dict(state["scaler"])
        if ema is not None and state.get("ema") is not None:
            ema.load_state_dict(state["ema"])
        start_epoch, step, best = state["epoch"] + 1, state["step"], state["best"]
        bad_epochs, history, best_state = state["bad_epochs"], state["history"], state["best_state"]
        torch.set_rng_state(state["torch_rng"])
        random.setstate(state["python_rng"])
        np.random.set_state(state["numpy_rng"])
        if main:
            print(f"train: resuming run {run_id} after epoch {start_epoch} "
                  f"(best val mAP so far {best:.4f})", flush=True)

    live = None
    try:
        phase("start")
        if main:
            live = start_live(paths.live_dir, _loggable(flatten(cfg.model_dump(mode="json"))), t.monitor_system,
                              on_started=lambda: phase("live"))
            for record in history:  # replay epochs logged before an interruption
                _log_epoch(live, record)

        patience = t.early_stop_patience
        epoch_bar = progress(total=t.epochs, desc="epochs", unit="epoch", disable=not (main and show_progress))
        epoch_bar.update(start_epoch)
        stopped_early = False
        for epoch in range(start_epoch, t.epochs):
            sampler.set_epoch(epoch)
            ddp_model.train()
            t0, seen, loss_sum, batches = time.perf_counter(), 0, 0.0, 0
            bar = progress(train_loader, desc=f"epoch {epoch + 1}/{t.epochs}", unit="batch",
                           disable=not (main and show_progress), leave=False)
            optimizer.zero_grad(set_to_none=True)
            for i, (images, targets) in enumerate(bar):
                images = images.to(device, non_blocking=True)
                if channels_last:
                    images = images.contiguous(memory_format=torch.channels_last)
                targets = targets.to(device, non_blocking=True)
                last_micro = (i + 1) % accum == 0 or i + 1 == len(train_loader)
                sync = ddp_model.no_sync() if (world > 1 and not last_micro) else contextlib.nullcontext()
                with sync, autocast(device, amp_dtype):
                    loss = loss_fn(ddp_model(images), targets)
                phase("batch")
                if not torch.isfinite(loss):
                    raise TrainingError(_non_finite_message(
                        f"loss became {loss.item()} at epoch {epoch + 1}, step {step + 1} (batch {i + 1})", t))
                with sync:
                    scaler.scale(loss / accum).backward()
                loss_sum += loss.item()
                batches += 1
                seen += images.shape[0]
                if last_micro:
                    for g, base in zip(optimizer.param_groups, base_lrs):
                        g["lr"] = base * lr_factor(step, total_steps, warmup)
                    if t.clip_grad:
                        scaler.unscale_(optimizer)
                        torch.nn.utils.clip_grad_norm_(model.parameters(), t.clip_grad)
                    scaler.step(optimizer)
                    scaler.update()
                    optimizer.zero_grad(set_to_none=True)
                    step += 1
                    if ema is not None:
                        ema.update(model, step=step)
                bar.set_postfix(loss=f"{loss_sum / batches:.4f}", refresh=False)
            bar.close()
            train_time = time.perf_counter() - t0

            stop = False
            if main:
                eval_model = ema.module if ema is not None else model
                probs, y, val_loss = predict(eval_model, val_loader, device, amp_dtype, desc="validate",
                                             show=show_progress)
                phase("validate")
                if not np.isfinite(probs).all():
                    raise TrainingError(_non_finite_message(
                        f"the model's validation scores became NaN/inf after epoch {epoch + 1} (the "
                        f"weights diverged)", t))
                val_map = mean_ap(y, probs)
                record = {"epoch": epoch + 1, "train/loss": loss_sum / max(1, batches), "val/loss": val_loss,
                          "val/mAP": val_map, "lr": optimizer.param_groups[0]["lr"],
                          "epoch_time_s": time.perf_counter() - t0,
                          "train/images_per_s": seen * world / max(train_time, 1e-9)}
                history.append(record)
                _log_epoch(live, record)
                improved = val_map > best
                if improved:
                    best, bad_epochs = val_map, 0
                    best_state = {k: v.detach().cpu().clone() for k, v in eval_model.state_dict().items()}
                else:
                    bad_epochs += 1
                print(f"train: epoch {epoch + 1}/{t.epochs} loss {record['train/loss']:.4f} val loss "
                      f"{val_loss:.4f} val mAP {val_map:.4f}{' *' if improved else ''} "
                      f"({record['train/images_per_s']:.1f} img/s)", flush=True)
                phase("resume_write")
                _save_resume(resume_path, model, optimizer, scaler, ema, epoch, step, best, bad_epochs,
                             history, best_state)
                phase("epoch_end")
                stop = bool(patience and bad_epochs >= patience and epoch + 1 < t.epochs)
            epoch_bar.update()
            if broadcast_flag(stop, device, world):
                stopped_early = True
                if main:
                    print(f"train: early stop: val mAP did not improve for {patience} epochs", flush=True)
                break
        epoch_bar.close()

        result = {}
        if main:
            if before_save is not None:
                before_save()
            phase("save")
            eval_model = ema.module if ema is not None else model
            common = dict(model_cfg=m.model_dump(mode="json"), head_options=head_options,
                          classes=classes, data_cfg=data_cfg, prepare=spec, labels=labels)
            extra = dict(best_val_mAP=best, epochs_run=len(history), stopped_early=stopped_early)
            save_torch(paths.last, checkpoint_payload(model, **common, **extra, state_dict=eval_model.state_dict(),
                                                      epoch=len(history)))
            save_torch(paths.best, checkpoint_payload(model, **common, **extra, state_dict=best_state,
                                                      epoch=1 + int(np.argmax([r["val/mAP"] for r in history]))))
            result = {"best_val_mAP": best, "epochs_run": len(history), "stopped_early": stopped_early,
                      "classes": classes}
            live.summary["best_val_mAP"] = best
            if paths.metrics:
                write_json(paths.metrics, {"val_mAP": round(best, 4), "epochs": len(history)})
            resume_path.unlink(missing_ok=True)
        if world > 1:
            dist.barrier()
        return result
    finally:
        try:
            phase("end")
        finally:
            # dvclive's system monitor is a non-daemon thread: without end() the process would
            # never exit after an error or Ctrl-C.
            if live is not None:
                live.end()
            if world > 1 and dist.is_initialized():
                dist.destroy_process_group()


class EpochSampler(torch.utils.data.Sampler):
    """Yields ``(epoch, index)`` so each sample's augmentation is seeded by epoch and index,
    also inside persistent DataLoader workers (which never see attributes set later)."""

    def __init__(self, inner: DistributedSampler):
        self.inner, self.epoch = inner, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        self.inner.set_epoch(epoch)

    def __iter__(self):
        return ((self.epoch, i) for i in self.inner)

    def __len__(self) -> int:
        return len(self.inner)


def interrupt_at(spec: str | None):
    """An ``on_phase`` hook that sends this process group SIGINT, as a terminal's Ctrl-C does,
    the ``k``-th time training reaches a phase: ``spec`` is ``"phase"`` or ``"phase@k"``
    (the stage reads it from ``PANO360_INTERRUPT_AT``; tests use it to interrupt every phase
    deterministically). None or empty: no hook."""
    if not spec:
        return None
    name, _, nth = spec.partition("@")
    if name not in PHASES:
        raise TrainingError(f"PANO360_INTERRUPT_AT: {name!r} is not a phase ({', '.join(PHASES)})")
    remaining = [int(nth or 1)]

    def hook(reached: str) -> None:
        if reached == name:
            remaining[0] -= 1
            if remaining[0] == 0:
                import signal
                import sys
                print(f"interrupt-at {name} {time.time():.3f}", file=sys.stderr, flush=True)
                os.killpg(os.getpgid(0), signal.SIGINT)
    return hook


def _quiet_worker(worker_id: int) -> None:
    # Ctrl-C reaches the whole process group; the main process stops the workers, so they
    # must not print a KeyboardInterrupt traceback each.
    import signal
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _non_finite_message(what: str, t: TrainParams) -> str:
    settings = [f"train.lr {t.lr:g}", f"train.clip_grad {t.clip_grad:g}" + ("" if t.clip_grad else " (off)"),
                f"train.precision {t.precision}", f"train.loss {t.loss}"]
    advice = ["lower train.lr"]
    if not t.clip_grad:
        advice.append("set train.clip_grad (e.g. 1.0)")
    if t.precision == "fp16":
        advice.append("use train.precision bf16 or fp32")
    advice.append("check the input images")
    return f"{what} with {', '.join(settings)}; {', '.join(advice)}. No model was written."


def _log_epoch(live, record: dict) -> None:
    for key, value in record.items():
        if key != "epoch":
            live.log_metric(key, float(value))
    live.next_step()


def _save_resume(path: Path, model, optimizer, scaler, ema, epoch, step, best, bad_epochs, history,
                 best_state) -> None:
    state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
             "scaler": scaler.state_dict(), "ema": ema.state_dict() if ema is not None else None,
             "epoch": epoch, "step": step, "best": best, "bad_epochs": bad_epochs,
             "history": history, "best_state": best_state,
             "torch_rng": torch.get_rng_state(), "python_rng": random.getstate(),
             "numpy_rng": np.random.get_state()}
    save_torch(path, state)


def _loggable(flat: dict) -> dict:
    """dvclive params take scalars; lists (crop ranges) are logged as their text."""
    return {k: v if isinstance(v, (int, float, str, bool)) or v is None else str(v) for k, v in flat.items()}


__all__ = ["DataError", "Paths", "TrainParams", "TrainingConfig", "TrainingError", "train"]

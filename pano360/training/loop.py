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
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler

from pano360.data.dataset import HalfImages, build_transform, cache_fits, read_split
from pano360.data.prepare import read_prepared, stored_names
from pano360.evaluation.metrics import mean_ap
from pano360.io import save_torch, write_json
from pano360.model.backbone import build_model, checkpoint_payload, data_config
from pano360.model.heads import head_lr_mult
from pano360.model.losses import build_loss
from pano360.params import flatten
from pano360.progress import progress
from pano360.training.config import Paths, TrainingConfig, TrainingError, TrainParams
from pano360.training.distributed import EpochSampler, ShardSampler, any_rank, broadcast_flag, broadcast_int, \
    gather_shards, local_world_size, quiet_worker, seed_epoch, seed_everything, setup_distributed
from pano360.training.logging import log_epoch, loggable, start_live
from pano360.training.optim import advance_schedule, learning_rates, lr_factor, param_groups
from pano360.training.resume import ResumeState, resume_path
from pano360.use.inference import PRECISION_NAMES, autocast, autocast_dtype, predict


def train(cfg: TrainingConfig | dict, paths: Paths, show_progress: bool = True,
          before_save=None, on_phase=None) -> dict:
    """Train with ``cfg`` (params.yaml's ``head``, ``heads``, ``model``, ``train``).

    ``before_save`` (rank 0) is called before the checkpoints are written; an exception there
    leaves no model behind (the stage checks that params.yaml did not change meanwhile).
    ``on_phase(name)`` is called as the run reaches each of ``pano360.training.phases.PHASES``
    (tests interrupt training there, see ``phases.interrupt_at``)."""
    # Longer than the rest on purpose: the whole run, setup → resume → epochs → save, reads in
    # one place; each step is a call to a named helper below.
    cfg = cfg if isinstance(cfg, TrainingConfig) else TrainingConfig.model_validate(cfg)
    t, phase = cfg.train, on_phase or (lambda name: None)

    # --- setup: processes, data, model, optimiser
    rank, world, device = setup_distributed(t.backend)
    main = rank == 0
    if t.batch_size % world:
        raise TrainingError(f"train.batch_size {t.batch_size} is the global batch and must divide by "
                            f"train.nproc {world}")
    seed_everything(t.seed)
    train_frame, val_frame, classes = _read_splits(paths)
    model, head_options, lr_mult = _build_model(cfg, len(classes))
    if main and model.dropped:
        print(f"train: leaving out {', '.join(model.dropped)}: the forward pass never uses it "
              f"(part of timm's classifier head, which a headless backbone keeps)", flush=True)
    data_cfg = data_config(model, cfg.model.img_size)
    spec = read_prepared(paths.prepared)
    # read now, not after the last epoch: a missing file must not cost a whole training run
    labels = json.loads(Path(paths.label_schema).read_text()) if paths.label_schema else None
    if spec is not None and spec["size"] < cfg.model.img_size:
        print(f"train: warning: the prepared halves are {spec['size']} px, smaller than model.img_size "
              f"{cfg.model.img_size}: training upsamples them (set prepare.size: auto)", flush=True)
    train_loader, val_loader, sampler = build_loaders(train_frame, val_frame, classes, data_cfg, spec, paths, t,
                                                      rank, world, device)
    channels_last = device.type == "cuda" and t.channels_last
    model = sync_batchnorm(model, t.sync_batchnorm, world, device)
    model.to(device, memory_format=torch.channels_last if channels_last else torch.preserve_format)
    amp_dtype = autocast_dtype(t.precision, device)
    opt = _build_optimisation(model, t, lr_mult, len(classes), len(train_loader), device)
    optimizer, scaler, ema = opt.optimizer, opt.scaler, opt.ema
    ddp_model = DistributedDataParallel(model) if world > 1 else model
    # compiled: the training forward only (validation's batch sizes vary; it runs eagerly)
    forward = torch.compile(ddp_model) if t.compile else ddp_model

    # --- resume: a state from an interrupted run with the same config, code and data
    state_path = resume_path(cfg, paths, main)
    state = ResumeState()
    if state_path.is_file():
        try:
            saved = ResumeState.read(state_path)
        except Exception as exc:  # a state that cannot be read must not stop every later run
            if main:
                print(f"train: warning: the resume state {state_path} cannot be used ({type(exc).__name__}: "
                      f"{exc}); starting from epoch 1", flush=True)
                state_path.unlink(missing_ok=True)
        else:
            try:
                state = ResumeState.load(saved, model, optimizer, scaler, ema)
            except Exception as exc:  # half restored: starting afresh would not be a fresh start
                raise TrainingError(f"the resume state {state_path} does not fit this run ({type(exc).__name__}: "
                                    f"{exc}); delete it and run again") from None
            if main:
                print(f"train: resuming run {state_path.stem} after epoch {state.epoch + 1} "
                      f"(best val mAP so far {state.best:.4f})", flush=True)
    # every rank must resume from the same epoch: on several machines, the state rank 0 wrote
    # is visible to all only on a shared disk
    first_epoch = broadcast_int(state.epoch, device, world)   # where process 0 resumes from
    if any_rank(first_epoch != state.epoch, device, world):
        raise TrainingError(f"the processes do not agree on the resume state {state_path} (process 0 resumes after "
                            f"epoch {first_epoch + 1}): on several machines the workspace must be on a disk they "
                            f"all share (README \"Training on GPUs\")")

    live = None
    try:
        phase("start")
        if main:
            live = start_live(paths.live_dir, loggable(flatten(cfg.model_dump(mode="json"))), t.monitor_system,
                              on_started=lambda: phase("live"))
            for record in state.history:  # replay epochs logged before an interruption
                log_epoch(live, record)

        # --- the epoch loop
        if main and state.epoch < 0:
            print(f"train: {_schedule_line(t)}", flush=True)
        epoch_bar = progress(total=t.epochs, desc="epochs", unit="epoch", disable=not (main and show_progress))
        epoch_bar.update(state.epoch + 1)
        stopped_early = False
        for epoch in range(state.epoch + 1, t.epochs):
            sampler.set_epoch(epoch)
            seed_epoch(t.seed, rank, epoch)
            t0 = time.perf_counter()
            loss, seen, skipped = train_one_epoch(ddp_model, forward, model, train_loader, opt, state, epoch, t,
                                                  device, amp_dtype, channels_last, world, phase, show_progress and main)
            train_time = time.perf_counter() - t0
            # every rank scores its share of val (the EMA is the same on every rank)
            scores = validate(ema.module if ema is not None else model, val_loader, device, amp_dtype, channels_last,
                              world, show_progress and main)
            stop = False
            if main:
                stop = _end_epoch(scores, ema.module if ema is not None else model, model, opt, state, state_path,
                                  live, epoch, loss, seen * world / max(train_time, 1e-9), skipped, t0, t, phase)
            epoch_bar.update()
            # rank 0 decided on the plateau: every rank steps at the same learning rate
            state.lr_decays = broadcast_int(state.lr_decays, device, world)
            if broadcast_flag(stop, device, world):
                stopped_early = True
                if main:
                    print(f"train: early stop: val mAP did not improve for {t.early_stop_patience} epochs; "
                          f"keeping epoch {state.epoch + 1 - state.bad_epochs} (val mAP {state.best:.4f})",
                          flush=True)
                break
        epoch_bar.close()

        # --- save: the last and the best checkpoint, then forget the resume state
        result = {}
        if main:
            if before_save is not None:
                before_save()
            phase("save")
            eval_model = ema.module if ema is not None else model
            _save_checkpoints(paths, model, eval_model, state, stopped_early, cfg, head_options, classes, data_cfg,
                              spec, labels, PRECISION_NAMES[amp_dtype])
            result = {"best_val_mAP": state.best, "epochs_run": len(state.history),
                      "stopped_early": stopped_early, "classes": classes}
            live.summary["best_val_mAP"] = state.best
            if paths.metrics:
                write_json(paths.metrics, {"val_mAP": round(state.best, 4), "epochs": len(state.history)})
            state_path.unlink(missing_ok=True)
        if world > 1:
            torch.distributed.barrier()
        return result
    finally:
        try:
            phase("end")
        finally:
            # dvclive's system monitor is a non-daemon thread: without end() the process would
            # never exit after an error or Ctrl-C.
            if live is not None:
                live.end()
            if world > 1 and torch.distributed.is_initialized():
                torch.distributed.destroy_process_group()


# micro-batches between looks at the loss on the host (each look waits for the GPU to finish)
SYNC_EVERY = 25


def train_one_epoch(ddp_model, forward, model, loader, opt: "Optimisation", state: ResumeState, epoch: int,
                    t: TrainParams, device, amp_dtype, channels_last: bool, world: int, phase,
                    show: bool) -> tuple[float, int, int]:
    """One pass over the train split (gradient accumulation, clipping, schedule, EMA); returns
    the mean loss, the images this process saw and the micro-batches whose loss was not finite
    (skipped under fp16, where the loss scaler drops their step). ``state.step`` counts the
    optimizer steps. ``forward`` is ``ddp_model``, compiled or not.

    Losses are summed on the device and read every SYNC_EVERY micro-batches: a host read per
    step would stall the GPU's queue of work."""
    ddp_model.train()
    loss_sum = torch.zeros((), device=device)
    bad = torch.zeros((), dtype=torch.long, device=device)          # non-finite losses so far
    first_bad = torch.full((), -1, dtype=torch.long, device=device)  # the first one's batch index
    batches, seen = 0, 0
    skip_bad = opt.scaler.is_enabled()   # fp16: the scaler skips steps with inf/NaN gradients
    bar = progress(loader, desc=f"epoch {epoch + 1}/{t.epochs}", unit="batch", disable=not show, leave=False)
    opt.optimizer.zero_grad(set_to_none=True)
    for i, (images, targets) in enumerate(bar):
        images = images.to(device, non_blocking=True)
        if channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        targets = targets.to(device, non_blocking=True)
        last_micro = (i + 1) % t.grad_accum == 0 or i + 1 == len(loader)
        # One no_sync() context around forward and backward: DDP skips the gradient all-reduce
        # of micro-batches before the last of an accumulation (a context manager enters once).
        with ddp_model.no_sync() if (world > 1 and not last_micro) else contextlib.nullcontext():
            with autocast(device, amp_dtype):
                loss = opt.loss_fn(forward(images), targets)
            phase("batch")
            finite = torch.isfinite(loss.detach())
            first_bad = torch.where((first_bad < 0) & ~finite, i, first_bad)
            bad += (~finite).long()
            loss_sum += torch.where(finite, loss.detach().float(), 0.0)
            opt.scaler.scale(loss / t.grad_accum).backward()
        batches += 1
        seen += images.shape[0]
        if last_micro:
            opt.step(model, state.step, t.clip_grad, state.lr_decays)
            state.step += 1
            if opt.ema is not None:
                opt.ema.update(model, step=state.step)
        if batches % SYNC_EVERY == 0 or i + 1 == len(loader):
            n_bad = int(bad.item())
            if n_bad and not (skip_bad and n_bad < batches):
                at = int(first_bad.item())
                raise TrainingError(_non_finite_message(
                    f"loss became {'NaN/inf' if not skip_bad else 'NaN/inf in every batch'} at epoch {epoch + 1}, "
                    f"batch {at + 1}", t))
            bar.set_postfix(loss=f"{loss_sum.item() / max(1, batches - n_bad):.4f}", refresh=False)
    bar.close()
    n_bad = int(bad.item())
    return loss_sum.item() / max(1, batches - n_bad), seen, n_bad


def validate(eval_model, loader, device, amp_dtype, channels_last: bool, world: int, show: bool):
    """``(probs, targets, mean loss)`` over the whole val split on rank 0 (None elsewhere):
    each rank scores its shard, rank 0 gathers them back into sample order."""
    probs, y, mean_loss = predict(eval_model, loader, device, amp_dtype, desc="validate", show=show,
                                  channels_last=channels_last)
    loss_sum = np.array([mean_loss * y.size])
    probs, y, loss_sum = (gather_shards(a, world) for a in (probs, y, loss_sum))
    if probs is None:
        return None
    return probs, y, float(loss_sum.sum()) / max(1, y.size)


@dataclass
class Optimisation:
    """Optimiser, loss scaler, EMA, loss and learning-rate schedule of one run."""
    optimizer: torch.optim.Optimizer
    scaler: torch.amp.GradScaler
    ema: object
    loss_fn: torch.nn.Module
    base_lrs: list[float]
    total_steps: int
    warmup: int
    schedule: str = "cosine"
    decay_rate: float = 0.1

    def step(self, model, step: int, clip_grad: float, lr_decays: int = 0) -> None:
        """Optimizer step ``step`` (0-based) at the schedule's learning rate (``lr_decays``:
        the plateau schedule's decays so far)."""
        factor = lr_factor(step, self.total_steps, self.warmup, self.schedule, lr_decays, self.decay_rate)
        for g, base in zip(self.optimizer.param_groups, self.base_lrs):
            g["lr"] = base * factor
        if clip_grad:
            self.scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip_grad)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)


def _build_optimisation(model, t: TrainParams, lr_mult: float, num_classes: int, batches_per_epoch: int,
                        device) -> Optimisation:
    # the last, shorter accumulation of an epoch steps too
    steps_per_epoch = max(1, math.ceil(batches_per_epoch / t.grad_accum))
    # fused: one kernel for all parameters on a GPU (the CPU keeps the default, whose numbers
    # the demo's recorded results were made with)
    optimizer = torch.optim.AdamW(param_groups(model, t.weight_decay, t.lr, lr_mult, t.layer_decay),
                                  lr=t.lr, betas=(0.9, 0.999), fused=True if device.type == "cuda" else None)
    scaler = torch.amp.GradScaler(device.type, enabled=autocast_dtype(t.precision, device) == torch.float16)
    loss_fn = build_loss(t.loss, num_classes, **t.asl.model_dump())
    ema = None
    if t.ema:
        from timm.utils import ModelEmaV3
        # warm-up: the average follows the fast-changing early weights (decay 1 - (1 + step)^-2/3,
        # capped at ema_decay) instead of clinging to step 1's, which the best checkpoint and
        # early stopping would otherwise judge
        ema = ModelEmaV3(model, decay=t.ema_decay, use_warmup=True, device=device)
    return Optimisation(optimizer, scaler, ema, loss_fn, [g["lr"] for g in optimizer.param_groups],
                        total_steps=t.epochs * steps_per_epoch, warmup=int(round(t.warmup_epochs * steps_per_epoch)),
                        schedule=t.schedule, decay_rate=t.plateau_decay)


def _schedule_line(t: TrainParams) -> str:
    """What the run will do, said once at its start."""
    stop = (f"stops after {t.early_stop_patience} epochs without a better val mAP (at most {t.epochs})"
            if t.early_stop_patience else f"runs all {t.epochs} epochs")
    if t.schedule == "plateau":
        return (f"learning rate {t.lr:g} after {t.warmup_epochs:g} warm-up epoch(s), × {t.plateau_decay:g} after "
                f"{t.plateau_patience} epoch{'s' * (t.plateau_patience > 1)} without a better val mAP; {stop}")
    return f"learning rate {t.lr:g}, {t.warmup_epochs:g} warm-up epoch(s), cosine decay over {t.epochs} epochs; {stop}"


def _read_splits(paths: Paths):
    train_frame, classes = read_split(paths.train_csv)
    val_frame, val_classes = read_split(paths.val_csv)
    if val_classes != classes:
        raise TrainingError(f"{paths.val_csv} has classes {val_classes}, {paths.train_csv} has {classes}")
    if len(train_frame) == 0 or len(val_frame) == 0:
        raise TrainingError("train and val splits must both hold images; check partition.fractions")
    return train_frame, val_frame, classes


def _build_model(cfg: TrainingConfig, num_classes: int):
    """Backbone + head, the head's options (without lr_mult) and its learning-rate multiplier."""
    head_params = getattr(cfg.heads, cfg.head).model_dump()
    head_options = {k: v for k, v in head_params.items() if k != "lr_mult"}
    pretrained = bool(cfg.model.pretrained or cfg.model.pretrained_file)
    try:
        model = build_model(cfg.model.model_dump(), cfg.head, head_options, num_classes)
    except ValueError as exc:  # model.name / kwargs / weights file: the message says what to do
        raise TrainingError(str(exc)) from None
    return model, head_options, head_lr_mult(cfg.head, head_params, pretrained)


# decoded halves kept in RAM: at most this much per machine, whatever the processes and workers
CACHE_BUDGET_GB = 2.0


def build_loaders(train_frame, val_frame, classes, data_cfg, spec, paths: Paths, t: TrainParams, rank: int,
                  world: int, device):
    """Train and val loaders. The same sampler for 1 or N processes: N processes see, step by
    step, the very samples one process would (each rank a strided share of one permutation;
    with N > 1 the last < N samples of each epoch's permutation are left out rather than
    padded with repeats). Each rank validates its own share of val."""
    size = spec["size"] if spec is not None else 4096  # unprepared halves: assume large
    # every process, and every loader worker in it, fills a cache of its own
    copies = local_world_size(world) * max(1, t.workers)
    cache = cache_fits(len(train_frame) + len(val_frame), size, t.cache_images, CACHE_BUDGET_GB / copies)

    def dataset(frame, transform, seed=0):
        names = stored_names(frame["image"], spec)
        return HalfImages(frame, paths.image_dir, classes, transform, names, cache=cache, seed=seed)

    train_set = dataset(train_frame, build_transform(data_cfg, True, t.augment), seed=t.seed)
    val_set = dataset(val_frame, build_transform(data_cfg, False))
    batch = t.batch_size // world
    sampler = EpochSampler(DistributedSampler(train_set, world, rank, shuffle=True, seed=t.seed,
                                              drop_last=world > 1))
    loader_kw = dict(num_workers=t.workers, pin_memory=device.type == "cuda",
                     worker_init_fn=quiet_worker, persistent_workers=t.workers > 0,
                     multiprocessing_context="spawn" if t.workers > 0 else None)
    train_loader = DataLoader(train_set, batch_size=batch, sampler=sampler,
                              drop_last=len(train_set) >= 2 * t.batch_size, **loader_kw)
    val_loader = DataLoader(val_set, batch_size=batch, sampler=ShardSampler(len(val_set), world, rank), **loader_kw)
    return train_loader, val_loader, sampler


def sync_batchnorm(model, enabled: bool, world: int, device):
    """``train.sync_batchnorm``: BatchNorm layers that average their statistics over every
    process's batch (small per-GPU batches make per-process statistics noisy). PyTorch's
    SyncBatchNorm runs on GPUs only."""
    if not enabled or world == 1:
        return model
    if device.type != "cuda":
        raise TrainingError("train.sync_batchnorm needs GPUs (PyTorch's SyncBatchNorm does not run on the CPU); "
                            "set it to false for training on CPUs")
    return torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)


def _end_epoch(scores, eval_model, model, opt: "Optimisation", state: ResumeState, state_path: Path, live,
               epoch: int, loss: float, images_per_s: float, skipped: int, t0: float, t: TrainParams, phase) -> bool:
    """Rank 0 after each epoch, with the gathered validation ``scores``: record and print the
    epoch, keep the best weights, write the resume state; returns whether to stop early."""
    probs, y, val_loss = scores
    phase("validate")
    if not np.isfinite(probs).all():
        raise TrainingError(_non_finite_message(
            f"the model's validation scores became NaN/inf after epoch {epoch + 1} (the weights diverged)", t))
    record = {"epoch": epoch + 1, "train/loss": loss, "val/loss": val_loss, "val/mAP": mean_ap(y, probs),
              **learning_rates(opt.optimizer), "epoch_time_s": time.perf_counter() - t0,
              "train/images_per_s": images_per_s}
    if opt.scaler.is_enabled():
        record["train/skipped_steps"] = skipped
    improved = _record_epoch(state, record, eval_model, live)
    note = f", {skipped} batch(es) with inf/NaN fp16 loss skipped" if skipped else ""
    print(f"train: epoch {epoch + 1}/{t.epochs} loss {loss:.4f} val loss {val_loss:.4f} val mAP "
          f"{record['val/mAP']:.4f}{' *' if improved else ''} ({images_per_s:.1f} img/s{note})", flush=True)
    stop, decayed = advance_schedule(state, improved, epoch, t)
    if decayed:
        print(f"train: val mAP has not improved for {t.plateau_patience} epoch{'s' * (t.plateau_patience > 1)}: "
              f"learning rate × {t.plateau_decay:g} "
              f"(now {t.lr * t.plateau_decay ** state.lr_decays:.3g})", flush=True)
    state.epoch = epoch
    phase("resume_write")
    state.save(state_path, model, opt.optimizer, opt.scaler, opt.ema)
    phase("epoch_end")
    return stop


def _record_epoch(state: ResumeState, record: dict, eval_model, live) -> bool:
    """Add the epoch to the history and the curves; keep the weights if val mAP improved (and
    say so)."""
    state.history.append(record)
    log_epoch(live, record)
    if record["val/mAP"] > state.best:
        state.best = record["val/mAP"]
        state.best_state = {k: v.detach().cpu().clone() for k, v in eval_model.state_dict().items()}
        return True
    return False


def _save_checkpoints(paths: Paths, model, eval_model, state: ResumeState, stopped_early: bool,
                      cfg: TrainingConfig, head_options, classes, data_cfg, spec, labels, precision: str) -> None:
    # precision: what validation ran in; tune_thresholds, evaluate and predict run in it too
    common = dict(model_cfg=cfg.model.model_dump(mode="json"), head_options=head_options, classes=classes,
                  data_cfg=data_cfg, prepare=spec, labels=labels, precision=precision, best_val_mAP=state.best,
                  epochs_run=len(state.history), stopped_early=stopped_early)
    save_torch(paths.last, checkpoint_payload(model, **common, state_dict=eval_model.state_dict(),
                                              epoch=len(state.history)))
    save_torch(paths.best, checkpoint_payload(model, **common, state_dict=state.best_state,
                                              epoch=1 + int(np.argmax([r["val/mAP"] for r in state.history]))))


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


__all__ = ["Paths", "TrainParams", "TrainingConfig", "TrainingError", "train"]

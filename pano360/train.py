"""The training loop, readable top to bottom (in the spirit of nanoGPT's train.py).

``train(cfg)`` finetunes backbone + head on the train split, validates every epoch on val
(mAP), keeps the best and the last checkpoint, and logs to dvclive. Works single-process
or under ``torchrun`` (DDP; gloo on CPU, nccl on GPU); only rank 0 logs and writes.
An interrupted run continues from its resume state when started again with the same
configuration and data.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import random
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler

from .data import HalfImages, build_transform, cache_size_for, read_split
from .io import atomic_path
from .losses import build_loss
from .metrics import average_precision
from .model import build_model, checkpoint_payload, data_config
from .progress import progress


class TrainingError(RuntimeError):
    pass


@dataclass
class Paths:
    train_csv: str
    val_csv: str
    image_dir: str
    best: str = "models/model.pt"
    last: str = "models/last.pt"
    resume_dir: str = "models/.resume"
    live_dir: str = "dvclive"


# ---------------------------------------------------------------- distributed / device

def setup_distributed(backend: str | None = None) -> tuple[int, int, torch.device]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    cuda = torch.cuda.is_available()
    if world > 1 and not dist.is_initialized():
        dist.init_process_group(backend or ("nccl" if cuda else "gloo"))
    device = torch.device(f"cuda:{local}" if cuda else "cpu")
    if cuda:
        torch.cuda.set_device(device)
    return rank, world, device


def autocast_dtype(precision: str, device: torch.device):
    """``auto``: bf16 where the GPU supports it, else fp16 on GPU; fp32 on CPU."""
    if precision == "fp32" or (precision == "auto" and device.type != "cuda"):
        return None
    if precision == "auto":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return {"bf16": torch.bfloat16, "fp16": torch.float16}[precision]


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _seed_worker(worker_id: int) -> None:
    seed = torch.initial_seed() % 2**32
    random.seed(seed)
    np.random.seed(seed)


# ---------------------------------------------------------------- schedule / optimiser

def lr_factor(step: int, total: int, warmup: int, min_factor: float = 0.01) -> float:
    """Linear warm-up from 0, then cosine decay to ``min_factor`` of the peak."""
    if warmup and step < warmup:
        return (step + 1) / warmup
    progress_ = (step - warmup) / max(1, total - warmup)
    return min_factor + (1 - min_factor) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress_)))


def param_groups(model, weight_decay: float, lr: float, head_lr_mult: float) -> list[dict]:
    """No decay on biases/norms (1-D tensors); the head may learn faster than the backbone."""
    groups = {}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        is_head = name.startswith("head.")
        decay = p.ndim > 1
        key = (is_head, decay)
        groups.setdefault(key, {"params": [], "weight_decay": weight_decay if decay else 0.0,
                                "lr": lr * (head_lr_mult if is_head else 1.0)})
        groups[key]["params"].append(p)
    return [groups[k] for k in sorted(groups)]


# ---------------------------------------------------------------- evaluation

@torch.no_grad()
def predict(model, loader, device, amp_dtype=None, desc="predict", show=True):
    """(probabilities, targets, mean BCE loss) over a loader, in loader order."""
    model.eval()
    probs, targets, loss_sum = [], [], 0.0
    for images, y in progress(loader, desc=desc, unit="batch", disable=not show, leave=False):
        images = images.to(device, non_blocking=True)
        ctx = torch.autocast(device.type, dtype=amp_dtype) if amp_dtype else contextlib.nullcontext()
        with ctx:
            logits = model(images)
        logits = logits.float().cpu()
        loss_sum += torch.nn.functional.binary_cross_entropy_with_logits(
            logits, y, reduction="sum").item()
        probs.append(torch.sigmoid(logits))
        targets.append(y)
    p, t = torch.cat(probs).numpy(), torch.cat(targets).numpy()
    return p, t, loss_sum / max(1, t.size)


def mean_ap(targets: np.ndarray, probs: np.ndarray) -> float:
    ap = average_precision(targets, probs)
    return float(np.nanmean(ap)) if np.isfinite(ap).any() else float("nan")


# ---------------------------------------------------------------- logging

def start_live(live_dir: str, params: dict, monitor_system: bool):
    """dvclive run that never rewrites dvc.yaml (metrics/plots are declared there by hand)."""
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
    if monitor_system:
        live.monitor_system(interval=0.1, num_samples=10)  # one aggregated point per second
    live.log_params(params)
    return live


def fingerprint(cfg: dict, paths: Paths) -> str:
    """Identity of a run: config + split contents. A resume state from another run is ignored."""
    h = hashlib.sha256(json.dumps(cfg, sort_keys=True, default=str).encode())
    for p in (paths.train_csv, paths.val_csv):
        h.update(Path(p).read_bytes())
    return h.hexdigest()[:16]


# ---------------------------------------------------------------- training

def train(cfg: dict, paths: Paths, show_progress: bool = True) -> dict:
    """``cfg`` holds params.yaml's ``head``, ``heads``, ``model`` and ``train`` sections."""
    t_cfg, m_cfg = cfg["train"], cfg["model"]
    head = cfg["head"]
    head_options = dict((cfg.get("heads") or {}).get(head) or {})
    # lr_mult is a training setting of the head, not a constructor option: the head's
    # parameters learn at train.lr × lr_mult (ML-Decoder's attention needs a gentler rate).
    head_lr_mult = float(head_options.pop("lr_mult", 1.0))
    rank, world, device = setup_distributed(t_cfg.get("backend"))
    main = rank == 0
    seed_everything(int(t_cfg["seed"]) + rank)

    train_frame, classes = read_split(paths.train_csv)
    val_frame, val_classes = read_split(paths.val_csv)
    if val_classes != classes:
        raise TrainingError(f"{paths.val_csv} has classes {val_classes}, {paths.train_csv} has {classes}")
    if len(train_frame) == 0 or len(val_frame) == 0:
        raise TrainingError("train and val splits must both hold images; check partition.fractions")

    model = build_model(m_cfg, head, head_options, len(classes))
    data_cfg = data_config(model, m_cfg.get("img_size"))
    size = data_cfg["input_size"][-1]
    decode = int(size * 1.25) if t_cfg.get("reduced_decode", True) else None
    cache = t_cfg.get("cache_images", "auto")
    interp = data_cfg["interpolation"]
    train_set = HalfImages(train_frame, paths.image_dir, classes,
                           build_transform(data_cfg, True, t_cfg.get("augment")), decode,
                           cache_size_for(data_cfg, t_cfg.get("augment"), len(train_frame), cache), interp)
    val_set = HalfImages(val_frame, paths.image_dir, classes, build_transform(data_cfg, False), decode,
                         cache_size_for(data_cfg, None, len(val_frame), cache), interp)

    channels_last = device.type == "cuda" and t_cfg.get("channels_last", True)
    model.to(device, memory_format=torch.channels_last if channels_last else torch.preserve_format)
    amp_dtype = autocast_dtype(t_cfg.get("precision", "auto"), device)
    scaler = torch.amp.GradScaler(device.type, enabled=amp_dtype == torch.float16)

    batch = int(t_cfg["batch_size"])
    sampler = DistributedSampler(train_set, world, rank, shuffle=True, seed=int(t_cfg["seed"])) \
        if world > 1 else None
    generator = torch.Generator().manual_seed(int(t_cfg["seed"]) + rank)
    workers = int(t_cfg.get("workers", 0))
    loader_kw = dict(num_workers=workers, pin_memory=device.type == "cuda",
                     worker_init_fn=_seed_worker, persistent_workers=workers > 0,
                     multiprocessing_context="spawn" if workers > 0 else None)
    train_loader = DataLoader(train_set, batch_size=batch, shuffle=sampler is None, sampler=sampler,
                              drop_last=len(train_set) >= 2 * batch * world, generator=generator,
                              **loader_kw)
    val_loader = DataLoader(val_set, batch_size=batch, shuffle=False, **loader_kw)

    accum = max(1, int(t_cfg.get("grad_accum", 1)))
    epochs = int(t_cfg["epochs"])
    steps_per_epoch = max(1, len(train_loader) // accum)
    total_steps = epochs * steps_per_epoch
    warmup = int(round(float(t_cfg.get("warmup_epochs", 0)) * steps_per_epoch))
    lr = float(t_cfg["lr"])
    optimizer = torch.optim.AdamW(
        param_groups(model, float(t_cfg["weight_decay"]), lr, head_lr_mult),
        lr=lr, betas=(0.9, 0.999))
    base_lrs = [g["lr"] for g in optimizer.param_groups]
    loss_fn = build_loss(t_cfg.get("loss", "bce"), len(classes), **(t_cfg.get("loss_options") or {}))
    ema = None
    if t_cfg.get("ema"):
        from timm.utils import ModelEmaV3
        ema = ModelEmaV3(model, decay=float(t_cfg.get("ema_decay", 0.999)), device=device)
    ddp_model = DistributedDataParallel(model) if world > 1 else model

    # Resume: a state from an interrupted run with the same config and data.
    run_id = fingerprint(cfg, paths)
    resume_path = Path(paths.resume_dir) / f"{run_id}.pt"
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
        generator.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        random.setstate(state["python_rng"])
        np.random.set_state(state["numpy_rng"])
        if main:
            print(f"train: resuming run {run_id} after epoch {start_epoch} "
                  f"(best val mAP so far {best:.4f})", flush=True)

    live = start_live(paths.live_dir, _flat(cfg), bool(t_cfg.get("monitor_system", True))) if main else None
    if live is not None:
        for record in history:  # replay epochs logged before an interruption
            _log_epoch(live, record)

    patience = int(t_cfg.get("early_stop_patience", 0))
    clip = float(t_cfg.get("clip_grad", 0) or 0)
    epoch_bar = progress(total=epochs, desc="epochs", unit="epoch", disable=not (main and show_progress))
    epoch_bar.update(start_epoch)
    stopped_early = False
    for epoch in range(start_epoch, epochs):
        if sampler is not None:
            sampler.set_epoch(epoch)
        ddp_model.train()
        t0, seen, loss_sum, batches = time.perf_counter(), 0, 0.0, 0
        bar = progress(train_loader, desc=f"epoch {epoch + 1}/{epochs}", unit="batch",
                       disable=not (main and show_progress), leave=False)
        optimizer.zero_grad(set_to_none=True)
        for i, (images, targets) in enumerate(bar):
            images = images.to(device, non_blocking=True)
            if channels_last:
                images = images.contiguous(memory_format=torch.channels_last)
            targets = targets.to(device, non_blocking=True)
            last_micro = (i + 1) % accum == 0 or i + 1 == len(train_loader)
            sync = contextlib.nullcontext() if (last_micro or world == 1) else ddp_model.no_sync()
            ctx = torch.autocast(device.type, dtype=amp_dtype) if amp_dtype else contextlib.nullcontext()
            with sync, ctx:
                loss = loss_fn(ddp_model(images), targets)
            if not torch.isfinite(loss):
                raise TrainingError(
                    f"loss became {loss.item()} at epoch {epoch + 1}, step {step + 1} (batch {i + 1}); "
                    "lower train.lr, enable train.clip_grad, or check the inputs. No model was written.")
            with sync:
                scaler.scale(loss / accum).backward()
            loss_sum += loss.item()
            batches += 1
            seen += images.shape[0]
            if last_micro:
                for g, base in zip(optimizer.param_groups, base_lrs):
                    g["lr"] = base * lr_factor(step, total_steps, warmup)
                if clip:
                    scaler.unscale_(optimizer)
                    torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
                scaler.step(optimizer)
                scaler.update()
                optimizer.zero_grad(set_to_none=True)
                step += 1
                if ema is not None:
                    ema.update(model, step=step)
            bar.set_postfix(loss=f"{loss_sum / batches:.4f}", refresh=False)
        bar.close()
        train_time = time.perf_counter() - t0

        improved = False
        if main:
            eval_model = ema.module if ema is not None else model
            probs, y, val_loss = predict(eval_model, val_loader, device, amp_dtype, desc="validate",
                                         show=show_progress)
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
            print(f"train: epoch {epoch + 1}/{epochs} loss {record['train/loss']:.4f} val loss "
                  f"{val_loss:.4f} val mAP {val_map:.4f}{' *' if improved else ''} "
                  f"({record['train/images_per_s']:.1f} img/s)", flush=True)
            _save_resume(resume_path, model, optimizer, scaler, ema, epoch, step, best, bad_epochs,
                         history, best_state, generator)
        stop = torch.tensor([1 if (main and patience and bad_epochs >= patience and epoch + 1 < epochs) else 0])
        if world > 1:
            dist.broadcast(stop, 0)
        epoch_bar.update()
        if stop.item():
            stopped_early = True
            if main:
                print(f"train: early stop: val mAP did not improve for {patience} epochs", flush=True)
            break
    epoch_bar.close()

    result = {}
    if main:
        eval_model = ema.module if ema is not None else model
        common = dict(model_cfg=m_cfg, head_options=head_options, classes=classes, data_cfg=data_cfg)
        extra = dict(best_val_mAP=best, epochs_run=len(history), stopped_early=stopped_early)
        with atomic_path(paths.last) as tmp:
            torch.save(checkpoint_payload(model, **common, **extra,
                                          state_dict=eval_model.state_dict(),
                                          epoch=len(history)), tmp)
        with atomic_path(paths.best) as tmp:
            torch.save(checkpoint_payload(model, **common, **extra, state_dict=best_state,
                                          epoch=1 + int(np.argmax([r["val/mAP"] for r in history]))), tmp)
        result = {"best_val_mAP": best, "epochs_run": len(history), "stopped_early": stopped_early,
                  "classes": classes}
        live.summary["best_val_mAP"] = best
        live.end()
        resume_path.unlink(missing_ok=True)
    if world > 1:
        dist.barrier()
        dist.destroy_process_group()
    return result


def _log_epoch(live, record: dict) -> None:
    for key, value in record.items():
        if key != "epoch":
            live.log_metric(key, float(value))
    live.next_step()


def _save_resume(path: Path, model, optimizer, scaler, ema, epoch, step, best, bad_epochs, history,
                 best_state, generator) -> None:
    state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
             "scaler": scaler.state_dict(), "ema": ema.state_dict() if ema is not None else None,
             "epoch": epoch, "step": step, "best": best, "bad_epochs": bad_epochs,
             "history": history, "best_state": best_state, "generator": generator.get_state(),
             "torch_rng": torch.get_rng_state(), "python_rng": random.getstate(),
             "numpy_rng": np.random.get_state()}
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def _flat(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flat(v, key + "."))
        else:
            out[key] = v if isinstance(v, (int, float, str, bool)) or v is None else str(v)
    return out

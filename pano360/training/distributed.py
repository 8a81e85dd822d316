"""Processes and devices: one process, or N under torchrun (DDP; gloo on CPU, nccl on GPU)."""
from __future__ import annotations

import os
import random
import signal

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import DistributedSampler

from pano360.training.config import TrainingError


def setup_distributed(backend: str = "auto") -> tuple[int, int, torch.device]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    cuda = torch.cuda.is_available()
    if cuda and local >= torch.cuda.device_count():
        raise TrainingError(f"process {rank} has local rank {local}, but this machine shows "
                           f"{torch.cuda.device_count()} GPU(s): start at most one process per GPU")
    device = torch.device(f"cuda:{local}" if cuda else "cpu")
    if cuda:
        torch.cuda.set_device(device)
        fast_gpu_defaults()
    if world > 1 and not dist.is_initialized():
        dist.init_process_group(("nccl" if cuda else "gloo") if backend == "auto" else backend)
    return rank, world, device


def fast_gpu_defaults() -> None:
    """cuDNN picks the fastest convolution algorithms for the (fixed) input size, and float32
    matrix products use TF32 tensor cores (10 mantissa bits; autocast's bf16 has 7). Both
    trade bit-for-bit GPU reproducibility for speed (README "Training on GPUs")."""
    torch.backends.cudnn.benchmark = True
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True


def local_world_size(world: int) -> int:
    """Training processes on this machine (torchrun: LOCAL_WORLD_SIZE; SLURM: tasks per node)."""
    for key in ("LOCAL_WORLD_SIZE", "SLURM_NTASKS_PER_NODE"):
        value = os.environ.get(key, "").split("(")[0]
        if value.isdigit():
            return max(1, int(value))
    return world


def broadcast_flag(flag: bool, device: torch.device, world: int) -> bool:
    """Rank 0's ``flag`` on every rank. The tensor lives on the training device: NCCL
    collectives take CUDA tensors only."""
    return bool(broadcast_int(int(flag), device, world))


def any_rank(flag: bool, device: torch.device, world: int) -> bool:
    """Whether ``flag`` is true on any rank (every rank gets the answer)."""
    tensor = torch.tensor([int(flag)], device=device)
    if world > 1:
        dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
    return bool(tensor.item())


def broadcast_int(value: int, device: torch.device, world: int) -> int:
    """Rank 0's ``value`` on every rank (on the training device, as NCCL requires)."""
    tensor = torch.tensor([value], device=device)
    if world > 1:
        dist.broadcast(tensor, 0)
    return int(tensor.item())


def seed_everything(seed: int) -> None:
    """The same seed on every rank: the model starts from the same weights everywhere."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def seed_epoch(seed: int, rank: int, epoch: int) -> None:
    """Seed the generators the training step draws from (dropout and drop-path masks, on the
    CPU and every GPU) by (seed, rank, epoch): each rank draws its own masks, and a resumed
    run draws what an uninterrupted one would."""
    derived = int(np.random.SeedSequence([seed, rank, epoch]).generate_state(1)[0])
    random.seed(derived)
    np.random.seed(derived)
    torch.manual_seed(derived)


class ShardSampler(torch.utils.data.Sampler):
    """Rank ``rank``'s share of ``n`` samples for validation: every ``world``-th from ``rank``,
    no padding, so the ranks together score exactly the set (:func:`gather_shards`)."""

    def __init__(self, n: int, world: int, rank: int):
        self.indices = range(rank, n, world)

    def __iter__(self):
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)


def gather_shards(rows: np.ndarray, world: int) -> np.ndarray | None:
    """Every rank's :class:`ShardSampler` rows, back in sample order, on rank 0 (None
    elsewhere). The shards differ in length by up to one, so they travel as objects."""
    if world == 1:
        return rows
    shards = [None] * world
    dist.all_gather_object(shards, rows)
    if dist.get_rank() != 0:
        return None
    out = np.empty((sum(len(s) for s in shards),) + rows.shape[1:], dtype=rows.dtype)
    for rank, shard in enumerate(shards):
        out[rank::world] = shard
    return out


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


def quiet_worker(worker_id: int) -> None:
    # Ctrl-C reaches the whole process group; the main process stops the workers, so they
    # must not print a KeyboardInterrupt traceback each.
    signal.signal(signal.SIGINT, signal.SIG_IGN)

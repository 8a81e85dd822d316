"""Processes and devices: one process, or N under torchrun (DDP; gloo on CPU, nccl on GPU)."""
from __future__ import annotations

import os
import random
import signal

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import DistributedSampler


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

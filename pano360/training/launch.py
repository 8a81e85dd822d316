"""Starting the training processes: one, N on this machine, or N on each of several machines,
and none that outlives the command that started it.

Three ways a run starts (``plan``):

* an outer launcher (``torchrun`` across nodes, a SLURM ``srun`` wrapper, ...) already set
  ``RANK`` and ``WORLD_SIZE``: this process is one worker and starts nothing;
* ``train.nproc`` × ``launch.nnodes`` is 1: training runs in this process;
* otherwise this process starts ``torchrun`` for this machine's workers and waits. With several
  machines the rendezvous is static: the machine with node rank 0 holds global rank 0, the one
  process that writes outputs, so ``dvc repro`` runs there (README "Training on GPUs").

torchrun puts each worker in a session of its own, so killing the stage's process group would
not reach them: every process started here dies with its parent (Linux parent-death signal).
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Optional

from pydantic import PositiveInt, field_validator

from pano360.errors import Pano360Error
from pano360.params import Section

# set in the workers' environment by `launch`: they then die with the torchrun it started
LAUNCHER_ENV = "PANO360_LAUNCHER_PID"
DEFAULT_PORT = 29500


class LaunchError(Pano360Error, RuntimeError):
    pass


class LaunchParams(Section):
    """params.yaml ``launch``: where training runs (not what it computes, so not a DVC
    dependency: moving a run to other machines does not retrain)."""
    nnodes: PositiveInt = 1               # machines, each running train.nproc processes
    rdzv_endpoint: Optional[str] = None   # host:port of node 0; empty: $MASTER_ADDR/$MASTER_PORT or SLURM's first node

    @field_validator("rdzv_endpoint")
    @classmethod
    def _host_port(cls, value):
        if value is not None and not re.fullmatch(r"[^\s:]+(:\d{1,5})?", value):
            raise ValueError(f"{value!r} is not host or host:port")
        return value


@dataclass(frozen=True)
class Plan:
    """How this process takes part: ``mode`` is "worker" (an outer launcher started it, or the
    launcher below did), "single" (train here) or "launch" (start ``command`` and wait)."""
    mode: str
    command: tuple = ()
    note: str = ""


def node_rank(env: Mapping[str, str]) -> int:
    """This machine's node rank: $PANO360_NODE_RANK, else SLURM's $SLURM_NODEID, else 0."""
    for key in ("PANO360_NODE_RANK", "SLURM_NODEID"):
        if env.get(key, "").strip():
            try:
                return int(env[key])
            except ValueError:
                raise LaunchError(f"${key} is {env[key]!r}, not a node rank (0, 1, ...)") from None
    return 0


def endpoint(launch: LaunchParams, env: Mapping[str, str]) -> tuple[str, int]:
    """Node 0's address and port for the rendezvous."""
    text = launch.rdzv_endpoint
    if not text and env.get("MASTER_ADDR"):
        text = f"{env['MASTER_ADDR']}:{env.get('MASTER_PORT', DEFAULT_PORT)}"
    if not text and env.get("SLURM_JOB_NODELIST"):
        text = f"{first_slurm_host(env['SLURM_JOB_NODELIST'])}:{DEFAULT_PORT}"
    if not text:
        raise LaunchError(f"launch.nnodes {launch.nnodes} needs launch.rdzv_endpoint in params.yaml (host:port of "
                          "node 0, the machine that runs `dvc repro`, reachable from every machine), or "
                          "$MASTER_ADDR and $MASTER_PORT")
    host, _, port = text.partition(":")
    return host, int(port or DEFAULT_PORT)


def first_slurm_host(nodelist: str) -> str:
    """The first host of a SLURM node list (``gpu[03-05,07],cpu1`` → ``gpu03``), as
    ``scontrol show hostnames`` would say where it exists."""
    if shutil.which("scontrol"):
        out = subprocess.run(["scontrol", "show", "hostnames", nodelist], capture_output=True, text=True)
        if out.returncode == 0 and out.stdout.split():
            return out.stdout.split()[0]
    match = re.match(r"([^,\[]+)(?:\[([^\]]+)\])?", nodelist)
    if not match:
        raise LaunchError(f"cannot read the SLURM node list {nodelist!r}; set launch.rdzv_endpoint")
    prefix, ranges = match.groups()
    return prefix + ranges.split(",")[0].split("-")[0] if ranges else prefix


def visible_gpus() -> Optional[int]:
    """GPUs this process can use; None without CUDA."""
    import torch
    return torch.cuda.device_count() if torch.cuda.is_available() else None


def check_devices(nproc: int, backend: str, gpus: Optional[int]) -> None:
    """One training process per GPU: more processes than visible GPUs would share one (or
    crash in NCCL); nccl needs GPUs at all."""
    if gpus is None:
        if backend == "nccl":
            raise LaunchError("train.backend nccl needs GPUs, and this machine shows none to PyTorch; "
                              "use train.backend auto (gloo on CPU)")
        return
    if nproc > gpus:
        shown = os.environ.get("CUDA_VISIBLE_DEVICES")
        raise LaunchError(f"train.nproc {nproc} starts one process per GPU, but this machine shows {gpus} GPU(s) "
                          f"to PyTorch{f' (CUDA_VISIBLE_DEVICES={shown})' if shown is not None else ''}; "
                          f"set train.nproc to at most {gpus}")


def plan(nproc: int, launch: LaunchParams, target: list[str], env: Mapping[str, str] = os.environ,
         backend: str = "auto", gpus="detect") -> Plan:
    """How to start ``target`` (the arguments after ``python``, e.g. ``["-m", "stages.train"]``)."""
    if "RANK" in env and "WORLD_SIZE" in env:
        outer = LAUNCHER_ENV not in env
        note = (f"started by an outer launcher as rank {env['RANK']} of {env['WORLD_SIZE']}: train.nproc and "
                f"launch.* are not used" if outer else "")
        return Plan("worker", note=note)
    if nproc * launch.nnodes == 1:
        return Plan("single")
    check_devices(nproc, backend, visible_gpus() if gpus == "detect" else gpus)
    cmd = [sys.executable, "-m", "torch.distributed.run", f"--nproc-per-node={nproc}"]
    if launch.nnodes == 1:
        cmd.append("--standalone")
    else:
        rank = node_rank(env)
        if not 0 <= rank < launch.nnodes:
            raise LaunchError(f"node rank {rank} (from $PANO360_NODE_RANK or $SLURM_NODEID) is not below "
                              f"launch.nnodes {launch.nnodes}")
        host, port = endpoint(launch, env)
        # static rendezvous: node 0 holds global rank 0, which writes every output
        cmd += [f"--nnodes={launch.nnodes}", f"--node-rank={rank}", f"--master-addr={host}",
                f"--master-port={port}"]
    return Plan("launch", tuple(cmd + list(target)))


def die_with_parent(parent_alive) -> None:
    """Ask Linux to SIGKILL this process when its parent exits (no-op elsewhere).
    ``parent_alive()`` then confirms the parent did not exit before the signal was armed."""
    try:
        import ctypes
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if not parent_alive():
        os._exit(1)


def parent_is_torchrun() -> bool:
    try:
        cmdline = Path(f"/proc/{os.getppid()}/cmdline").read_bytes()
    except OSError:
        return True  # no /proc: cannot tell, assume alive
    return b"torch.distributed.run" in cmdline or b"torchrun" in cmdline


def guard_worker() -> None:
    """In a worker of the torchrun that :func:`launch` started: die with that torchrun. A
    worker of an outer launcher (srun, a torchrun the user started) is left alone; its
    launcher owns it."""
    if LAUNCHER_ENV in os.environ and "LOCAL_RANK" in os.environ:
        die_with_parent(parent_is_torchrun)


def launch(command: tuple | list) -> int:
    """Run the torchrun ``command`` (from :func:`plan`); forward Ctrl-C, wait, and return the
    workers' status (130 after Ctrl-C)."""
    me = os.getpid()
    env = dict(os.environ, **{LAUNCHER_ENV: str(me)})
    proc = subprocess.Popen(list(command), env=env, preexec_fn=lambda: die_with_parent(lambda: os.getppid() == me))
    interrupted = False
    while True:
        try:
            code = proc.wait()
            return 130 if interrupted else code
        except KeyboardInterrupt:  # torchrun got the same SIGINT and stops its workers
            interrupted = True

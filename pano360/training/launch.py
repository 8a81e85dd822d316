"""Starting N training processes on this machine with torchrun, so that none outlives the
command that started it.

torchrun puts each worker in a session of its own, so killing the stage's process group would
not reach them: every process here dies with its parent (Linux parent-death signal).
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path


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


def is_worker() -> bool:
    """This process is one of torchrun's workers."""
    return "LOCAL_RANK" in os.environ


def launch(nproc: int, module: str) -> int:
    """Run ``python -m module`` under torchrun with ``nproc`` workers; forward Ctrl-C, wait,
    and return the workers' status (130 after Ctrl-C)."""
    me = os.getpid()
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
           "-m", module]
    proc = subprocess.Popen(cmd, preexec_fn=lambda: die_with_parent(lambda: os.getppid() == me))
    interrupted = False
    while True:
        try:
            code = proc.wait()
            return 130 if interrupted else code
        except KeyboardInterrupt:  # torchrun got the same SIGINT and stops its workers
            interrupted = True

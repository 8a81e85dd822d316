"""The named points of a training run, and a hook that interrupts one (for tests)."""
from __future__ import annotations

import os
import signal
import sys
import time

from pano360.training.config import TrainingError

PHASES = ("start", "live", "batch", "validate", "resume_write", "epoch_end", "save", "end")

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
                print(f"interrupt-at {name} {time.time():.3f}", file=sys.stderr, flush=True)
                os.killpg(os.getpgid(0), signal.SIGINT)
    return hook

"""Progress bars that read well both in a terminal and in a log file.

In a terminal this is plain tqdm. When stderr is not a terminal (``dvc repro > log``, CI)
tqdm's carriage-return redraws would pile up on one line, so each update is written as
its own line instead, at most every ``log_interval`` seconds.
"""
from __future__ import annotations

import sys

from tqdm import tqdm


class _LineWriter:
    """File-like wrapper turning tqdm's ``\\r`` redraws into whole lines."""

    def __init__(self, stream):
        self.stream = stream

    def write(self, text: str) -> None:
        text = text.replace("\r", "").replace("\x1b[A", "").strip()
        if text:
            self.stream.write(text + "\n")

    def flush(self) -> None:
        self.stream.flush()


def progress(iterable=None, *, desc: str, total=None, unit: str = "it", disable: bool = False,
             log_interval: float = 10.0, leave: bool = True, position=None) -> tqdm:
    stream = sys.stderr
    interactive = hasattr(stream, "isatty") and stream.isatty()
    return tqdm(iterable, desc=desc, total=total, unit=unit, disable=disable, leave=leave,
                position=position, dynamic_ncols=interactive,
                file=stream if interactive else _LineWriter(stream),
                mininterval=0.2 if interactive else log_interval, ascii=not interactive,
                ncols=None if interactive else 100)

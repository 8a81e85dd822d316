"""How every DVC stage script runs: params → work → params unchanged? → outputs.

A stage (``stages/<name>.py``, run as ``python -m stages.<name>``) names the params it reads
and two functions; :func:`run_stage` does the rest the same way for all of them:

* reads and validates the params (sections and dotted single values, ``pano360.params``);
* runs ``compute(params)``, the long work, which writes nothing;
* checks that params.yaml did not change meanwhile (``dvc exp run -S`` rewrites it even when
  another run holds the lock), so results are never recorded under values they were not made
  with;
* runs ``write(params, result)``, which writes the outputs (atomically) and returns the line
  to print (or the stage's exit status, for a stage that only launched others).

A :class:`~pano360.errors.Pano360Error` (or one of ``errors``) becomes one line
``<stage>: <message>`` on stderr and exit status 1; Ctrl-C one line (from the first process
of a torchrun group only) and exit status 130.
"""
from __future__ import annotations

import os
import signal
import sys
from typing import Any, Callable

from pano360.errors import Pano360Error
from pano360.params import Params, check_unchanged, load_params


def one_line(exc: BaseException) -> str:
    """The message, without the worker traceback that DataLoader adds to its workers' errors."""
    text = str(exc).strip()
    if "Original Traceback" in text:
        text = text.splitlines()[-1].split(": ", 1)[-1]
    return text


def exit_interrupted(message: str) -> None:
    """Print ``message`` and end the process now, with 130 (SIGINT's status).

    Python's own teardown would run a garbage collection over every torch, pandas and DVC
    object (seconds on a busy machine) and wait for threads that may never end (dvclive's
    system monitor, if the interrupt hit before it was stopped); an interrupted stage has
    nothing left to save: its outputs are written whole or not at all."""
    if message and int(os.environ.get("RANK", "0")) == 0:
        print(message, file=sys.stderr, flush=True)
    sys.stdout.flush()
    os._exit(130)


def run_stage(name: str, params: dict[str, Any], compute: Callable[[Params], Any],
              write: Callable[[Params, Any], str | int | None], *, errors: tuple = (),
              interrupted: str = "interrupted; run `dvc repro` to run it again") -> int:
    """Run one stage; returns its exit status (see the module's docstring)."""
    # stages/__init__.py ends a stage interrupted while importing; from here on Ctrl-C raises
    # KeyboardInterrupt, so the work's own clean-up (dvclive's end, temporaries) runs first
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        values = load_params(**params)
        result = compute(values)
        check_unchanged(values)
        message = write(values, result)
    except (Pano360Error, *errors) as exc:
        print(f"{name}: {one_line(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        exit_interrupted(f"{name}: {interrupted}")
    if isinstance(message, int):
        return message
    if message:
        print(message)
    return 0

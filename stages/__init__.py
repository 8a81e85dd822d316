"""The pipeline's DVC stages, one module each, run from the project root as
``python -m stages.<name>`` (so this checkout's ``pano360`` is the one imported: a queued
experiment runs in a copy of the repository and must run the code DVC hashed as its deps).

Importing the stage's libraries takes seconds; Ctrl-C meanwhile ends the stage with one line
and exit status 130 instead of a traceback from inside torch. ``pano360.stage.run_stage``
takes Ctrl-C over once the stage runs.
"""
import os
import signal
import sys


def _interrupted_while_starting(signum, frame):
    stage = next((a.split(".", 1)[1] for a in sys.orig_argv if a.startswith("stages.")), "stage")
    if int(os.environ.get("RANK", "0")) == 0:
        print(f"{stage}: interrupted before it started; nothing was written", file=sys.stderr, flush=True)
    os._exit(130)


signal.signal(signal.SIGINT, _interrupted_while_starting)

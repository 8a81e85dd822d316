import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent

# Keep DVC offline and quiet in every test that shells out to it.
os.environ.setdefault("DVC_NO_ANALYTICS", "1")
os.environ.setdefault("DVC_STUDIO_OFFLINE", "true")
# `make test` runs two pytest workers (pytest-xdist) on the 2 cores: one compute thread each
# (and in every process they start), or two torch processes would fight over the cores.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture
def env():
    """Environment for subprocesses: the venv's python/dvc first on PATH."""
    e = dict(os.environ)
    e["PATH"] = f"{VENV_BIN}{os.pathsep}{e.get('PATH', '')}"
    e["PYTHONPATH"] = str(ROOT)
    return e


@pytest.fixture(scope="session")
def trained_demo_root(tmp_path_factory):
    """A tiny demo with a model and tuned thresholds (tests/demo_model.py), trained once per
    session; the tests that use it only read it."""
    from demo_model import trained_demo
    return trained_demo(tmp_path_factory.mktemp("trained_demo"))

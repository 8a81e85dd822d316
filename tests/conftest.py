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


# Heaviest files first (measured on 2 cores: test_pipeline_full ~300 s, test_failures ~185 s,
# test_train ~120 s, test_rounds ~90 s, test_pretrained_e2e and test_readme ~60 s each; every
# other file under 40 s). `make test` hands out whole files in this order (pytest-xdist's loadfile with
# --no-loadscope-reorder; its default order is by number of tests, which left the one-test
# end-to-end files for last), so the two workers end together instead of one waiting on a
# five-minute file that started late.
HEAVY_FIRST = ("test_pipeline_full.py", "test_failures.py", "test_train.py", "test_rounds.py",
               "test_pretrained_e2e.py", "test_readme.py")


def pytest_collection_modifyitems(config, items):
    rank = {name: i for i, name in enumerate(HEAVY_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: each file keeps its order

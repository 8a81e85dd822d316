"""A throw-away copy of the pipeline in its own git+DVC repo, driven by the real `dvc` CLI."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
COPY = ["dvc.yaml", "params.yaml", "stages", "pano360", "weights", ".dvcignore", ".gitignore"]


class Project:
    def __init__(self, path: Path):
        self.path = path
        self.env = dict(os.environ, PATH=f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
                        PYTHONPATH=str(path), DVC_NO_ANALYTICS="1", DVC_STUDIO_OFFLINE="true",
                        GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t", GIT_COMMITTER_NAME="t",
                        GIT_COMMITTER_EMAIL="t@t")

    def run(self, *args: str, check: bool = True, timeout: float = 900) -> subprocess.CompletedProcess:
        proc = subprocess.run(list(args), cwd=self.path, env=self.env, capture_output=True,
                              text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(f"{' '.join(args)} failed ({proc.returncode}):\n"
                                 f"{proc.stdout[-4000:]}\n{proc.stderr[-6000:]}")
        return proc

    def dvc(self, *args: str, **kw) -> subprocess.CompletedProcess:
        return self.run(str(VENV_BIN / "dvc"), *args, **kw)

    def git(self, *args: str, **kw) -> subprocess.CompletedProcess:
        return self.run("git", *args, **kw)

    def set_params(self, **sections) -> None:
        """Deep-merge ``sections`` into params.yaml (tiny models, few epochs for tests)."""
        path = self.path / "params.yaml"
        params = yaml.safe_load(path.read_text())
        _merge(params, sections)
        path.write_text(yaml.safe_dump(params, sort_keys=False))

    def commit(self, message: str) -> None:
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)


def _merge(base: dict, extra: dict) -> None:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value


def make_project(path: Path, count: int = 16, width: int = 256, seed: int = 0) -> Project:
    path.mkdir(parents=True, exist_ok=True)
    for name in COPY:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, path / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif src.exists():
            shutil.copy2(src, path / name)
    project = Project(path)
    project.git("init", "-q", "-b", "main")
    project.dvc("init", "-q")
    shutil.copy2(ROOT / ".dvc" / "config", path / ".dvc" / "config")
    shutil.copytree(ROOT / ".dvc" / "plots", path / ".dvc" / "plots", dirs_exist_ok=True)
    project.run(sys.executable, "-m", "pano360.data.demo", "data/raw", "--count", str(count),
                "--width", str(width), "--seed", str(seed))
    project.dvc("add", "-q", "data/raw")
    return project

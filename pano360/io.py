"""Atomic output writing and small file helpers shared by the stages.

Every output goes to a temporary file (or folder) beside it and is moved into place with
``os.replace``, so an interrupted stage never leaves a half-written output behind. The
temporary's name carries the writer's process id: a later write to the same output removes
temporaries whose writer is gone (killed with SIGKILL, say), so nothing piles up. Outputs
get the usual permissions (0666/0777 less the umask), not tempfile's private 0600/0700.
"""
from __future__ import annotations

import contextlib
import glob
import io
import json
import math
import os
import re
import shutil
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Iterator


def _umask() -> int:
    try:  # Linux reports it without changing it (os.umask would, briefly, for every thread)
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temporaries(path: str | os.PathLike) -> list[Path]:
    """Remove ``.<name>.<pid>.<random>.tmp`` leftovers of ``path`` whose writing process is
    gone (and ``.<name>.<random>.tmp`` ones of older pano360 versions, which had no pid)."""
    path = Path(path)
    removed = []
    ours = re.compile(re.escape(f".{path.name}.") + r"(?:(\d+)\.)?[^.]+\.tmp")
    for leftover in path.parent.glob(glob.escape(f".{path.name}.") + "*.tmp"):
        match = ours.fullmatch(leftover.name)
        if match is None or (match.group(1) and _alive(int(match.group(1)))):
            continue
        if leftover.is_dir() and not leftover.is_symlink():
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            leftover.unlink(missing_ok=True)
        removed.append(leftover)
    return removed


def _temp_prefix(path: Path) -> str:
    return f".{path.name}.{os.getpid()}."


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it onto ``path`` only on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(path), suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        if tmp.exists():
            os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


@contextlib.contextmanager
def staging_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield an empty temporary folder beside ``path``, removed on any exit (named so that a
    later write to ``path`` removes it if its writer was killed)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    tmp = Path(tempfile.mkdtemp(prefix=_temp_prefix(path), suffix=".tmp", dir=path.parent))
    try:
        yield tmp
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield an empty temporary folder beside ``path``; it replaces ``path`` only on success."""
    path = Path(path)
    with staging_dir(path) as tmp:
        yield tmp
        os.chmod(tmp, 0o777 & ~_umask())
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)


@contextlib.contextmanager
def process_map(fn, jobs: list, workers: int, chunksize: int = 1) -> Iterator:
    """``fn`` over ``jobs`` in order: in up to ``workers`` processes when there are several jobs,
    in this process otherwise. The pool's processes end on any exit, pending jobs cancelled."""
    if workers <= 1 or len(jobs) <= 1:
        yield map(fn, jobs)
        return
    pool = ProcessPoolExecutor(max_workers=min(workers, len(jobs)))
    try:
        yield pool.map(fn, jobs, chunksize=chunksize)
    finally:
        pool.shutdown(cancel_futures=True)


def write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def save_torch(path: str | os.PathLike, obj) -> None:
    """``torch.save`` atomically and byte-reproducibly: torch names the archive's folder after
    the file it writes to, so saving to the random temporary name would give other bytes (and
    another hash in dvc.lock) on every run; a buffer's archive is always called "archive"."""
    import torch

    buffer = io.BytesIO()
    torch.save(obj, buffer)
    with atomic_path(path) as tmp:
        tmp.write_bytes(buffer.getvalue())


def jsonable(obj):
    """NaN/inf (undefined metrics) become null: strict JSON that every reader accepts."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if hasattr(obj, "item") and getattr(obj, "ndim", 1) == 0:  # numpy scalars
        return jsonable(obj.item())
    if hasattr(obj, "tolist"):
        return jsonable(obj.tolist())
    return obj


def write_json(path: str | os.PathLike, obj) -> None:
    write_text(path, json.dumps(jsonable(obj), indent=2, allow_nan=False) + "\n")


def write_csv(path: str | os.PathLike, frame) -> None:
    """Write a pandas DataFrame as CSV (no index, ``\\n`` line ends) atomically."""
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False, lineterminator="\n")

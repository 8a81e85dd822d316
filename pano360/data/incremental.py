"""Folders that a stage updates instead of rewriting: only what is new or changed is redone.

split_images and prepare_halves keep their image folders between runs (DVC ``persist: true``,
README "Labelling rounds"), so each must decide for itself what is stale. Beside each folder is
a state file, ``<folder>.state.json``: the *recipe* (a hash of the settings and the code that
make the files) and, per source, a *token* (the source's content hash) and the files made from
it. It lies outside the folder so that the folder's DVC hash is its files' alone: new code that
makes the same bytes leaves the stages after it alone.
A run keeps an entry whose recipe and token still match and whose files all exist; every other
file is made again into a staging folder, moved in, and anything no entry names is removed.
The state holds nothing machine-specific (no times, no paths outside the folder), so an updated
folder is byte-identical to one made from scratch.

Panorama content hashes are remembered per machine in a cache keyed by size and mtime (outside
the outputs): a round rereads only new or touched files; a fresh clone or a queued experiment
hashes everything once (~0.5 GB/s), which is still far cheaper than splitting it again.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from pano360.io import write_json

STATE_VERSION = 1


def state_path(folder: str | os.PathLike) -> Path:
    """Where a folder's state is kept: ``data/interim/halves`` → ``data/interim/halves.state.json``."""
    folder = Path(folder)
    return folder.with_name(folder.name + ".state.json")


def recipe_hash(settings: dict, code_files: list[str | os.PathLike]) -> str:
    """What makes a folder's files: the settings and the text of the code that writes them."""
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode())
    for path in code_files:
        digest.update(Path(path).name.encode() + b"\0" + Path(path).read_bytes())
    return digest.hexdigest()[:16]


def file_md5(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


class Md5Cache:
    """Content hashes remembered by (size, mtime); a machine-local file, never an output."""

    def __init__(self, path: str | os.PathLike | None):
        self.path = Path(path) if path else None
        self.entries: dict[str, list] = {}
        self.hashed = 0
        if self.path and self.path.is_file():
            try:
                self.entries = json.loads(self.path.read_text(encoding="utf-8"))
            except ValueError:  # a damaged cache only costs hashing again
                self.entries = {}

    def md5(self, path: Path) -> str:
        st = path.stat()
        key = str(path.resolve())
        known = self.entries.get(key)
        if known and known[0] == st.st_size and known[1] == st.st_mtime_ns:
            return known[2]
        value = file_md5(path)
        self.hashed += 1
        self.entries[key] = [st.st_size, st.st_mtime_ns, value]
        return value

    def save(self, keep: set[str] | None = None) -> None:
        if self.path is None:
            return
        entries = self.entries if keep is None else {k: v for k, v in self.entries.items() if k in keep}
        write_json(self.path, entries)


def read_state(folder: str | os.PathLike, recipe: str) -> dict[str, dict]:
    """The entries of ``folder``'s state when it was made by ``recipe``; else none (redo all)."""
    path = state_path(folder)
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, NotADirectoryError, ValueError):
        return {}
    if state.get("version") != STATE_VERSION or state.get("recipe") != recipe:
        return {}
    return state.get("entries", {})


def write_state(folder: str | os.PathLike, recipe: str, entries: dict[str, dict]) -> None:
    state = {"version": STATE_VERSION, "recipe": recipe, "entries": dict(sorted(entries.items()))}
    write_json(state_path(folder), state)


def reusable(folder: Path, previous: dict[str, dict], tokens: dict[str, str]) -> dict[str, dict]:
    """Entries still valid: same token, and every file they made still there."""
    return {key: entry for key, entry in previous.items()
            if key in tokens and entry.get("token") == tokens[key]
            and all((folder / name).is_file() for name in entry.get("files", []))}


def commit(folder: str | os.PathLike, staged: Path, recipe: str, kept: dict[str, dict],
           made: dict[str, dict]) -> int:
    """Make ``folder`` hold exactly the files of ``kept`` and ``made`` (the latter from
    ``staged``), and its state say so; returns how many files were removed. The state is first
    narrowed to ``kept``, so an interruption at any point leaves a folder the next run repairs."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    write_state(folder, recipe, kept)
    wanted = set()
    for entries in (kept, made):
        for entry in entries.values():
            wanted.update(entry.get("files", []))
    for entry in made.values():
        for name in entry.get("files", []):
            target = folder / name
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staged / name, target)
    removed = 0
    for path in sorted(folder.rglob("*"), reverse=True):  # files before their folders
        rel = path.relative_to(folder).as_posix()
        if path.is_dir() and not path.is_symlink():
            if not any(path.iterdir()):
                path.rmdir()
        elif rel not in wanted:
            path.unlink()
            removed += 1
    write_state(folder, recipe, {**kept, **made})
    return removed

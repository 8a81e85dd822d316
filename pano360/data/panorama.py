"""The split_images stage: every panorama of a folder and its subfolders split into a left and
a right half without quality loss (how a half is encoded: :func:`pano360.data.pixels.encode_halves`),
with the manifest and the report; a rerun redoes only new or changed panoramas."""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from typing import Literal

from pydantic import NonNegativeInt, field_validator

import PIL
from PIL import features

from pano360.io import atomic_path, process_map, staging_dir
from pano360.data import naming, pixels
from pano360.data.incremental import Md5Cache, commit, read_state, recipe_hash, reusable
from pano360.data.naming import DEFAULT_PATTERN, SIDES, folder_parts, half_name, panorama_id
from pano360.params import Section
from pano360.data.pixels import IMAGE_SUFFIXES, encode_halves
from pano360.progress import progress
from pano360.errors import Pano360Error


class SplitError(Pano360Error, RuntimeError):
    pass


class SplitParams(Section):
    """params.yaml ``split``."""
    # Half names; must match the names the halves were uploaded to LabelBox with.
    name_pattern: str = DEFAULT_PATTERN
    workers: NonNegativeInt = 0          # processes; 0 = all cores
    on_error: Literal["fail", "skip"] = "fail"

    @field_validator("name_pattern")
    @classmethod
    def _pattern(cls, pattern):
        half_name("p", "left", ".jpg", pattern)  # NamingError (a ValueError) names the problem
        return pattern


def list_panoramas(folder: str | os.PathLike, recursive: bool = False) -> list[Path]:
    """Image files in ``folder`` (sorted, so results never depend on directory order)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise SplitError(f"panorama folder {folder} does not exist")
    walk = folder.rglob("*") if recursive else folder.iterdir()
    return sorted(p for p in walk if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
                  and not any(part.startswith(".") for part in p.relative_to(folder).parts))


@dataclass
class SplitOutcome:
    source: str
    halves: list[dict] = field(default_factory=list)
    error: str | None = None
    not_2to1: bool = False


def split_file(path: str | os.PathLike, out_dir: str | os.PathLike,
               pattern: str = DEFAULT_PATTERN, folder: tuple[str, ...] = ()) -> SplitOutcome:
    """Split one panorama into ``out_dir``; errors are returned, never raised. ``folder``: its
    subfolders below the panorama folder (for ``{folder}`` in the pattern)."""
    path, out_dir = Path(path), Path(out_dir)
    outcome = SplitOutcome(source=path.name)
    try:
        halves, is_2to1 = encode_halves(path)
        outcome.not_2to1 = not is_2to1
        for side, data, (w, h) in halves:
            name = half_name(path.stem, side, path.suffix, pattern, folder)
            with atomic_path(out_dir / name) as tmp:
                tmp.write_bytes(data)
            outcome.halves.append({"image": name, "panorama": panorama_id(path.stem, folder, pattern),
                                   "side": side, "width": w, "height": h, "md5": hashlib.md5(data).hexdigest()})
    except Exception as exc:  # reported per file; the run goes on with the others
        outcome.halves = []
        outcome.error = f"{type(exc).__name__}: {exc}"
    return outcome


def _split_star(args):
    return split_file(*args)


# the code that decides a half's bytes and name: a change to it redoes every panorama
CODE = [Path(__file__), Path(pixels.__file__), Path(naming.__file__)]


def split_recipe(pattern: str) -> str:
    return recipe_hash({"name_pattern": pattern, "pillow": PIL.__version__,
                        "libjpeg": features.version("jpg")}, CODE)


def plan_names(sources: list[Path], src_dir: Path, pattern: str) -> dict[str, tuple[Path, tuple, list[str]]]:
    """Per panorama (by its path relative to ``src_dir``): the file, its subfolders and its
    half names; two panoramas that would write the same half are an error naming both."""
    names: dict[str, str] = {}
    plan: dict[str, tuple[Path, tuple, list[str]]] = {}
    for src in sources:
        rel, folder = src.relative_to(src_dir).as_posix(), folder_parts(src, src_dir)
        plan[rel] = (src, folder, [])
        for side in SIDES:
            name = half_name(src.stem, side, src.suffix, pattern, folder)
            if name in names:
                hint = ("put {folder} in split.name_pattern (e.g. '{folder}_{stem}_{side}{ext}': "
                        "half names then start with the subfolders) or rename one of them"
                        if "{folder}" not in pattern and ("/" in rel or "/" in names[name]) else
                        "rename one of them")
                raise SplitError(f"{src_dir / names[name]} and {src_dir / rel} would both write the half "
                                 f"{name}; {hint}")
            names[name] = rel
            plan[rel][2].append(name)
    return plan


def split_folder(src_dir, out_dir, pattern: str = DEFAULT_PATTERN, workers: int = 0,
                 on_error: str = "fail", show_progress: bool = True, md5_cache=None) -> dict:
    """Split every panorama in ``src_dir`` and its subfolders into ``out_dir``, redoing only
    panoramas that are new or changed (:mod:`pano360.data.incremental`): the halves of
    removed panoramas are removed, and a change of the name pattern or of the code redoes all.

    Everything to do is processed first; then, with ``on_error='fail'``, a SplitError lists
    every bad file and why (``out_dir`` is left untouched), while ``on_error='skip'`` keeps the
    good halves and lists the bad files in the returned report. ``md5_cache``: a file where
    panorama content hashes are remembered between runs (machine-local).
    """
    if on_error not in ("fail", "skip"):
        raise SplitError(f"split.on_error must be 'fail' or 'skip', not {on_error!r}")
    src_dir, out_dir = Path(src_dir), Path(out_dir)
    sources = list_panoramas(src_dir, recursive=True)
    if not sources:
        raise SplitError(f"no panoramas ({', '.join(sorted(IMAGE_SUFFIXES))}) in {src_dir} or its subfolders")
    plan = plan_names(sources, src_dir, pattern)
    recipe = split_recipe(pattern)
    cache = Md5Cache(md5_cache)
    hashing = progress(total=len(plan), desc="hash panoramas", unit="pano", disable=not show_progress)
    tokens = {}
    for rel, (src, _, _) in plan.items():
        tokens[rel] = cache.md5(src)
        hashing.update()
    hashing.close()
    kept = {rel: entry for rel, entry in reusable(out_dir, read_state(out_dir, recipe), tokens).items()
            if entry["files"] == plan[rel][2]}
    todo = [rel for rel in plan if rel not in kept]
    workers = workers or os.cpu_count() or 1
    outcomes: dict[str, SplitOutcome] = {}
    with staging_dir(out_dir) as staged:
        jobs = [(plan[rel][0], staged, pattern, plan[rel][1]) for rel in todo]
        bar = progress(total=len(jobs), desc="split panoramas", unit="pano", disable=not show_progress)
        with process_map(_split_star, jobs, workers) as results:
            for rel, outcome in zip(todo, results):
                outcomes[rel] = outcome
                bar.update()
        bar.close()
        failed = {rel: o for rel, o in outcomes.items() if o.error}
        if failed and on_error == "fail":
            lines = "\n".join(f"  {rel}: {o.error}" for rel, o in failed.items())
            raise SplitError(
                f"{len(failed)} of {len(sources)} panoramas in {src_dir} could not be split:\n"
                f"{lines}\nFix or remove them, or set split.on_error: skip in params.yaml to "
                "leave them out (they are then listed in reports/split.json).")
        made = {rel: {"token": tokens[rel], "files": [h["image"] for h in o.halves],
                      "halves": o.halves, "not_2to1": o.not_2to1, "error": o.error}
                for rel, o in outcomes.items()}
        removed = commit(out_dir, staged, recipe, kept, made)
    cache.save(keep={str(src.resolve()) for src in sources})
    entries = {**kept, **made}
    manifest = [{**h, "source": rel} for rel, entry in sorted(entries.items()) for h in entry["halves"]]
    skipped = [{"file": rel, "error": e["error"]} for rel, e in sorted(entries.items()) if e["error"]]
    return {
        "panoramas": len(sources),
        "panoramas_split": len(sources) - len(skipped),
        "halves": len(manifest),
        "skipped": skipped,
        "not_2to1": [rel for rel, e in sorted(entries.items()) if e["not_2to1"] and not e["error"]],
        "name_pattern": pattern,
        "manifest": manifest,
        # what this run did (not written to the report: an update and a fresh run must agree)
        "run": {"split": len(made), "kept": len(kept), "removed_files": removed,
                "hashed": cache.hashed, "workers": workers},
    }

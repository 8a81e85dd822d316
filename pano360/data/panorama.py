"""The split_images stage: every panorama of a folder split into a left and a right half
without quality loss (how a half is encoded: :func:`pano360.data.pixels.encode_halves`), with
the manifest and the report."""
from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from typing import Literal

from pydantic import NonNegativeInt, field_validator

from pano360.io import atomic_dir, atomic_path
from pano360.data.naming import DEFAULT_PATTERN, half_name
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
                  and not p.name.startswith("."))


@dataclass
class SplitOutcome:
    source: str
    halves: list[dict] = field(default_factory=list)
    error: str | None = None
    not_2to1: bool = False


def split_file(path: str | os.PathLike, out_dir: str | os.PathLike,
               pattern: str = DEFAULT_PATTERN) -> SplitOutcome:
    """Split one panorama into ``out_dir``; errors are returned, never raised."""
    path, out_dir = Path(path), Path(out_dir)
    outcome = SplitOutcome(source=path.name)
    try:
        halves, is_2to1 = encode_halves(path)
        outcome.not_2to1 = not is_2to1
        for side, data, (w, h) in halves:
            name = half_name(path.stem, side, path.suffix, pattern)
            with atomic_path(out_dir / name) as tmp:
                tmp.write_bytes(data)
            outcome.halves.append({"image": name, "panorama": path.stem, "side": side,
                                   "width": w, "height": h, "source": path.name})
    except Exception as exc:  # reported per file; the run goes on with the others
        outcome.halves = []
        outcome.error = f"{type(exc).__name__}: {exc}"
    return outcome


def _split_star(args):
    return split_file(*args)


def split_folder(src_dir, out_dir, pattern: str = DEFAULT_PATTERN, workers: int = 0,
                 on_error: str = "fail", show_progress: bool = True) -> dict:
    """Split every panorama in ``src_dir`` into a fresh ``out_dir``.

    Everything readable is processed first; then, with ``on_error='fail'``, a SplitError
    lists every bad file and why (``out_dir`` is left untouched), while ``on_error='skip'``
    keeps the good halves and lists the bad files in the returned report.
    """
    if on_error not in ("fail", "skip"):
        raise SplitError(f"split.on_error must be 'fail' or 'skip', not {on_error!r}")
    # one walk: the folder's own panoramas are split, those in subfolders reported (not yet split)
    found = list_panoramas(src_dir, recursive=True)
    sources = [p for p in found if p.parent == Path(src_dir)]
    nested = sorted(str(p.relative_to(src_dir)) for p in found if p.parent != Path(src_dir))
    if not sources:
        raise SplitError(f"no panoramas ({', '.join(sorted(IMAGE_SUFFIXES))}) in {src_dir}")
    names: dict[str, str] = {}
    for src in sources:
        for side in ("left", "right"):
            name = half_name(src.stem, side, src.suffix, pattern)
            if name in names:
                raise SplitError(f"{src.name} and {names[name]} would both write {name}; "
                                 "rename one of them")
            names[name] = src.name
    workers = workers or os.cpu_count() or 1
    outcomes: list[SplitOutcome] = []
    with atomic_dir(out_dir) as tmp_dir:
        jobs = [(src, tmp_dir, pattern) for src in sources]
        bar = progress(total=len(jobs), desc="split panoramas", unit="pano", disable=not show_progress)
        if workers == 1:
            for job in jobs:
                outcomes.append(_split_star(job))
                bar.update()
        else:
            with ProcessPoolExecutor(max_workers=min(workers, len(jobs))) as pool:
                for outcome in pool.map(_split_star, jobs, chunksize=1):
                    outcomes.append(outcome)
                    bar.update()
        bar.close()
        failed = [o for o in outcomes if o.error]
        if failed and on_error == "fail":
            lines = "\n".join(f"  {o.source}: {o.error}" for o in failed)
            raise SplitError(
                f"{len(failed)} of {len(sources)} panoramas in {src_dir} could not be split:\n"
                f"{lines}\nFix or remove them, or set split.on_error: skip in params.yaml to "
                "leave them out (they are then listed in metrics/split.json).")
    halves = [h for o in outcomes for h in o.halves]
    return {
        "panoramas": len(sources),
        "panoramas_split": len(sources) - len(failed),
        "halves": len(halves),
        "skipped": [{"file": o.source, "error": o.error} for o in failed],
        "not_2to1": [o.source for o in outcomes if o.not_2to1 and not o.error],
        "in_subfolders_not_split": nested,
        "workers": workers,
        "name_pattern": pattern,
        "manifest": halves,
    }

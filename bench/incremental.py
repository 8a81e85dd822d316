"""A labelling round's data stages: `dvc repro prepare_halves` after adding 10 % more panoramas,
against the same stages from scratch on the grown set, side by side in one run.

    python bench/incremental.py [--panoramas 240] [--add 24] [--width 2048] [--cache-type TYPE]

Two throw-away git+DVC copies of the project (the project's .dvc/config, so the cache is
hardlinked as in a user's workspace) get the demo generator's panoramas:
* scratch: all N + added panoramas, `dvc repro prepare_halves` once (split + prepare);
* round: N panoramas, `dvc repro prepare_halves`, then the added ones (a new site folder),
  `dvc add data/raw`, and the timed `dvc repro prepare_halves`.
The rerun's time includes what DVC itself does around a persisted output (unprotecting the
kept folders, hashing them again) and the stages' hashing of the panoramas; the ratio is
rerun ÷ scratch. It also checks that the two workspaces end with identical folders.
"""
import argparse
import hashlib
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COPY = ["dvc.yaml", "params.yaml", "stages", "pano360", "weights", ".dvcignore", ".gitignore"]


def run(cwd, *args):
    proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True,
                          env={**__import__("os").environ, "DVC_NO_ANALYTICS": "1", "PYTHONPATH": str(cwd),
                               "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@b", "GIT_COMMITTER_NAME": "b",
                               "GIT_COMMITTER_EMAIL": "b@b",
                               "PATH": f"{Path(sys.executable).parent}:{__import__('os').environ['PATH']}"})
    if proc.returncode:
        raise SystemExit(f"{' '.join(map(str, args))} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc.stdout


def workspace(path: Path, cache_type: str | None) -> Path:
    path.mkdir(parents=True)
    for name in COPY:
        src = ROOT / name
        (shutil.copytree if src.is_dir() else shutil.copy2)(src, path / name)
    run(path, "git", "init", "-q")
    run(path, "dvc", "init", "-q")
    shutil.copy2(ROOT / ".dvc/config", path / ".dvc/config")
    if cache_type:
        run(path, "dvc", "config", "cache.type", cache_type)
    return path


def generate(folder: Path, count: int, width: int, seed: int) -> None:
    run(ROOT, sys.executable, "-m", "pano360.data.demo", str(folder), "--count", str(count), "--width", str(width),
        "--seed", str(seed))


def timed_repro(path: Path) -> tuple[float, str]:
    run(path, "dvc", "add", "-q", "data/raw")
    t0 = time.perf_counter()
    out = run(path, "dvc", "repro", "prepare_halves")
    return time.perf_counter() - t0, out


def tree_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            digest.update(p.relative_to(folder).as_posix().encode() + p.read_bytes())
    return digest.hexdigest()


def summary(out: str, stage: str) -> str:
    return next((line for line in out.splitlines() if line.startswith(f"{stage}:")), "?")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--panoramas", type=int, default=240)
    ap.add_argument("--add", type=int, default=24)
    ap.add_argument("--width", type=int, default=2048)
    ap.add_argument("--cache-type", help="DVC's cache.type for both workspaces (default: the project's .dvc/config)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="pano360-incremental-") as tmp:
        tmp = Path(tmp)
        generate(tmp / "base", args.panoramas, args.width, seed=0)
        generate(tmp / "more", args.add, args.width, seed=1)
        site = "site_round2"

        def add_round(raw: Path) -> None:
            (raw / "panoramas" / site).mkdir()
            for p in sorted((tmp / "more/panoramas").iterdir()):
                shutil.copy2(p, raw / "panoramas" / site / f"r2_{p.name}")

        scratch = workspace(tmp / "scratch", args.cache_type)
        shutil.copytree(tmp / "base", scratch / "data/raw")
        add_round(scratch / "data/raw")
        t_scratch, out_scratch = timed_repro(scratch)

        rounds = workspace(tmp / "round", args.cache_type)
        shutil.copytree(tmp / "base", rounds / "data/raw")
        t_first, _ = timed_repro(rounds)
        add_round(rounds / "data/raw")
        t_rerun, out_rerun = timed_repro(rounds)
        same = all(tree_digest(scratch / f) == tree_digest(rounds / f)
                   for f in ("data/interim/halves", "data/interim/prepared"))
    total = args.panoramas + args.add
    cache = args.cache_type or "the project's (" + next(
        (line.split("=")[1].strip() for line in (ROOT / ".dvc/config").read_text().splitlines()
         if line.strip().startswith("type")), "DVC's default") + ")"
    print(f"## Incremental data stages ({args.panoramas} + {args.add} panoramas, {args.width} px wide, "
          f"cache.type {cache})\n")
    print("| run | `dvc repro prepare_halves` | what the stages did |")
    print("|---|---|---|")
    print(f"| round 1: {args.panoramas} panoramas from scratch | {t_first:.1f} s | |")
    print(f"| from scratch: all {total} | {t_scratch:.1f} s | {summary(out_scratch, 'split_images')} |")
    print(f"| round 2: +{args.add} after round 1 | {t_rerun:.1f} s | {summary(out_rerun, 'split_images')}; "
          f"{summary(out_rerun, 'prepare_halves')} |")
    print(f"\nratio rerun ÷ scratch: **{t_rerun / t_scratch:.2f}**; folders identical to scratch: {same}")
    if not same:
        raise SystemExit("the updated folders differ from a from-scratch run")


if __name__ == "__main__":
    main()

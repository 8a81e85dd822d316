"""A labelling round's data stages: `dvc repro prepare_halves` after adding 10 % more panoramas,
against the same stages from scratch on the grown set, side by side in one run.

    python bench/incremental.py [--panoramas 240] [--add 24] [--width 2048] [--cache-types TYPE ...]

For each DVC cache.type asked for (default: the project's .dvc/config, as in a user's
workspace), two throw-away git+DVC copies of one snapshot of the project get the demo
generator's panoramas:
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


def workspace(path: Path, code: Path, cache_type: str) -> Path:
    path.mkdir(parents=True)
    for name in COPY:
        src = code / name
        (shutil.copytree if src.is_dir() else shutil.copy2)(src, path / name)
    run(path, "git", "init", "-q")
    run(path, "dvc", "init", "-q")
    shutil.copy2(code / "dvc-config", path / ".dvc/config")
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


def project_cache_type() -> str:
    return next((line.split("=")[1].strip().strip('"') for line in (ROOT / ".dvc/config").read_text().splitlines()
                 if line.strip().startswith("type")), "reflink,copy")


def measure(tmp: Path, code: Path, cache_type: str, add_round) -> dict:
    """Scratch on the grown set, then round 1 + the added panoramas, in two fresh workspaces."""
    tag = cache_type.replace(",", "_")
    scratch = workspace(tmp / f"scratch_{tag}", code, cache_type)
    shutil.copytree(tmp / "base", scratch / "data/raw")
    add_round(scratch / "data/raw")
    t_scratch, out_scratch = timed_repro(scratch)
    rounds = workspace(tmp / f"round_{tag}", code, cache_type)
    shutil.copytree(tmp / "base", rounds / "data/raw")
    t_first, _ = timed_repro(rounds)
    add_round(rounds / "data/raw")
    t_rerun, out_rerun = timed_repro(rounds)
    same = all(tree_digest(scratch / f) == tree_digest(rounds / f)
               for f in ("data/interim/halves", "data/interim/prepared"))
    same &= all((scratch / f).read_bytes() == (rounds / f).read_bytes()
                for f in ("data/interim/halves.state.json", "data/interim/prepared.state.json",
                          "data/interim/halves.csv"))
    for path in (scratch, rounds):
        shutil.rmtree(path)
    return {"cache": cache_type, "first": t_first, "scratch": t_scratch, "rerun": t_rerun, "same": same,
            "did": f"{summary(out_rerun, 'split_images')}; {summary(out_rerun, 'prepare_halves')}",
            "scratch_did": summary(out_scratch, "split_images")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--panoramas", type=int, default=240)
    ap.add_argument("--add", type=int, default=24)
    ap.add_argument("--width", type=int, default=2048)
    ap.add_argument("--cache-types", nargs="+", default=None,
                    help="DVC cache.type values to measure one after the other (default: the project's)")
    args = ap.parse_args()
    cache_types = args.cache_types or [project_cache_type()]
    results = []
    with tempfile.TemporaryDirectory(prefix="pano360-incremental-") as tmp:
        tmp = Path(tmp)
        code = tmp / "code"       # one snapshot of the project: every workspace runs the same code
        code.mkdir()
        for name in COPY:
            src = ROOT / name
            (shutil.copytree if src.is_dir() else shutil.copy2)(src, code / name)
        shutil.copy2(ROOT / ".dvc/config", code / "dvc-config")
        generate(tmp / "base", args.panoramas, args.width, seed=0)
        generate(tmp / "more", args.add, args.width, seed=1)
        site = "site_round2"

        def add_round(raw: Path) -> None:
            (raw / "panoramas" / site).mkdir()
            for p in sorted((tmp / "more/panoramas").iterdir()):
                shutil.copy2(p, raw / "panoramas" / site / f"r2_{p.name}")

        for cache_type in cache_types:
            results.append(measure(tmp, code, cache_type, add_round))
    total = args.panoramas + args.add
    print(f"## Incremental data stages ({args.panoramas} + {args.add} panoramas, {args.width} px wide)\n")
    print(f"`dvc repro prepare_halves` (split + prepare), seconds; round 2 adds {args.add} panoramas in a new "
          "site folder.\n")
    print(f"| cache.type | round 1: {args.panoramas} from scratch | all {total} from scratch | round 2 after round 1 "
          "| **rerun ÷ scratch** | same files as scratch |")
    print("|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['cache']} | {r['first']:.1f} | {r['scratch']:.1f} | {r['rerun']:.1f} | "
              f"**{r['rerun'] / r['scratch']:.2f}** | {'yes' if r['same'] else 'NO'} |")
    print(f"\nRound 2 did: {results[0]['did']}")
    if not all(r["same"] for r in results):
        raise SystemExit("the updated folders differ from a from-scratch run")


if __name__ == "__main__":
    main()

"""`pano360 compare`: is one run really better than another on this test set?

Each run is its test predictions (``data/predictions/test.csv``: probabilities, decisions at
the run's tuned thresholds, true labels), read from a file, the workspace, a git revision or
a DVC experiment (queued ones too) through ``dvc.api``. With ``split="val"`` the runs'
validation predictions (``data/predictions/val.csv``, written by tune_thresholds) are
compared instead: that is how to choose among experiments without looking at test. All runs are scored on the same
bootstrap resamples of test panoramas (see :mod:`pano360.evaluation.bootstrap`), so their differences
are paired: the noise that the test set's size puts on every run cancels out.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pano360.evaluation.bootstrap import DECISION_METRICS, difference, interval, paired, resampled_metrics
from pano360.params import flatten
from pano360.errors import Pano360Error

PREDICTIONS = "data/predictions/test.csv"
SPLIT_PREDICTIONS = {"test": PREDICTIONS, "val": "data/predictions/val.csv"}
# whose file it is, to name the stage that writes it in errors
WRITTEN_BY = {"test": "evaluate", "val": "tune_thresholds"}


def _stage_writing(path: str) -> str:
    return next((WRITTEN_BY[s] for s, p in SPLIT_PREDICTIONS.items() if Path(path) == Path(p)), "evaluate")
SHOWN = {"mAP": "mAP", "CF1": "CF1", "OF1": "OF1", "pano_mAP": "panorama mAP"}


class CompareError(Pano360Error, RuntimeError):
    pass


@dataclass
class Run:
    name: str
    frame: pd.DataFrame
    classes: list[str]
    params: dict | None = None  # the run's params.yaml, when it came from the repository


def run_params(repo: str, rev: str | None) -> dict | None:
    """The params a revision, experiment or (rev None) the workspace ran with; None when DVC
    cannot tell (they only label the run, so comparing goes on without them)."""
    try:
        import dvc.api
        return dvc.api.params_show(repo=repo, rev=rev)
    except Exception:
        return None


def differing_params(runs: list[Run], most: int = 4, width: int = 88) -> dict[str, str]:
    """Per run, the params in which the runs with known params differ ("head=fc, train.lr=0.01"):
    at most ``most`` of them and ``width`` characters (the table fits a 120-column terminal),
    then how many more."""
    known = {r.name: flatten(r.params) for r in runs if r.params}
    if len(known) < 2:
        return {}
    keys = sorted({k for flat in known.values() for k in flat})
    differ = [k for k in keys if len({repr(flat.get(k)) for flat in known.values()}) > 1]
    if not differ:
        return {}
    labels = {}
    for name, flat in known.items():
        items, shown = [f"{k}={flat.get(k)}" for k in differ], []
        for item in items[:most]:
            rest = len(items) - len(shown) - 1
            if shown and len(", ".join(shown + [item]) + (f", … ({rest} more)" if rest else "")) > width:
                break
            shown.append(item)
        hidden = len(items) - len(shown)
        labels[name] = ", ".join(shown) + (f", … ({hidden} more)" if hidden else "")
    return labels


def read_run(spec: str, path: str = PREDICTIONS, repo: str = ".") -> Run:
    """A run's predictions: ``spec`` is a CSV file, ``workspace``, a git revision or an
    experiment name."""
    if spec != "workspace" and Path(spec).is_file():
        text, name, params = Path(spec).read_text(encoding="utf-8"), spec, None
    elif spec == "workspace":
        if not (Path(repo) / path).is_file():
            raise CompareError(f"{path} does not exist in the workspace; run `dvc repro {_stage_writing(path)}`")
        text, name = (Path(repo) / path).read_text(encoding="utf-8"), "workspace"
        params = run_params(repo, None)
    else:
        text = revision_bytes(path, spec, repo, f"was its {_stage_writing(path)} stage run (and, for a "
                                                 f"teammate's run, `dvc pull`ed)?").decode("utf-8")
        name = spec
        params = run_params(repo, spec)
    frame = pd.read_csv(io.StringIO(text), dtype={"image": str, "panorama": str})
    classes = [c[2:] for c in frame.columns if c.startswith("p_")]
    missing = [c for c in classes if f"true_{c}" not in frame.columns or c not in frame.columns]
    if not classes or missing or "panorama" not in frame.columns:
        raise CompareError(f"{name}: not a pano360 test-predictions table with true labels (columns p_<class>, "
                           f"<class>, true_<class>); re-run its "
                           f"{_stage_writing(path)} stage with this pano360")
    return Run(name, frame.sort_values("image").reset_index(drop=True), classes, params)


def revision_bytes(path: str, spec: str, repo: str, missing_hint: str) -> bytes:
    """``path`` as a git revision or DVC experiment ``spec`` holds it (read through DVC), or a
    CompareError that says what ``spec`` is not; ``missing_hint`` ends the one for a file
    that revision lacks."""
    import dvc.api
    from dvc.exceptions import NotDvcRepoError, PathMissingError
    from dvc.scm import RevError, SCMError
    try:
        return dvc.api.read(path, repo=repo, rev=spec, mode="rb")
    except RevError:  # a subclass of SCMError: caught first
        raise CompareError(f"{spec!r} is neither a file, a git revision nor an experiment name "
                           f"(see `dvc exp ls`)") from None
    except (NotDvcRepoError, SCMError):
        raise CompareError(f"{spec!r} is not a file, and {Path(repo).resolve()} is not a DVC project to "
                           f"look it up in as a revision or experiment") from None
    except PathMissingError:
        raise CompareError(f"{spec}: {path} is not in that revision or not in the DVC cache; {missing_hint}") from None


def check_same_test_set(runs: list[Run]) -> None:
    first = runs[0]
    for run in runs[1:]:
        if run.classes != first.classes:
            raise CompareError(f"{first.name} predicts {first.classes}, {run.name} predicts {run.classes}: "
                               f"runs with other classes cannot be compared")
        a, b = set(first.frame["image"]), set(run.frame["image"])
        if a != b:
            raise CompareError(f"{first.name} and {run.name} were scored on different halves ({len(a - b)} only in "
                               f"the first, {len(b - a)} only in the second); compare runs of the same split")
        truth = [f"true_{c}" for c in first.classes]
        if not first.frame[truth].equals(run.frame[truth]):
            raise CompareError(f"{first.name} and {run.name} hold different true labels for the same halves; "
                               f"their labels were read differently")


def _arrays(run: Run):
    c = run.classes
    return {"targets": run.frame[[f"true_{x}" for x in c]].to_numpy(int),
            "probs": run.frame[[f"p_{x}" for x in c]].to_numpy(float),
            "decisions": run.frame[c].to_numpy(int).astype(bool)}


def compare(runs: list[Run], n_resamples: int = 1000, seed: int = 0, split: str = "test") -> dict:
    """Point estimates, intervals and paired differences of every run (``split``: which
    split's predictions they are, for the report)."""
    if len({r.name for r in runs}) != len(runs):
        raise CompareError("name every run once")
    check_same_test_set(runs)
    groups = runs[0].frame["panorama"].to_numpy()
    arrays = {r.name: _arrays(r) for r in runs}
    ones = np.ones((1, len(groups)))  # every row once: the point estimate
    point = {r.name: resampled_metrics(**arrays[r.name], groups=groups, weights=ones) for r in runs}
    scored = paired(arrays, groups, n_resamples, seed)
    result = {"runs": [r.name for r in runs], "split": split, "classes": runs[0].classes, "resamples": n_resamples,
              "test_halves": len(groups), "test_panoramas": int(np.unique(groups).size),
              "params_differ": differing_params(runs), "metrics": {}}
    for metric in DECISION_METRICS:
        per_run = {}
        for r in runs:
            low, high = interval(scored[r.name][metric])
            per_run[r.name] = {"value": float(point[r.name][metric][0]), "low": low, "high": high}
        best = max(per_run, key=lambda n: per_run[n]["value"])
        for name in per_run:
            d = difference(scored[best][metric], scored[name][metric])
            per_run[name]["vs_best"] = d
            per_run[name]["indistinguishable_from_best"] = name == best or d["low"] <= 0 <= d["high"]
        result["metrics"][metric] = per_run
    if len(runs) == 2:
        a, b = runs[0].name, runs[1].name
        result["difference"] = {m: {**difference(scored[a][m], scored[b][m]),
                                    "point": float(point[b][m][0] - point[a][m][0])} for m in DECISION_METRICS}
        result["class_AP"] = {}
        for k, cls in enumerate(runs[0].classes):
            d = difference(scored[a]["class_AP"][:, k], scored[b]["class_AP"][:, k])
            pa, pb = float(point[a]["class_AP"][0, k]), float(point[b]["class_AP"][0, k])
            result["class_AP"][cls] = {"a": pa, "b": pb, **d, "point": pb - pa}
    return result


def _fmt(x: float) -> str:
    return "  n/a " if x != x else f"{x:.4f}"


def _wins(d: dict) -> str:
    return f"{'tie':>6}" if d.get("ties") == 1.0 else f"{d['b_wins']:6.1%}"


def format_result(result: dict, per_class: bool = True) -> str:
    runs = result["runs"]
    split = result.get("split", "test")
    lines = [f"{split} set: {result['test_halves']} halves of {result['test_panoramas']} panoramas; "
             f"{result['resamples']} paired bootstrap resamples of panoramas, 95 % intervals"]
    if split == "val":
        lines += ["choosing on val: compare mAP (threshold-free); CF1/OF1 are at thresholds tuned on these very",
                  "halves, so optimistic. Report test once, for the run you choose."]
    if len(runs) == 2:
        a, b = runs
        differ = result.get("params_differ") or {}
        label = {n: _clip(f"{n} ({differ[n]}", LINE - 5) + ")" if n in differ else n for n in runs}
        lines += ["", f"A = {label[a]}", f"B = {label[b]}", "",
                  f"{'metric':<14}{'A':>8}{'B':>8}   {'B - A':>8}  {'95 % interval':<19}  B wins",
                  "-" * 68]
        for metric in DECISION_METRICS:
            m, d = result["metrics"][metric], result["difference"][metric]
            lines.append(f"{SHOWN[metric]:<14}{_fmt(m[a]['value']):>8}{_fmt(m[b]['value']):>8}   "
                         f"{d['point']:+8.4f}  [{d['low']:+.4f}, {d['high']:+.4f}]  {_wins(d)}")
        if per_class:
            lines += ["", f"{'class AP':<14}{'A':>8}{'B':>8}   {'B - A':>8}  {'95 % interval':<19}  B wins",
                      "-" * 68]
            for cls, d in result["class_AP"].items():
                if d["point"] == d["point"]:
                    lines.append(f"{cls[:14]:<14}{_fmt(d['a']):>8}{_fmt(d['b']):>8}   {d['point']:+8.4f}  "
                                 f"[{d['low']:+.4f}, {d['high']:+.4f}]  {_wins(d)}")
                else:
                    lines.append(f"{cls[:14]:<14}  no {split} positives")
        lines += ["", "B wins: share of resamples in which B scores higher (tie: the same score on every resample).",
                  f"An interval that holds 0: the {split} set cannot tell A and B apart."]
        return "\n".join(lines)
    width = max(10, *(len(r) for r in runs))
    header = (f"{'run':<{width}}" + "".join(f"  {SHOWN[m]:<25}" for m in DECISION_METRICS)).rstrip()
    lines += ["", header, "-" * (width + 27 * len(DECISION_METRICS) - 1)]
    for name in runs:
        cells = []
        for metric in DECISION_METRICS:
            m = result["metrics"][metric][name]
            mark = "*" if m["indistinguishable_from_best"] else " "
            cells.append(f"  {_fmt(m['value'])}{mark} [{_fmt(m['low'])}, {_fmt(m['high'])}]")
        lines.append((f"{name:<{width}}" + "".join(f"{c:<27}" for c in cells)).rstrip())
    lines += ["", "*: the best, or indistinguishable from it (the 95 % interval of the paired difference "
                  "holds 0)."]
    differ = result.get("params_differ") or {}
    if differ:
        lines += ["", "runs differ in params.yaml:"]
        lines += [_clip(f"  {name:<{width}}  {differ[name]}", LINE) for name in runs if name in differ]
    return "\n".join(lines)


# the widest line of the tables: a 120-column terminal
LINE = 120


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def experiment_names(repo: str = ".") -> list[str]:
    """Names of the experiments based on the current commit (what `dvc exp show` lists)."""
    from dvc.repo import Repo
    with Repo(repo) as r:
        listed = r.experiments.ls()
    names = [name for exps in listed.values() for name, _ in exps if name]
    if not names:
        raise CompareError("no experiments on this commit; run some with `dvc exp run` or the queue first")
    return sorted(names)

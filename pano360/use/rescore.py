"""`pano360 compare --rescore`: runs of different labelling rounds were tested on different
panoramas; each run's model and tuned thresholds score the workspace's **current** test split
instead, so the runs compare on the same panoramas, paired (:mod:`pano360.evaluation.compare`)."""
from __future__ import annotations

import tempfile
from pathlib import Path

from pano360.data.dataset import read_split
from pano360.evaluation.compare import CompareError, Run, revision_bytes, run_params
from pano360.evaluation.thresholds_file import ThresholdsFileError, read_thresholds_file
from pano360.model.backbone import CheckpointError
from pano360.use.inference import score_table, split_probabilities

# each run's model scores the workspace's current test split: the evaluate stage's inputs
TEST_SPLIT, PREPARED, PREPARED_SETTINGS = "data/processed/test.csv", "data/interim/prepared", \
    "data/interim/prepared.json"
MODEL, THRESHOLDS = "models/model.pt", "models/thresholds.json"


def _model_files(spec: str, repo: str, tmp: Path) -> tuple[Path, Path]:
    """The model and thresholds files of ``spec``: ``workspace``, a checkpoint file (its
    thresholds: ``thresholds.json`` beside it), or a git revision / experiment (read through
    DVC into ``tmp``)."""
    if spec == "workspace":
        return Path(repo) / MODEL, Path(repo) / THRESHOLDS
    if Path(spec).is_file():
        beside = Path(spec).with_name("thresholds.json")
        if not beside.is_file():
            raise CompareError(f"{spec}: no thresholds.json beside it (tune_thresholds' models/thresholds.json)")
        return Path(spec), beside
    out = tmp / spec.replace("/", "_")
    out.mkdir(parents=True, exist_ok=True)
    for name in (MODEL, THRESHOLDS):
        (out / Path(name).name).write_bytes(revision_bytes(
            name, spec, repo, "fetch it (`dvc fetch --all-commits`, or `dvc pull` with that revision checked out)"))
    return out / "model.pt", out / "thresholds.json"


def rescore_runs(specs: list[str], repo: str = ".", show_progress: bool = True) -> tuple[list[Run], list[str]]:
    """Each run's model (and its tuned thresholds) scoring the **current** test split, so runs
    trained on different rounds of data compare on one test set (paired). Runs whose models
    know different classes are compared on the classes all of them know; the notes say which
    were left out."""
    repo_path = Path(repo)
    if not (repo_path / TEST_SPLIT).is_file():
        raise CompareError(f"--rescore scores the workspace's test split, and {TEST_SPLIT} does not exist; "
                           f"run `dvc repro partition prepare_halves` first")
    frame, _ = read_split(repo_path / TEST_SPLIT)
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for spec in specs:
            model, thresholds_file = _model_files(spec, repo, Path(tmp))
            try:
                probs, targets, classes = split_probabilities(model, frame, repo_path / PREPARED,
                                                              repo_path / PREPARED_SETTINGS,
                                                              show_progress=show_progress, desc=spec)
                thresholds = read_thresholds_file(thresholds_file, classes)
            except (ValueError, CheckpointError, ThresholdsFileError) as exc:
                raise CompareError(f"{spec}: {exc}") from None
            table = score_table(frame[["image", "panorama"]], probs, thresholds, classes, targets)
            params = None if Path(spec).is_file() else run_params(repo, None if spec == "workspace" else spec)
            runs.append(Run(spec, table.sort_values("image").reset_index(drop=True), classes, params))
    common = [c for c in runs[0].classes if all(c in r.classes for r in runs)]
    notes = []
    for run in runs:
        extra = [c for c in run.classes if c not in common]
        if extra:
            notes.append(f"{run.name} also predicts {', '.join(extra)}: left out, the other run(s) do not know "
                         f"{'it' if len(extra) == 1 else 'them'}")
            keep = ["image", "panorama"] + [f"{p}{c}" for c in common for p in ("p_", "", "true_")]
            run.frame, run.classes = run.frame[[k for k in keep if k in run.frame.columns]], common
    if not common:
        raise CompareError("the runs' models share no class")
    return runs, notes

"""`pano360` command line: predict on new panoramas, export a trained model, compare runs."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .io import write_json
from .model import CheckpointError
from .naming import DEFAULT_PATTERN
from .predict import FORMATS, PredictError, check_output, collect_inputs, export_onnx, output_format, \
    panorama_table_path, predict_panoramas, write_table


def _predict(args) -> int:
    out = Path(args.out)
    try:  # everything that can be checked is checked before the model runs
        fmt = output_format(out, args.format)
        inputs = collect_inputs(args.panoramas)
        check_output(out)
        result = predict_panoramas(inputs, args.model, args.thresholds, batch_size=args.batch_size,
                                   name_pattern=args.name_pattern, show_progress=not args.quiet)
    except (PredictError, CheckpointError) as exc:
        print(f"pano360 predict: error: {exc}", file=sys.stderr)
        return 1
    for path, why in result.failed:
        print(f"pano360 predict: could not read {path}: {why}", file=sys.stderr)
    if result.halves.empty:
        print(f"pano360 predict: error: no panorama could be read; {out} was not written", file=sys.stderr)
        return 1
    write_table(result.halves, out, fmt)
    write_table(result.panoramas, panorama_table_path(out), fmt)
    print(f"pano360 predict: {len(result.panoramas)} panoramas ({len(result.halves)} halves) → {out} and "
          f"{panorama_table_path(out)}" + (f"; {len(result.failed)} failed" if result.failed else ""))
    return 2 if result.failed else 0


def _export(args) -> int:
    try:
        path = export_onnx(args.model, args.out or Path(args.model).with_suffix(".onnx"))
    except CheckpointError as exc:
        print(f"pano360 export: error: {exc}", file=sys.stderr)
        return 1
    print(f"pano360 export: wrote {path} (+ {path.with_suffix('.json')} with classes and preprocessing)")
    return 0


def _compare(args) -> int:
    from .compare import CompareError, compare, experiment_names, format_result, read_run
    try:
        specs = list(args.runs) + (experiment_names() if args.exps else [])
        if len(specs) < 2:
            raise CompareError("give two runs or more (files, revisions, experiment names, workspace) or --exps")
        runs = [read_run(spec, args.path) for spec in dict.fromkeys(specs)]
        result = compare(runs, n_resamples=args.resamples, seed=args.seed)
    except CompareError as exc:
        print(f"pano360 compare: error: {exc}", file=sys.stderr)
        return 1
    print(format_result(result, per_class=not args.no_classes))
    if args.json:
        write_json(args.json, result)
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="pano360", description=__doc__)
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("predict", help="classify the halves of new panoramas")
    p.add_argument("panoramas", nargs="+",
                   help="panorama files, folders (searched recursively), or @FILE: a text file listing paths")
    p.add_argument("--model", default="models/model.pt")
    p.add_argument("--thresholds", default="models/thresholds.json",
                   help="tuned thresholds (tune_thresholds stage); 'none' for 0.5")
    p.add_argument("--out", default="predictions.csv",
                   help="half-level table; the panorama table goes beside it as *_panoramas.*")
    p.add_argument("--format", choices=FORMATS, help="default: from --out's extension (.csv, .jsonl, .parquet)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--name-pattern", default=DEFAULT_PATTERN, help="half names, as split.name_pattern")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_predict)
    e = sub.add_parser("export", help="export a trained model for deployment")
    e.add_argument("--model", default="models/model.pt")
    e.add_argument("--format", choices=["onnx"], default="onnx")
    e.add_argument("--out", help="default: the model path with .onnx")
    e.set_defaults(func=_export)
    c = sub.add_parser("compare", help="paired bootstrap comparison of runs on the same test set")
    c.add_argument("runs", nargs="*", help="experiment names, git revisions, 'workspace' or predictions CSV files")
    c.add_argument("--exps", action="store_true", help="add every experiment of the current commit")
    c.add_argument("--path", default="data/predictions/test.csv", help="the predictions file inside each run")
    c.add_argument("--resamples", type=int, default=1000)
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--no-classes", action="store_true", help="two runs: skip the per-class AP table")
    c.add_argument("--json", help="also write the full result to this JSON file")
    c.set_defaults(func=_compare)
    args = ap.parse_args(argv)
    if getattr(args, "thresholds", None) == "none":
        args.thresholds = None
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())

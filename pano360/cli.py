"""`pano360` command line: predict on new panoramas (or write them as LabelBox pre-labels),
choose what to label next, compare runs. (The deployment bundle is the export stage's: `dvc repro export`.)"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pano360.io import write_json
from pano360.model.backbone import CheckpointError
from pano360.labels.prelabels import PrelabelError, prelabel_lines, read_data_row_ids, write_prelabels
from pano360.use.predict import FORMATS, PredictError, check_output, collect_inputs, output_format, \
    panorama_table_path, predict_panoramas, workspace_name_pattern, write_table


MODEL_HELP = "a checkpoint (default models/model.pt) or an exported bundle folder (models/bundle)"
THRESHOLDS_HELP = ("tuned thresholds; default: the bundle's own, or models/thresholds.json (the tune_thresholds "
                   "stage's) for a checkpoint; 'none' for 0.5")

PATTERN_HELP = ("half names, as split.name_pattern (default: the bundle's; for a checkpoint, params.yaml's "
                "split.name_pattern when run in the project, else {stem}_{side}{ext})")
ROOT = "data/raw/panoramas"
ROOT_HELP = ("a panorama file given by itself (or in an @list) below this folder gets its subfolders there as "
             "{folder} in the half names, as split_images names it (default: %(default)s); a folder given "
             "names its own subfolders")


def _predict(args) -> int:
    out = Path(args.out)
    try:  # everything that can be checked is checked before the model runs
        fmt = output_format(out, args.format)
        inputs = collect_inputs(args.panoramas, args.panorama_root)
        check_output(out)
        ids = read_data_row_ids(args.data_rows) if args.data_rows else None
        result = predict_panoramas(inputs, args.model, args.thresholds, batch_size=args.batch_size,
                                   name_pattern=args.name_pattern, show_progress=not args.quiet)
    except (PredictError, PrelabelError, CheckpointError) as exc:
        print(f"pano360 predict: error: {exc}", file=sys.stderr)
        return 1
    for path, why in result.failed:
        print(f"pano360 predict: could not read {path}: {why}", file=sys.stderr)
    if result.halves.empty:
        print(f"pano360 predict: error: no panorama could be read; {out} was not written", file=sys.stderr)
        return 1
    if fmt == "labelbox":
        try:
            lines = prelabel_lines(result.halves, result.classes, result.label_schema, args.labelbox_style,
                                   args.labelbox_question, ids)
        except PrelabelError as exc:
            print(f"pano360 predict: error: {exc}", file=sys.stderr)
            return 1
        write_prelabels(lines, out)
        print(f"pano360 predict: {len(lines)} LabelBox pre-label annotations for {len(result.halves)} halves of "
              f"{len(result.panoramas)} panoramas → {out}" + (f"; {len(result.failed)} failed" if result.failed else ""))
        return 2 if result.failed else 0
    write_table(result.halves, out, fmt)
    write_table(result.panoramas, panorama_table_path(out), fmt)
    print(f"pano360 predict: {len(result.panoramas)} panoramas ({len(result.halves)} halves) → {out} and "
          f"{panorama_table_path(out)}" + (f"; {len(result.failed)} failed" if result.failed else ""))
    return 2 if result.failed else 0


def _select(args) -> int:
    from pano360.labels.records import LabelError
    from pano360.labels.table import labelled_images
    from pano360.data.naming import NamingError, panorama_id, parse_half_name
    from pano360.labels.select import SelectError, rank, write_selection
    out = Path(args.out)
    try:
        inputs = collect_inputs(args.panoramas, args.panorama_root)
        if args.labels:
            pattern = args.name_pattern or workspace_name_pattern()
            done = set()
            for image in labelled_images(args.labels):
                try:
                    done.add(parse_half_name(image, pattern)[0])
                except NamingError:
                    pass  # not one of our halves
            labelled = [panorama_id(p.path.stem, p.folder, pattern) in done for p in inputs]
            skipped = [p for p, seen in zip(inputs, labelled) if seen]
            inputs = [p for p, seen in zip(inputs, labelled) if not seen]
            print(f"pano360 select: {len(skipped)} panorama(s) already labelled in {args.labels}, left out",
                  file=sys.stderr)
            if not inputs:
                raise SelectError("every panorama given is already labelled")
        if args.budget > len(inputs):
            raise SelectError(f"--budget {args.budget} is more than the {len(inputs)} unlabelled panoramas given; "
                              f"lower --budget or give more panoramas")
        check_output(out)
        result = predict_panoramas(inputs, args.model, args.thresholds, batch_size=args.batch_size,
                                   name_pattern=args.name_pattern, show_progress=not args.quiet)
        if result.halves.empty:
            raise SelectError("no panorama could be read")
        picks = rank(result.halves, result.classes, result.thresholds, args.budget, args.strategy, args.seed)
    except (PredictError, CheckpointError, SelectError, LabelError) as exc:
        print(f"pano360 select: error: {exc}", file=sys.stderr)
        return 1
    for path, why in result.failed:
        print(f"pano360 select: could not read {path}: {why}", file=sys.stderr)
    header = (f"pano360 select: {len(picks)} of {len(result.panoramas)} unlabelled panoramas, strategy "
              f"{args.strategy}, model {args.model}")
    write_selection(picks, out, header)
    print(f"{header} → {out} (and {out.with_suffix('.csv')})")
    for pick in picks.head(5).to_dict("records"):
        print(f"  {pick['rank']}. {pick['panorama']}: {pick['reason']}")
    if len(picks) > 5:
        print(f"  … {len(picks) - 5} more in {out}")
    return 2 if result.failed else 0


def _compare(args) -> int:
    from pano360.evaluation.compare import SPLIT_PREDICTIONS, CompareError, compare, experiment_names, \
        format_result, read_run
    from pano360.use.rescore import rescore_runs
    notes = []
    try:
        specs = list(dict.fromkeys(list(args.runs) + (experiment_names() if args.exps else [])))
        if len(specs) < 2:
            raise CompareError("give two runs or more (files, revisions, experiment names, workspace) or --exps")
        if args.rescore:
            if args.split != "test" or args.path:
                raise CompareError("--rescore scores the workspace's current test split; it takes no --split/--path")
            runs, notes = rescore_runs(specs, show_progress=not args.quiet)
        else:
            path = args.path or SPLIT_PREDICTIONS[args.split]
            runs = [read_run(spec, path) for spec in specs]
        result = compare(runs, n_resamples=args.resamples, seed=args.seed, split=args.split)
    except CompareError as exc:
        print(f"pano360 compare: error: {exc}", file=sys.stderr)
        return 1
    if args.rescore:
        print("each run's model rescored on the workspace's current test split (data/processed/test.csv)")
    for note in notes:
        print(f"note: {note}")
    print(format_result(result, per_class=not args.no_classes))
    if args.json:
        write_json(args.json, result)
    return 0


def _labelbox(args) -> int:
    from pano360.use import labelbox_sdk as lbx
    name = f"pano360 labelbox {args.action}"
    try:
        if args.action == "export":
            plan = lbx.export_plan(args.project, args.status, args.batch)
            out = Path(args.out)
            if args.dry_run:
                print(json.dumps({"call": "project.export", **plan, "out": str(out)}, indent=2))
                return 0
            record = lbx.run_export(lbx.connect(), plan, out, show_progress=not args.quiet)
            print(f"{name}: {record['rows']} data rows of project {args.project} → {out} "
                  f"(filters and params in {lbx.export_record_path(out)})")
            return 0
        if args.action == "upload":
            images = None
            if args.halves_list:
                images = [line.strip() for line in Path(args.halves_list).read_text(encoding="utf-8").splitlines()
                          if line.strip() and not line.startswith("#")]
            rows = lbx.upload_plan(args.manifest, args.halves, images)
            if args.dry_run:
                print(json.dumps({"call": "dataset.create_data_rows, then project.create_batch", "project_id": args.project,
                                  "dataset": args.dataset, "batch": args.batch_name, "priority": args.priority,
                                  "note": "rows whose global key LabelBox already holds are skipped when sent",
                                  "rows": rows}, indent=2))
                return 0
            if not args.project or not args.dataset:
                raise lbx.LabelboxError("give --project and --dataset")
            report = lbx.run_upload(lbx.connect(), args.project, args.dataset, args.batch_name, rows, args.priority)
            for error in report["errors"][:20]:
                print(f"{name}: LabelBox error: {json.dumps(error)}", file=sys.stderr)
            print(f"{name}: {report['rows']} halves: {report['already_in_labelbox']} already in LabelBox (skipped), "
                  f"{report['uploaded']} uploaded" + (f" into batch {args.batch_name!r}" if report["batch"] else ""))
            return 2 if report["errors"] else 0
        predictions = lbx.read_predictions(args.file)
        job_name = args.name or f"pano360 {Path(args.file).name} {len(predictions)}"
        if args.dry_run:
            print(json.dumps({"call": "MALPredictionImport.create_from_objects", "project_id": args.project,
                              "name": job_name, "predictions": predictions}, indent=2))
            return 0
        if not args.project:
            raise lbx.LabelboxError("give --project: the LabelBox project id")
        report = lbx.run_prelabel(lbx.connect(), args.project, job_name, predictions)
        for error in report["errors"][:20]:
            print(f"{name}: LabelBox error: {json.dumps(error)}", file=sys.stderr)
        if len(report["errors"]) > 20:
            print(f"{name}: … {len(report['errors']) - 20} more errors", file=sys.stderr)
        print(f"{name}: import {job_name!r}: {report['sent']} pre-labels sent, {report['succeeded']} accepted, "
              f"{len(report['errors'])} errors")
        return 2 if report["errors"] else 0
    except (lbx.LabelboxError, OSError) as exc:
        print(f"{name}: error: {exc}", file=sys.stderr)
        return 1


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="pano360", description=__doc__)
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("predict", help="classify the halves of new panoramas")
    p.add_argument("panoramas", nargs="+",
                   help="panorama files, folders (searched recursively), or @FILE: a text file listing paths")
    p.add_argument("--model", default="models/model.pt", help=MODEL_HELP)
    p.add_argument("--thresholds", help=THRESHOLDS_HELP)
    p.add_argument("--out", default="predictions.csv",
                   help="half-level table; the panorama table goes beside it as *_panoramas.*")
    p.add_argument("--format", choices=FORMATS,
                   help="default: from --out's extension (.csv, .jsonl, .parquet; .ndjson = labelbox)")
    p.add_argument("--labelbox-style", choices=["checklist", "radio"], default="checklist",
                   help="labelbox: one global checklist question, or one yes/no radio question per class")
    p.add_argument("--labelbox-question", help="labelbox: the checklist question's name (default: the one the "
                                               "training labels were read from)")
    p.add_argument("--data-rows", help="labelbox: an export of the dataset, to address data rows by id "
                                       "instead of by global key (= the half's file name)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--name-pattern", help=PATTERN_HELP)
    p.add_argument("--panorama-root", default=ROOT, help=ROOT_HELP)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_predict)
    s = sub.add_parser("select", help="choose the unlabelled panoramas to label next")
    s.add_argument("panoramas", nargs="+", help="unlabelled panoramas: files, folders, or @FILE lists")
    s.add_argument("--budget", type=int, required=True, help="how many panoramas to pick")
    s.add_argument("--out", default="next.txt", help="the picks, one path per line with the reason above it "
                                                     "(usable as @FILE); a .csv beside it")
    s.add_argument("--strategy", choices=["random", "uncertainty", "uncertainty+diversity"],
                   default="uncertainty+diversity")
    s.add_argument("--labels", help="an export or CSV: panoramas already labelled there are left out")
    s.add_argument("--model", default="models/model.pt", help=MODEL_HELP)
    s.add_argument("--thresholds", help=THRESHOLDS_HELP)
    s.add_argument("--seed", type=int, default=0, help="for --strategy random")
    s.add_argument("--batch-size", type=int, default=32)
    s.add_argument("--name-pattern", help=PATTERN_HELP)
    s.add_argument("--panorama-root", default=ROOT, help=ROOT_HELP)
    s.add_argument("--quiet", action="store_true")
    s.set_defaults(func=_select)
    c = sub.add_parser("compare", help="paired bootstrap comparison of runs on the same test (or val) set")
    c.add_argument("runs", nargs="*", help="experiment names, git revisions, 'workspace' or predictions CSV files")
    c.add_argument("--exps", action="store_true", help="add every experiment of the current commit")
    c.add_argument("--split", choices=["test", "val"], default="test",
                   help="val: choose among experiments on their validation predictions (tune_thresholds' "
                        "data/predictions/val.csv), keeping test for the chosen run")
    c.add_argument("--path", help="the predictions file inside each run (default: data/predictions/SPLIT.csv)")
    c.add_argument("--rescore", action="store_true",
                   help="score each run's model (revisions, experiments, workspace or model.pt files) on the "
                        "workspace's current test split: runs of earlier labelling rounds, tested on other "
                        "panoramas, then compare on the same ones")
    c.add_argument("--quiet", action="store_true", help="--rescore: no progress bars")
    c.add_argument("--resamples", type=int, default=1000)
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--no-classes", action="store_true", help="two runs: skip the per-class AP table")
    c.add_argument("--json", help="also write the full result to this JSON file")
    c.set_defaults(func=_compare)
    lb = sub.add_parser("labelbox", help="LabelBox through its SDK: export labels, upload halves, import pre-labels "
                                         "(API key from the environment, LABELBOX_API_KEY)")
    lb_sub = lb.add_subparsers(dest="action", required=True)
    e = lb_sub.add_parser("export", help="a project's labels → the export file load_labels reads")
    e.add_argument("--project", required=True, help="the LabelBox project id")
    e.add_argument("--status", help="only data rows in this workflow status: ToLabel, InReview, InRework or Done")
    e.add_argument("--batch", action="append", help="only data rows of this batch id (repeat for several)")
    e.add_argument("--out", default="data/raw/labels.ndjson", help="default: %(default)s (then `dvc add data/raw`)")
    u = lb_sub.add_parser("upload", help="halves as data rows (global key = half name) into a dataset and a new "
                                         "batch of the project, skipping those LabelBox already has")
    u.add_argument("--project", help="the LabelBox project id")
    u.add_argument("--dataset", help="a dataset id, or a name (created when no dataset has it)")
    u.add_argument("--batch-name", default=None, help="the new batch's name (default: pano360 + today's date)")
    u.add_argument("--priority", type=int, default=5, choices=range(1, 6), help="1 highest … 5 lowest")
    u.add_argument("--manifest", default="data/interim/halves.csv", help="split_images' manifest (%(default)s)")
    u.add_argument("--halves", default="data/interim/halves", help="the half images (%(default)s)")
    u.add_argument("--halves-list", help="a text file of half names to upload (one per line); default: all")
    m = lb_sub.add_parser("prelabel", help="`pano360 predict --format labelbox` pre-labels as a model-assisted "
                                           "import; waits and lists LabelBox's errors")
    m.add_argument("file", help="the NDJSON pre-labels")
    m.add_argument("--project", help="the LabelBox project id")
    m.add_argument("--name", help="the import's name (unique per project; default: from the file)")
    for parser in (e, u, m):
        parser.add_argument("--dry-run", action="store_true", help="print exactly what would be sent, send nothing")
        parser.add_argument("--quiet", action="store_true", help="no progress bar")
    lb.set_defaults(func=_labelbox)
    return ap


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "action", None) == "upload" and args.batch_name is None:
        from datetime import date
        args.batch_name = f"pano360 {date.today().isoformat()}"
    if hasattr(args, "thresholds"):
        args.thresholds = {None: "default", "none": None}.get(args.thresholds, args.thresholds)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())

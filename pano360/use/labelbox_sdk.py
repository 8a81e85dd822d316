"""LabelBox through its own Python SDK (the ``labelbox`` package): a project's export streamed
to the file load_labels reads, new halves uploaded as data rows into a dataset and a batch of
the project, and ``pano360 predict --format labelbox`` pre-labels imported as a model-assisted
(MAL) import. The API key comes from ``LABELBOX_API_KEY`` in the environment only.

Each step is split in two: a *plan* (what would be sent: export filters and params, data rows,
predictions), built and checked offline with the SDK's own validators, which ``--dry-run``
prints; and a *send* that hands the plan to the SDK's calls and reads back what LabelBox says.
Why the SDK and not HTTP by hand: model-assisted imports exist only through it, and it owns the
export stream, the upload of local files and the polling of tasks.
"""
from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from pano360.errors import Pano360Error
from pano360.io import atomic_path, write_json
from pano360.progress import progress

API_KEY_ENV = "LABELBOX_API_KEY"
# the SDK's names for the workflow-status filter (exports spell them DONE, IN_REVIEW, ...)
WORKFLOW_STATUSES = ("ToLabel", "InReview", "InRework", "Done")
# what load_labels uses from an export: label timestamps (label_choice), workflow status
# (labels.statuses), data row details; nothing heavier
EXPORT_PARAMS = {"attachments": False, "embeddings": False, "metadata_fields": False,
                 "data_row_details": True, "project_details": True, "label_details": True,
                 "performance_details": True, "interpolated_frames": False}
_SHOWN = 20


class LabelboxError(Pano360Error, RuntimeError):
    pass


def sdk():
    try:
        import labelbox
    except ImportError:
        raise LabelboxError("the labelbox package is not installed; `pip install -r requirements.txt` "
                            "installs the version pano360 is tested with") from None
    return labelbox


def connect():
    """A LabelBox client for the key in ``LABELBOX_API_KEY``."""
    key = os.environ.get(API_KEY_ENV, "").strip()
    if not key:
        raise LabelboxError(f"set {API_KEY_ENV} in the environment to a LabelBox API key (LabelBox → "
                            "Workspace settings → API keys); pano360 never reads it from params.yaml or git")
    return sdk().Client(api_key=key)


# ---------------------------------------------------------------- export

def export_plan(project_id: str, status: str | None = None, batch_ids: list[str] | None = None) -> dict:
    """The export's filters and params, checked with the SDK's own filter builder."""
    if not project_id:
        raise LabelboxError("give --project: the LabelBox project id (in the project's URL)")
    filters: dict = {}
    if status:
        wanted = {s.casefold().replace("_", ""): s for s in WORKFLOW_STATUSES}
        if status.casefold().replace("_", "") not in wanted:
            raise LabelboxError(f"--status {status!r} is not a workflow status; one of {', '.join(WORKFLOW_STATUSES)}")
        filters["workflow_status"] = wanted[status.casefold().replace("_", "")]
    if batch_ids:
        filters["batch_ids"] = list(batch_ids)
    from labelbox.schema.export_filters import build_filters
    try:
        build_filters(None, filters)   # no client needed without date filters: a pure check
    except ValueError as exc:
        raise LabelboxError(f"LabelBox refuses these export filters: {exc}") from None
    return {"project_id": project_id, "filters": filters, "params": dict(EXPORT_PARAMS)}


def run_export(client, plan: dict, out: Path, show_progress: bool = True) -> dict:
    """Export the project, stream its rows to ``out`` (written whole, then moved into place) and
    record the export's params beside it (``<out stem>.export.json``)."""
    lb = sdk()
    project = client.get_project(plan["project_id"])
    task = project.export(params=plan["params"], filters=plan["filters"] or None)
    task.wait_till_done()
    if task.has_errors():
        errors = [item.json for item in task.get_buffered_stream(stream_type=lb.StreamType.ERRORS)]
        raise LabelboxError(f"the export of project {plan['project_id']} failed: "
                            + "; ".join(json.dumps(e) for e in errors[:5]))
    total = task.get_total_lines(stream_type=lb.StreamType.RESULT) if task.has_result() else 0
    rows = 0
    bar = progress(total=total or None, desc="export", unit="row", disable=not show_progress)
    with atomic_path(out) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        if task.has_result():
            for item in task.get_buffered_stream(stream_type=lb.StreamType.RESULT):
                fh.write(json.dumps(item.json) + "\n")
                rows += 1
                bar.update()
    bar.close()
    record = {**plan, "rows": rows, "task_id": getattr(task, "uid", None),
              "exported_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "sdk": f"labelbox {lb.__version__}"}
    write_json(export_record_path(out), record)
    return record


def export_record_path(out: Path) -> Path:
    return out.with_name(out.name.split(".")[0] + ".export.json")


# ---------------------------------------------------------------- upload

def upload_plan(manifest, halves_dir, images: list[str] | None = None) -> list[dict]:
    """One data row per half (``row_data``: the local file, uploaded by the SDK; ``global_key``:
    the half's name, which exports and pre-labels refer to). ``images``: only these halves."""
    table = pd.read_csv(manifest, dtype={"image": str})
    names = list(table["image"])
    if images is not None:
        unknown = sorted(set(images) - set(names))
        if unknown:
            raise LabelboxError(f"{len(unknown)} half name(s) are not in {manifest}: {', '.join(unknown[:_SHOWN])}")
        names = [n for n in names if n in set(images)]
    rows, missing = [], []
    for name in names:
        path = Path(halves_dir) / name
        if not path.is_file():
            missing.append(str(path))
        rows.append({"row_data": str(path), "global_key": name, "external_id": name})
    if missing:
        raise LabelboxError(f"{len(missing)} half image(s) in {manifest} are missing on disk "
                            f"({', '.join(missing[:_SHOWN])}); run `dvc repro split_images` (or `dvc pull`)")
    if not rows:
        raise LabelboxError("no halves to upload")
    from labelbox.schema.internal.data_row_upsert_item import DataRowCreateItem
    DataRowCreateItem.build("dry-run", [dict(r) for r in rows[:1]])   # the SDK's own check of the shape
    return rows


def existing_keys(client, keys: list[str], chunk: int = 2000) -> set[str]:
    """The global keys that already name a data row in the organisation."""
    found = set()
    for start in range(0, len(keys), chunk):
        part = keys[start:start + chunk]
        result = client.get_data_row_ids_for_global_keys(part)
        found |= {k for k, i in zip(part, result.get("results", [])) if i}
    return found


def looks_like_id(text: str) -> bool:
    """LabelBox ids are 25-character cuids (``c`` + lower-case letters and digits)."""
    return len(text) == 25 and text[0] == "c" and text.isalnum() and text.islower()


def find_dataset(client, name_or_id: str):
    """``(dataset, created)``: the dataset with this id, else the one with this name, else a
    new one with this name."""
    if looks_like_id(name_or_id):
        return client.get_dataset(name_or_id), False
    matches = list(client.get_datasets(where=sdk().Dataset.name == name_or_id))
    if len(matches) > 1:
        raise LabelboxError(f"{len(matches)} datasets are named {name_or_id!r}; give the dataset's id instead")
    if matches:
        return matches[0], False
    return client.create_dataset(name=name_or_id), True


def run_upload(client, project_id: str, dataset: str, batch: str, rows: list[dict], priority: int = 5) -> dict:
    """Upload the rows LabelBox does not have yet into ``dataset`` and put them in a new batch
    ``batch`` of the project. Returns counts and any errors LabelBox reported."""
    keys = [r["global_key"] for r in rows]
    there = existing_keys(client, keys)
    new = [r for r in rows if r["global_key"] not in there]
    report = {"rows": len(rows), "already_in_labelbox": len(there), "uploaded": 0, "batch": None, "errors": []}
    if not new:
        return report
    target, created = find_dataset(client, dataset)
    task = target.create_data_rows(new)
    task.wait_till_done()
    report["errors"] = list(task.errors or [])
    # what LabelBox now holds is the answer, whatever shape its error list has
    landed = existing_keys(client, [r["global_key"] for r in new])
    done = [r["global_key"] for r in new if r["global_key"] in landed]
    report.update(uploaded=len(done), dataset=getattr(target, "uid", dataset), dataset_created=created)
    if done:
        made = client.get_project(project_id).create_batch(batch, global_keys=done, priority=priority)
        report["batch"] = {"name": batch, "id": getattr(made, "uid", None), "rows": len(done)}
    return report


# ---------------------------------------------------------------- pre-labels

def read_predictions(path) -> list[dict]:
    """The NDJSON pre-labels ``pano360 predict --format labelbox`` wrote, checked as the SDK's
    model-assisted import checks them (a data row each, by global key or id)."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise LabelboxError(f"{path} does not exist; write it with `pano360 predict ... --out {path}`") from None
    predictions = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except ValueError as exc:
            raise LabelboxError(f"{path} line {number} is not JSON ({exc})") from None
        if not isinstance(item, dict) or not isinstance(item.get("dataRow"), dict):
            raise LabelboxError(f"{path} line {number} has no dataRow; is it a pre-label file from pano360 predict?")
        predictions.append(item)
    if not predictions:
        raise LabelboxError(f"{path} holds no pre-labels")
    from labelbox.schema.annotation_import import MALPredictionImport
    try:
        MALPredictionImport._get_ndjson_from_objects(predictions, "annotations")
    except (ValueError, TypeError) as exc:
        raise LabelboxError(f"LabelBox's SDK refuses {path}: {exc}") from None
    return predictions


def run_prelabel(client, project_id: str, name: str, predictions: list[dict]) -> dict:
    """Import the pre-labels as a model-assisted import, wait for it, and read its statuses."""
    lb = sdk()
    job = lb.MALPredictionImport.create_from_objects(client=client, project_id=project_id, name=name,
                                                     predictions=predictions)
    job.wait_until_done()
    errors = list(job.errors or [])
    statuses = list(job.statuses or [])
    return {"name": name, "sent": len(predictions), "errors": errors,
            "succeeded": sum(1 for s in statuses if str(s.get("status", "")).upper() == "SUCCESS")}

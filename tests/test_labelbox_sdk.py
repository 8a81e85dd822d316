"""`pano360 labelbox export|upload`: everything up to the LabelBox SDK's calls, checked with the
SDK's own objects and validators; the calls themselves are recorded (no LabelBox server)."""
import json
from types import SimpleNamespace

import pandas as pd
import pytest
from labelbox.schema.export_task import BufferedJsonConverterOutput
from labelbox.schema.internal.data_row_upsert_item import DataRowCreateItem

from pano360.cli import main
from pano360.data.demo import generate
from pano360.data.panorama import split_folder
from pano360.labels.table import load_labels
from pano360.use import labelbox_sdk as lbx


class Recorder:
    """Stands in for an SDK object: records each call, answers from ``answers``."""

    def __init__(self, uid=None, props=None, **answers):
        self.calls, self.answers, self.uid = [], answers, uid
        self.__dict__.update(props or {})     # the SDK's properties (task.errors, ...)

    def __getattr__(self, name):
        def call(*args, **kwargs):
            self.calls.append((name, args, kwargs))
            answer = self.answers.get(name)
            return answer(*args, **kwargs) if callable(answer) else answer
        return call


@pytest.fixture(scope="module")
def demo_export(tmp_path_factory):
    root = tmp_path_factory.mktemp("lb")
    generate(root / "raw", count=4, width=128, seed=4)
    report = split_folder(root / "raw/panoramas", root / "halves", workers=1, show_progress=False)
    pd.DataFrame(report["manifest"]).to_csv(root / "halves.csv", index=False)
    return root


def export_task(lines):
    items = [BufferedJsonConverterOutput(json=json.loads(line)) for line in lines]
    return Recorder(uid="cltask0000000000000000001", wait_till_done=None, has_errors=False, has_result=True, get_total_lines=len(items),
                    get_buffered_stream=lambda **kw: iter(items))


def test_export_streams_the_project_to_the_file_load_labels_reads(demo_export, tmp_path):
    lines = (demo_export / "raw/labels.ndjson").read_text().splitlines()
    pid = next(iter(json.loads(lines[0])["projects"]))
    task = export_task(lines)
    project = Recorder(export=task)
    client = Recorder(get_project=project)
    plan = lbx.export_plan(pid, status="done", batch_ids=["clbatch000000000000000001"])
    out = tmp_path / "raw/labels.ndjson"
    record = lbx.run_export(client, plan, out, show_progress=False)
    assert client.calls[0] == ("get_project", (pid,), {})
    (name, _, kwargs), = project.calls
    assert name == "export" and kwargs["filters"] == {"workflow_status": "Done",
                                                       "batch_ids": ["clbatch000000000000000001"]}
    assert kwargs["params"]["label_details"] and kwargs["params"]["project_details"]
    assert out.read_text().splitlines() == [json.dumps(json.loads(line)) for line in lines]
    assert record["rows"] == len(lines)
    saved = json.loads((tmp_path / "raw/labels.export.json").read_text())
    assert saved["filters"] == plan["filters"] and saved["project_id"] == pid and "exported_at" in saved
    table = load_labels(out)          # what the pipeline reads next
    assert len(table.frame) == 8


def test_export_filters_are_the_sdks_and_mistakes_are_named(capsys):
    with pytest.raises(lbx.LabelboxError, match="not a workflow status"):
        lbx.export_plan("p", status="finished")
    with pytest.raises(lbx.LabelboxError, match="refuses these export filters: batch filter only supports a max of 2000"):
        lbx.export_plan("p", batch_ids=[f"b{i}" for i in range(5000)])
    assert main(["labelbox", "export", "--project", "clproj0000000000000000001", "--status", "InReview",
                 "--dry-run"]) == 0
    sent = json.loads(capsys.readouterr().out)
    assert sent["call"] == "project.export" and sent["filters"] == {"workflow_status": "InReview"}


def test_the_api_key_comes_from_the_environment_only(monkeypatch, capsys):
    monkeypatch.delenv("LABELBOX_API_KEY", raising=False)
    assert main(["labelbox", "export", "--project", "clproj0000000000000000001"]) == 1
    err = capsys.readouterr().err
    assert "set LABELBOX_API_KEY in the environment" in err and "Traceback" not in err
    monkeypatch.setenv("LABELBOX_API_KEY", "test-key")
    client = lbx.connect()                       # the SDK's own client; nothing is sent yet
    assert type(client).__module__.startswith("labelbox")


def test_upload_sends_new_halves_by_global_key_and_batches_them(demo_export):
    rows = lbx.upload_plan(demo_export / "halves.csv", demo_export / "halves")
    assert [r["global_key"] for r in rows] == sorted(pd.read_csv(demo_export / "halves.csv")["image"])
    specs = DataRowCreateItem.build("cldataset00000000000000001", [dict(r) for r in rows])   # the SDK accepts them
    assert len(specs) == len(rows)
    there = {rows[0]["global_key"], rows[1]["global_key"]}
    uploaded = set()

    def ids(keys):
        return {"status": "Success", "results": [("cl" + k) if k in there | uploaded else "" for k in keys],
                "errors": []}

    def create(new):
        uploaded.update(r["global_key"] for r in new)
        return Recorder(wait_till_done=None, props={"errors": None})
    dataset = Recorder(create_data_rows=create, uid="cldataset00000000000000001")
    project = Recorder(create_batch=SimpleNamespace(uid="clbatch000000000000000001"))
    client = Recorder(get_data_row_ids_for_global_keys=ids, get_datasets=[], create_dataset=dataset,
                      get_project=project)
    report = lbx.run_upload(client, "clproj0000000000000000001", "round 2 halves", "round 2", rows)
    assert report["already_in_labelbox"] == 2 and report["uploaded"] == len(rows) - 2
    assert ("create_dataset", (), {"name": "round 2 halves"}) in client.calls
    (name, args, kwargs), = project.calls
    assert name == "create_batch" and args == ("round 2",)
    assert kwargs["global_keys"] == [r["global_key"] for r in rows[2:]]
    # nothing new: nothing sent
    client2 = Recorder(get_data_row_ids_for_global_keys=lambda keys: {"results": ["x"] * len(keys)})
    assert lbx.run_upload(client2, "p", "d", "b", rows)["uploaded"] == 0
    assert [c[0] for c in client2.calls] == ["get_data_row_ids_for_global_keys"]


def test_upload_names_missing_halves_and_dry_run_prints_the_rows(demo_export, tmp_path, capsys):
    missing = tmp_path / "halves.csv"
    pd.DataFrame({"image": ["nowhere_left.jpg"]}).to_csv(missing, index=False)
    with pytest.raises(lbx.LabelboxError, match="missing on disk.*nowhere_left.jpg"):
        lbx.upload_plan(missing, demo_export / "halves")
    assert main(["labelbox", "upload", "--manifest", str(demo_export / "halves.csv"), "--halves",
                 str(demo_export / "halves"), "--project", "p", "--dataset", "d", "--dry-run"]) == 0
    sent = json.loads(capsys.readouterr().out)
    assert len(sent["rows"]) == 8 and sent["rows"][0]["row_data"].endswith(sent["rows"][0]["global_key"])

"""`pano360 predict --format labelbox`: pre-labels in LabelBox's annotation-import shape
(docs/labelbox-import.md), checked line by line against a JSON schema of that shape."""
import json

import jsonschema
import pandas as pd
import pytest

from pano360.cli import main
from pano360.labels.table import load_labels

OPTION = {"type": "object", "additionalProperties": False, "minProperties": 1, "maxProperties": 1,
          "properties": {"name": {"type": "string", "minLength": 1},
                         "schemaId": {"type": "string", "pattern": "^c[0-9a-z]{24}$"}}}
LINE = {
    "type": "object", "additionalProperties": False,
    "required": ["answer", "uuid", "dataRow"],
    "oneOf": [{"required": ["name"], "not": {"required": ["schemaId"]}},
              {"required": ["schemaId"], "not": {"required": ["name"]}}],
    "properties": {
        "name": {"type": "string", "minLength": 1},
        "schemaId": {"type": "string", "pattern": "^c[0-9a-z]{24}$"},
        "uuid": {"type": "string",
                 "pattern": "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"},
        "dataRow": {"type": "object", "additionalProperties": False, "minProperties": 1, "maxProperties": 1,
                    "properties": {"globalKey": {"type": "string", "minLength": 1, "maxLength": 200},
                                   "id": {"type": "string", "pattern": "^c[0-9a-z]{24}$"}}},
        "answer": {"oneOf": [{"type": "array", "minItems": 1, "items": OPTION}, OPTION]},
    },
}
CHECKLIST = {**LINE, "properties": {**LINE["properties"], "answer": {"type": "array", "minItems": 1, "items": OPTION}}}
RADIO = {**LINE, "properties": {**LINE["properties"], "answer": OPTION}}


@pytest.fixture
def demo(trained_demo_root):
    return trained_demo_root


def predict(root, out, *extra):
    return main(["predict", str(root / "raw/panoramas"), "--model", str(root / "model.pt"), "--thresholds",
                 str(root / "thresholds.json"), "--out", str(out), "--quiet", *extra])


def read(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_checklist_prelabels_have_the_import_shape_and_the_export_ids(demo, tmp_path):
    assert predict(demo, tmp_path / "pre.ndjson") == 0
    assert predict(demo, tmp_path / "pre.csv") == 0
    lines, table = read(tmp_path / "pre.ndjson"), pd.read_csv(tmp_path / "pre.csv")
    for line in lines:
        jsonschema.validate(line, CHECKLIST)
    export = [json.loads(line) for line in (demo / "raw/labels.ndjson").read_text().splitlines()]
    ids = {}
    for row in export:  # the ontology's schema ids, as the export holds them
        for label in next(iter(row["projects"].values()))["labels"]:
            for question in label["annotations"]["classifications"]:
                ids[question["name"]] = question["feature_schema_id"]
                ids.update({a["name"]: a["feature_schema_id"] for a in question["checklist_answers"]})
    classes = [c[2:] for c in table.columns if c.startswith("p_")]
    decided = {row["image"]: {c for c in classes if row[c]} for row in table.to_dict("records")}
    assert {line["dataRow"]["globalKey"] for line in lines} == {i for i, d in decided.items() if d}
    by_id = {v: k for k, v in ids.items()}
    for line in lines:
        assert line["schemaId"] == ids["objects present"]
        assert {by_id[a["schemaId"]] for a in line["answer"]} == decided[line["dataRow"]["globalKey"]]
    assert len({line["uuid"] for line in lines}) == len(lines)
    assert predict(demo, tmp_path / "again.ndjson") == 0   # same uuids: a re-import replaces
    assert [line["uuid"] for line in read(tmp_path / "again.ndjson")] == [line["uuid"] for line in lines]


def test_half_names_round_trip_through_labelbox(demo, tmp_path):
    """predict's global keys = the names split_images writes = what load_labels matches."""
    assert predict(demo, tmp_path / "pre.ndjson") == 0
    lines = read(tmp_path / "pre.ndjson")
    schema = json.loads((demo / "label_schema.json").read_text())["classes"]
    name_of = {entry["schema_id"]: cls for cls, entry in schema.items()}
    rows = []
    for line in lines:  # what a LabelBox export of the imported pre-labels looks like
        key = line["dataRow"]["globalKey"]
        answers = [{"name": name_of[a["schemaId"]], "value": name_of[a["schemaId"]],
                    "feature_schema_id": a["schemaId"]} for a in line["answer"]]
        rows.append({"data_row": {"id": f"dr-{key}", "global_key": key},
                     "projects": {"p1": {"name": "halves", "labels": [{
                         "id": f"l-{key}", "performance_details": {"skipped": False},
                         "label_details": {"created_at": "2024-05-01T10:00:00+00:00"},
                         "annotations": {"classifications": [{"name": "objects present", "value": "objects_present",
                                                              "checklist_answers": answers}]}}]}}})
    export = tmp_path / "reimported.ndjson"
    export.write_text("".join(json.dumps(r) + "\n" for r in rows))
    halves = sorted(p.name for p in (demo / "halves").iterdir())
    table = load_labels(export, halves=halves, missing_image="error")
    assert set(table.frame["image"]) == {line["dataRow"]["globalKey"] for line in lines}
    assert set(table.frame["image"]) <= set(halves)


def test_data_rows_by_id_from_an_export(demo, tmp_path, capsys):
    assert predict(demo, tmp_path / "pre.ndjson", "--data-rows", str(demo / "raw/labels.ndjson")) == 0
    export = {json.loads(line)["data_row"]["external_id"]: json.loads(line)["data_row"]["id"]
              for line in (demo / "raw/labels.ndjson").read_text().splitlines()}
    lines = read(tmp_path / "pre.ndjson")
    assert lines and all(line["dataRow"]["id"] in export.values() for line in lines)
    other = tmp_path / "other.ndjson"  # an export of another dataset: the halves are not in it
    other.write_text((demo / "raw/labels.ndjson").read_text().replace("pano_0001", "elsewhere"))
    assert predict(demo, tmp_path / "x.ndjson", "--data-rows", str(other)) == 1
    assert "is not a data row of the --data-rows export" in capsys.readouterr().err


def test_radio_variant_for_one_yes_no_question_per_class(demo, tmp_path):
    assert predict(demo, tmp_path / "radio.ndjson", "--labelbox-style", "radio") == 0
    assert predict(demo, tmp_path / "radio.csv") == 0
    lines, table = read(tmp_path / "radio.ndjson"), pd.read_csv(tmp_path / "radio.csv")
    classes = [c[2:] for c in table.columns if c.startswith("p_")]
    assert len(lines) == len(table) * len(classes)
    for line in lines:
        jsonschema.validate(line, RADIO)
    row = table.iloc[0]
    mine = {line["name"]: line["answer"]["name"] for line in lines if line["dataRow"]["globalKey"] == row["image"]}
    assert mine == {c: "yes" if row[c] else "no" for c in classes}


def test_classes_the_recorded_schema_does_not_know_are_refused(demo, tmp_path, capsys):
    import torch
    ckpt = torch.load(demo / "model.pt", weights_only=False)
    ckpt["labels"]["classes"].pop(ckpt["classes"][0])
    torch.save(ckpt, tmp_path / "model.pt")
    code = main(["predict", str(demo / "raw/panoramas/pano_0000.jpg"), "--model", str(tmp_path / "model.pt"),
                 "--thresholds", "none", "--out", str(tmp_path / "x.ndjson"), "--quiet"])
    assert code == 1 and f"['{ckpt['classes'][0]}'] are not in the label schema" in capsys.readouterr().err


def test_prelabels_go_to_labelbox_as_a_model_assisted_import(demo, tmp_path, monkeypatch, capsys):
    """Pre-labels stopped at a file: LabelBox takes them only through its SDK's MAL import."""
    import labelbox
    from pano360.use import labelbox_sdk as lbx
    assert predict(demo, tmp_path / "pre.ndjson") == 0
    predictions = lbx.read_predictions(tmp_path / "pre.ndjson")     # checked by the SDK's own validator
    assert predictions == read(tmp_path / "pre.ndjson")
    sent = {}

    class Job:
        errors = [{"uuid": predictions[0]["uuid"], "dataRow": predictions[0]["dataRow"],
                   "status": "FAILURE", "errors": [{"name": "DataRowNotFound", "message": "no such data row"}]}]
        statuses = [{"uuid": p["uuid"], "status": "SUCCESS"} for p in predictions[1:]] + errors

        def wait_until_done(self):
            sent["waited"] = True

    def create_from_objects(**kwargs):
        sent.update(kwargs)
        return Job()
    monkeypatch.setattr(labelbox.MALPredictionImport, "create_from_objects", create_from_objects)
    monkeypatch.setenv("LABELBOX_API_KEY", "test-key")
    capsys.readouterr()
    assert main(["labelbox", "prelabel", str(tmp_path / "pre.ndjson"), "--project", "clproj0000000000000000001",
                 "--name", "round 2"]) == 2
    out, err = capsys.readouterr()
    assert sent["predictions"] == predictions and sent["project_id"] == "clproj0000000000000000001"
    assert sent["name"] == "round 2" and sent["waited"] and isinstance(sent["client"], labelbox.Client)
    assert f"{len(predictions)} pre-labels sent, {len(predictions) - 1} accepted, 1 errors" in out
    assert "DataRowNotFound" in err
    # --dry-run: exactly the predictions, nothing sent
    sent.clear()
    assert main(["labelbox", "prelabel", str(tmp_path / "pre.ndjson"), "--dry-run"]) == 0
    assert json.loads(capsys.readouterr().out)["predictions"] == predictions and not sent


def test_a_broken_prelabel_file_is_named_by_line(tmp_path):
    from pano360.use import labelbox_sdk as lbx
    good = {"name": "objects present", "answer": [{"name": "tree"}], "uuid": "0" * 8 + "-0000-4000-8000-" + "0" * 12,
            "dataRow": {"globalKey": "p_left.jpg"}}
    (tmp_path / "a.ndjson").write_text(json.dumps(good) + "\n{oops\n")
    with pytest.raises(lbx.LabelboxError, match="a.ndjson line 2 is not JSON"):
        lbx.read_predictions(tmp_path / "a.ndjson")
    both = {**good, "dataRow": {"globalKey": "p_left.jpg", "id": "cl0000000000000000000000a"}}
    (tmp_path / "b.ndjson").write_text(json.dumps(both) + "\n")
    with pytest.raises(lbx.LabelboxError, match="SDK refuses"):
        lbx.read_predictions(tmp_path / "b.ndjson")

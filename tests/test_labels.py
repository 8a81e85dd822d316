"""Tests for pano360.labels.table: LabelBox v2/v1 exports and label CSVs → half × class table.

Fixtures are built as real-shaped export rows (LabelBox Export v2/v1 as documented) by the helpers
below; each test changes only what it is about.
"""
from __future__ import annotations

import json
import random

import numpy as np
import pandas as pd
import pytest

from pano360.labels.records import DROP_REASONS, LabelError, LabelTable, detect_format
from pano360.labels.table import load_labels
from pano360.data.naming import NamingError

PID = "clt08pr0j0000abcdp0r0j0e1"
PID2 = "clt08pr0j0000abcdp0r0j0e2"
QUESTION = "objects present"
T0 = "2024-03-05T11:50:00.000+00:00"


# ---------------------------------------------------------------- builders

def answer(name, value=None, nested=()):
    return {"feature_id": f"f-{name}", "feature_schema_id": f"s-{name}", "name": name,
            "value": name if value is None else value, "classifications": list(nested)}


def _as_answer(a):
    return a if isinstance(a, dict) else answer(a)


def checklist(question, *answers, value=None):
    return {"feature_id": f"f-{question}", "feature_schema_id": f"s-{question}", "name": question,
            "value": value or question.replace(" ", "_"),
            "checklist_answers": [_as_answer(a) for a in answers]}


def radio(question, ans, value=None):
    return {"feature_id": f"f-{question}", "feature_schema_id": f"s-{question}", "name": question,
            "value": value or question.replace(" ", "_"), "radio_answer": _as_answer(ans)}


def text(question, content):
    return {"feature_id": f"f-{question}", "feature_schema_id": f"s-{question}", "name": question,
            "value": question, "text_answer": {"content": content}}


def box(name, value=None):
    return {"feature_id": f"f-{name}", "feature_schema_id": f"s-{name}", "name": name,
            "value": name if value is None else value, "annotation_kind": "ImageBoundingBox",
            "classifications": [], "bounding_box": {"top": 977.0, "left": 1690.0, "height": 330.0, "width": 225.0}}


def label(*classifications, id="clt0l4b3l0001abcdl4b3l0e1", created=T0, updated=None, skipped=False,
          objects=(), kind="Default", details=True, performance=True):
    """One v2 label; ``details``/``performance`` False leave those optional blocks out."""
    lab = {"label_kind": kind, "version": "1.0.0", "id": id,
           "annotations": {"objects": list(objects), "relationships": [],
                           "classifications": list(classifications)}}
    if details:
        lab["label_details"] = {"created_at": created, "updated_at": updated or created,
                                "created_by": "ana@example.org", "content_last_updated_at": created,
                                "reviews": []}
    if performance:
        lab["performance_details"] = {"seconds_to_create": 41.2, "seconds_to_review": 0.0, "skipped": skipped}
    return lab


def tick(*classes, **kw):
    """A label whose checklist question has ``classes`` ticked (none: nothing ticked)."""
    return label(*([checklist(QUESTION, *classes)] if classes else []), **kw)


def row(image="p0001_left.jpg", labels=None, *, project_id=PID, status="DONE", selected=None,
        external_id=True, global_key=True, row_data=None, mime="image/jpeg", projects=None,
        project_details=True):
    """One v2 data row; ``labels`` None means one label ticking "tree"."""
    data_row = {"id": f"dr-{image}", "row_data": row_data or f"https://storage.googleapis.com/acme-raw/halves/{image}",
                "details": {"dataset_id": "clt09zz000000abcdq1w2e3r4", "dataset_name": "halves",
                            "created_at": "2024-03-01T10:00:00.000+00:00",
                            "updated_at": "2024-03-01T10:00:00.000+00:00",
                            "last_activity_at": "2024-03-05T12:00:00.000+00:00", "created_by": "ops@example.org"}}
    if global_key:
        data_row["global_key"] = f"halves/{image}"
    if external_id:
        data_row["external_id"] = image
    if projects is None:
        project = {"name": "halves labelling", "labels": [tick("tree")] if labels is None else labels}
        if project_details:
            project["project_details"] = {"batch_id": "clt0b1", "batch_name": "batch-1", "workflow_status": status,
                                          "priority": 5, "consensus_expected_label_count": 1,
                                          "workflow_history": []}
            if selected is not None:
                project["project_details"]["selected_label_id"] = selected
        projects = {project_id: project}
    out = {"data_row": data_row, "attachments": [], "metadata_fields": [], "projects": projects}
    if mime is not None:
        out["media_attributes"] = {"height": 4096, "width": 4096, "mime_type": mime}
    return out


def write_v2(tmp_path, rows, name="export.ndjson"):
    path = tmp_path / name
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def v1_element(image="p0001_left.jpg", classes=("tree",), *, id="ckx1l0001", data_row_id=None,
               created="2022-05-02T10:11:12.000Z", content=None, skipped=False, external_id=True,
               global_key=None, **extra):
    """One v1 element (one label); ``content`` replaces the whole "Label" value."""
    if content is None:
        content = {"objects": [], "relationships": [], "classifications": [
            {"featureId": "ckx1f1", "schemaId": "ckx1s1", "title": QUESTION, "value": "objects_present",
             "answers": [{"featureId": f"f{c}", "schemaId": f"s{c}", "title": c, "value": c} for c in classes]}]}
    element = {"ID": id, "DataRow ID": data_row_id or f"dr-{image}",
               "Labeled Data": f"https://storage.labelbox.com/ckx1%2F1b2c3d4e-{image}?Expires=1&Signature=x",
               "Label": content, "Created By": "ana@example.org", "Project Name": "halves labelling",
               "Created At": created, "Updated At": created, "Seconds to Label": 21.4,
               "External ID": image if external_id else None, "Global Key": global_key,
               "Agreement": -1, "Benchmark Agreement": -1, "Benchmark ID": None, "Dataset Name": "halves",
               "Reviews": [], "View Label": "https://editor.labelbox.com?project=ckx1p&label=ckx1l0001",
               "Has Open Issues": 0, "Data Split": None, **extra}
    if skipped is not None:
        element["Skipped"] = skipped
    return element


def write_json(tmp_path, obj, name="export.json"):
    path = tmp_path / name
    path.write_text(json.dumps(obj, indent=2), encoding="utf-8")
    return path


def write_csv(tmp_path, content, name="labels.csv"):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    return path


def matrix(table: LabelTable) -> dict[str, list[int]]:
    """``{image: [0/1 per class]}`` — compact to assert on."""
    return {r["image"]: [int(r[c]) for c in table.classes] for r in table.frame.to_dict("records")}


# ---------------------------------------------------------------- 1. format detection

def test_detect_v2_ndjson_and_v2_json_array(tmp_path):
    rows = [row("p0001_left.jpg", [tick("tree", "car")]), row("p0001_right.jpg", [tick()])]
    ndjson = write_v2(tmp_path, rows)
    array = write_json(tmp_path, rows, "array.json")
    assert detect_format(ndjson) == "labelbox_v2"
    assert detect_format(array) == "labelbox_v2"
    a, b = load_labels(ndjson), load_labels(array)
    pd.testing.assert_frame_equal(a.frame, b.frame)
    assert b.report["format"] == "labelbox_v2"
    assert matrix(a) == {"p0001_left.jpg": [1, 1], "p0001_right.jpg": [0, 0]}


def test_detect_v1_and_csv(tmp_path):
    assert detect_format(write_json(tmp_path, [v1_element()])) == "labelbox_v1"
    # spreadsheet programs write a BOM and may order columns differently
    csv_path = write_csv(tmp_path, "\ufefflabels,image\ntree,p0001_left.jpg\n")
    assert detect_format(csv_path) == "csv"
    assert matrix(load_labels(csv_path)) == {"p0001_left.jpg": [1]}


@pytest.mark.parametrize("content, expected", [
    ("", "empty"),
    ("   \n\n", "empty"),
    ('{"foo": 1}\n', "line 1"),
    ('[{"foo": 1}]', "element [0]"),
    ("[]", "no data rows"),
    ("file,classes\na.jpg,tree\n", "image,labels"),
])
def test_detect_rejects_unknown_content(tmp_path, content, expected):
    path = write_csv(tmp_path, content, "mystery.txt")
    with pytest.raises(LabelError, match=r"mystery\.txt") as err:
        detect_format(path)
    assert expected in str(err.value)


def test_explicit_fmt_that_does_not_fit_the_file(tmp_path):
    ndjson = write_v2(tmp_path, [row()])
    with pytest.raises(LabelError, match=r"export\.ndjson: line 1: not a LabelBox v1 label"):
        load_labels(ndjson, format="labelbox_v1")
    with pytest.raises(LabelError, match=r"export\.ndjson: line 1: .*header 'image,labels'"):
        load_labels(ndjson, format="csv")
    v1 = write_json(tmp_path, [v1_element()])
    with pytest.raises(LabelError, match=r"export\.json: element \[0\]: not a LabelBox v2 data row"):
        load_labels(v1, format="labelbox_v2")
    assert load_labels(ndjson, format="labelbox_v2").report["format"] == "labelbox_v2"


# ---------------------------------------------------------------- 2. blank and malformed lines

def test_blank_lines_are_tolerated(tmp_path):
    path = tmp_path / "export.ndjson"
    lines = [json.dumps(row("p0001_left.jpg")), "", "   ", json.dumps(row("p0001_right.jpg")), "", ""]
    path.write_text("\r\n".join(lines), encoding="utf-8")
    table = load_labels(path)
    assert table.report["rows_in_file"] == 2
    assert list(table.frame["image"]) == ["p0001_left.jpg", "p0001_right.jpg"]


def test_bad_json_line_names_file_and_line(tmp_path):
    path = tmp_path / "export.ndjson"
    path.write_text(json.dumps(row("p0001_left.jpg")) + "\n\n" + '{"data_row": {"id": "x"\n', encoding="utf-8")
    with pytest.raises(LabelError, match=r"export\.ndjson: line 3: not valid JSON") as err:
        load_labels(path)
    assert "export the labels again" in str(err.value)


def test_json_line_without_data_row_is_named(tmp_path):
    path = write_v2(tmp_path, [row("p0001_left.jpg"), {"projects": {}}])
    with pytest.raises(LabelError, match=r"export\.ndjson: line 2: not a LabelBox v2 data row"):
        load_labels(path)


def test_malformed_structure_is_a_label_error_not_a_key_error(tmp_path):
    bad = row("p0001_left.jpg")
    bad["projects"][PID]["labels"] = ["not a label object"]
    path = write_v2(tmp_path, [row("p0001_right.jpg"), bad])
    with pytest.raises(LabelError, match=r"export\.ndjson: line 2: unexpected structure"):
        load_labels(path)


# ---------------------------------------------------------------- 3. image key and duplicates

def test_image_key_falls_back_external_id_then_global_key_then_row_data(tmp_path):
    rows = [
        row("p0001_left.jpg", row_data="https://x/raw/IMG_1.jpg"),                     # external_id wins
        row("p0001_right.jpg", external_id=False, row_data="https://x/raw/IMG_2.jpg"),  # global_key basename
        row("p0002_left.jpg", external_id=False, global_key=False,
            row_data="https://acme.s3.amazonaws.com/halves/p0002%20left.jpg?X-Amz-Signature=abc#frag"),
    ]
    table = load_labels(write_v2(tmp_path, rows), name_pattern="{stem}{side}{ext}")
    assert list(table.frame["image"]) == ["p0001_left.jpg", "p0001_right.jpg", "p0002 left.jpg"]


def test_image_key_missing_everywhere_is_an_error(tmp_path):
    nameless = row(external_id=False, global_key=False)
    nameless["data_row"]["row_data"] = ""
    with pytest.raises(LabelError, match=r"export\.ndjson: line 2: data row 'dr-p0001_left\.jpg' has no external_id"):
        load_labels(write_v2(tmp_path, [row("p0001_right.jpg"), nameless]))


def test_v1_image_key_uses_global_key_and_never_labeled_data(tmp_path):
    ok = v1_element("p0001_left.jpg", external_id=False, global_key="halves/p0001_left.jpg")
    assert list(load_labels(write_json(tmp_path, [ok])).frame["image"]) == ["p0001_left.jpg"]
    nameless = v1_element("p0001_right.jpg", external_id=False)
    with pytest.raises(LabelError, match=r"export\.json: element \[1\]: .*'External ID'.*'Labeled Data'") as err:
        load_labels(write_json(tmp_path, [ok, nameless]))
    assert "external id" in str(err.value)


def test_duplicate_images_with_two_usable_labels_are_an_error(tmp_path):
    first = row("p0001_left.jpg", [tick("tree")])
    second = row("p0001_left.jpg", [tick("car", id="clt0l4b3l0002", created="2024-03-06T08:00:00+00:00")])
    second["data_row"]["id"] = "dr-second-upload"
    path = write_v2(tmp_path, [first, row("p0001_right.jpg"), second])
    with pytest.raises(LabelError, match=r"export\.ndjson: .*p0001_left\.jpg \(line 1; line 3\)") as err:
        load_labels(path)
    assert "labels.duplicates: latest" in str(err.value)


def test_duplicate_images_resolved_by_latest(tmp_path):
    first = row("p0001_left.jpg", [tick("tree")])
    second = row("p0001_left.jpg", [tick("car", id="clt0l4b3l0002", created="2024-03-06T08:00:00+00:00")])
    table = load_labels(write_v2(tmp_path, [second, first, row("p0001_right.jpg")]), duplicates="latest")
    assert table.classes == ["car", "tree"]
    assert matrix(table)["p0001_left.jpg"] == [1, 0]
    assert table.report["dropped"]["duplicate"] == 1
    assert table.report["dropped_images"]["duplicate"] == ["p0001_left.jpg"]
    assert table.report["duplicate_images"] == ["p0001_left.jpg"]
    assert any("several data rows" in w and "p0001_left.jpg" in w for w in table.warnings)


def test_duplicate_image_with_one_usable_label_is_only_reported(tmp_path):
    unlabelled_copy = row("p0001_left.jpg", [], status="TO_LABEL")
    table = load_labels(write_v2(tmp_path, [row("p0001_left.jpg"), unlabelled_copy]))
    assert table.report["rows_kept"] == 1
    assert table.report["duplicate_images"] == ["p0001_left.jpg"]
    assert table.report["dropped_images"]["unlabelled"] == ["p0001_left.jpg"]
    assert any("uploaded more than once" in w for w in table.warnings)


def test_duplicate_latest_needs_timestamps(tmp_path):
    a = row("p0001_left.jpg", [tick("tree", details=False)])
    b = row("p0001_left.jpg", [tick("car", details=False, id="other")])
    with pytest.raises(LabelError, match=r"p0001_left\.jpg has usable labels in several data rows \(line 1; line 2\)"):
        load_labels(write_v2(tmp_path, [a, b]), duplicates="latest")


def test_csv_duplicate_lines_are_an_error(tmp_path):
    path = write_csv(tmp_path, "image,labels\np0001_left.jpg,tree\np0001_right.jpg,\np0001_left.jpg,car\n")
    with pytest.raises(LabelError, match=r"labels\.csv: .*p0001_left\.jpg \(line 2; line 4\)"):
        load_labels(path)


# ---------------------------------------------------------------- 4. projects

def test_row_in_no_project_is_dropped_and_counted(tmp_path):
    table = load_labels(write_v2(tmp_path, [row("p0001_left.jpg"), row("p0001_right.jpg", projects={})]))
    assert table.report["dropped"]["not_in_project"] == 1
    assert table.report["dropped_images"]["not_in_project"] == ["p0001_right.jpg"]
    assert table.report["project_id"] == PID


def test_several_projects_need_project_id(tmp_path):
    both = row("p0001_left.jpg")
    both["projects"][PID2] = {"name": "second pass", "labels": [tick("car")],
                              "project_details": {"workflow_status": "IN_REVIEW"}}
    path = write_v2(tmp_path, [both, row("p0001_right.jpg", project_id=PID2)])
    with pytest.raises(LabelError, match=r"export\.ndjson: the export holds labels of 2 projects") as err:
        load_labels(path)
    assert f"{PID} (halves labelling)" in str(err.value) and f"{PID2} (second pass)" in str(err.value)
    assert "labels.project_id" in str(err.value)

    first = load_labels(path, project_id=PID)
    assert matrix(first) == {"p0001_left.jpg": [1]} and first.report["dropped"]["not_in_project"] == 1
    second = load_labels(path, project_id=PID2)
    assert second.classes == ["car", "tree"]
    assert matrix(second) == {"p0001_left.jpg": [1, 0], "p0001_right.jpg": [0, 1]}
    assert second.report["project_id"] == PID2

    with pytest.raises(LabelError, match=r"project 'nope' is not in the export, which holds .*" + PID2):
        load_labels(path, project_id="nope")


def test_export_without_any_project_is_an_error(tmp_path):
    with pytest.raises(LabelError, match=r"export\.ndjson: no data row carries project labels"):
        load_labels(write_v2(tmp_path, [row(projects={}), row("p0001_right.jpg", projects={})]))


# ---------------------------------------------------------------- 5./6. unlabelled and skipped

def test_unlabelled_and_skipped_are_counted_separately(tmp_path):
    rows = [row("p0001_left.jpg"),
            row("p0001_right.jpg", [], status="TO_LABEL"),
            row("p0002_left.jpg", [label(skipped=True)], status="DONE"),
            row("p0002_right.jpg", [label(skipped=True)])]
    table = load_labels(write_v2(tmp_path, rows))
    assert table.report["dropped"]["unlabelled"] == 1
    assert table.report["dropped"]["skipped"] == 2
    assert table.report["dropped_images"]["skipped"] == ["p0002_left.jpg", "p0002_right.jpg"]
    assert table.report["rows_kept"] == 1
    assert not any("skipped flag" in w for w in table.warnings)


def test_skipped_consensus_label_is_set_aside(tmp_path):
    labels = [tick("tree", id="a", created="2024-03-03T09:00:00.000+00:00"),
              label(id="b", created="2024-03-09T09:00:00.000+00:00", skipped=True)]
    table = load_labels(write_v2(tmp_path, [row(labels=labels)]))
    assert matrix(table) == {"p0001_left.jpg": [1]}


def test_missing_skipped_flag_warns_once(tmp_path):
    rows = [row("p0001_left.jpg", [tick("tree", performance=False)]),
            row("p0001_right.jpg", [label(performance=False)])]
    table = load_labels(write_v2(tmp_path, rows))
    flag_warnings = [w for w in table.warnings if "skipped flag" in w]
    assert len(flag_warnings) == 1 and flag_warnings[0].startswith("2 label(s)")
    assert "performance_details" in flag_warnings[0]
    assert matrix(table) == {"p0001_left.jpg": [1], "p0001_right.jpg": [0]}
    assert flag_warnings[0] in table.report["warnings"]


def test_v1_skips_in_every_spelling(tmp_path):
    elements = [v1_element("p0001_left.jpg"),
                v1_element("p0001_right.jpg", content={}, skipped=True, id="l2"),
                v1_element("p0002_left.jpg", content="Skip", skipped=None, id="l3")]
    table = load_labels(write_json(tmp_path, elements))
    assert table.report["dropped"]["skipped"] == 2
    assert table.report["dropped_images"]["skipped"] == ["p0001_right.jpg", "p0002_left.jpg"]
    assert not any("skipped flag" in w for w in table.warnings)


# ---------------------------------------------------------------- 7. nothing ticked

def test_label_with_nothing_ticked_is_an_all_zero_row(tmp_path):
    rows = [row("p0001_left.jpg", [tick("tree", "car")]),
            row("p0001_right.jpg", [label(text("comments", "nothing here"))]),
            row("p0002_left.jpg", [label(checklist(QUESTION))])]  # empty checklist_answers
    table = load_labels(write_v2(tmp_path, rows))
    assert table.report["rows_kept"] == 3
    assert matrix(table) == {"p0001_left.jpg": [1, 1], "p0001_right.jpg": [0, 0], "p0002_left.jpg": [0, 0]}
    assert table.report["dropped"] == {reason: 0 for reason in DROP_REASONS}


# ---------------------------------------------------------------- 8. several labels per row

EARLY = tick("tree", id="clt-early", created="2024-03-03T09:00:00.000+00:00")
LATE = tick("tree", "car", id="clt-late", created="2024-03-05T11:50:00.000+00:00")


@pytest.mark.parametrize("order", [[EARLY, LATE], [LATE, EARLY]])
def test_label_choice_latest_ignores_list_position(tmp_path, order):
    table = load_labels(write_v2(tmp_path, [row(labels=order)]))
    assert matrix(table) == {"p0001_left.jpg": [1, 1]}  # car, tree
    assert table.report["labels_in_file"] == 2


@pytest.mark.parametrize("order", [[EARLY, LATE], [LATE, EARLY]])
def test_label_choice_first_created(tmp_path, order):
    table = load_labels(write_v2(tmp_path, [row(labels=order)]), label_choice="first_created")
    assert table.classes == ["tree"]
    assert matrix(table) == {"p0001_left.jpg": [1]}


def test_latest_tie_breaks_on_updated_at_then_id(tmp_path):
    by_update = [tick("car", id="z", updated="2024-03-05T12:00:00.000+00:00"),
                 tick("tree", id="a", updated="2024-03-05T13:00:00.000+00:00")]
    by_id = [tick("tree", id="clt-b"), tick("car", id="clt-a")]
    path = write_v2(tmp_path, [row("p0001_left.jpg", by_update), row("p0001_right.jpg", by_id)])
    table = load_labels(path, classes=["car", "tree"])
    assert matrix(table) == {"p0001_left.jpg": [0, 1], "p0001_right.jpg": [0, 1]}


def test_label_choice_selected(tmp_path):
    rows = [row("p0001_left.jpg", [LATE, EARLY], selected="clt-early"),
            row("p0001_right.jpg", [tick("car")]),  # one label: nothing to select
            row("p0002_left.jpg", [EARLY, label(id="clt-skip", skipped=True)], selected="clt-skip")]
    table = load_labels(write_v2(tmp_path, rows), label_choice="selected")
    assert matrix(table) == {"p0001_left.jpg": [0, 1], "p0001_right.jpg": [1, 0]}
    assert table.report["dropped_images"]["skipped"] == ["p0002_left.jpg"]


def test_label_choice_selected_errors(tmp_path):
    no_selection = write_v2(tmp_path, [row("p0001_right.jpg"), row(labels=[EARLY, LATE])], "a.ndjson")
    with pytest.raises(LabelError, match=r"a\.ndjson: line 2: 2 labels but no project_details\.selected_label_id"):
        load_labels(no_selection, label_choice="selected")
    unknown = write_v2(tmp_path, [row(labels=[EARLY, LATE], selected="clt-gone")], "b.ndjson")
    with pytest.raises(LabelError, match=r"b\.ndjson: line 1: selected_label_id 'clt-gone' is none of"):
        load_labels(unknown, label_choice="selected")


def test_several_labels_without_created_at_is_an_error(tmp_path):
    rows = [row(labels=[tick("tree", id="a", details=False), tick("car", id="b", details=False)])]
    with pytest.raises(LabelError, match=r"export\.ndjson: line 1: 2 labels but not all have a created_at") as err:
        load_labels(write_v2(tmp_path, rows))
    assert "label_details" in str(err.value)


def test_v1_several_elements_per_data_row(tmp_path):
    elements = [v1_element("p0001_left.jpg", ("tree", "car"), id="l-late", created="2022-05-03T10:00:00Z"),
                v1_element("p0001_right.jpg", id="l-other"),
                v1_element("p0001_left.jpg", ("tree",), id="l-early", created="2022-05-02T10:00:00.000Z")]
    table = load_labels(write_json(tmp_path, elements))
    assert matrix(table) == {"p0001_left.jpg": [1, 1], "p0001_right.jpg": [0, 1]}
    assert table.report["rows_in_file"] == 2 and table.report["labels_in_file"] == 3
    assert table.report["duplicate_images"] == []
    early = load_labels(write_json(tmp_path, elements), label_choice="first_created")
    assert matrix(early)["p0001_left.jpg"] == [1]


# ---------------------------------------------------------------- 9. other questions, nesting

def test_only_top_level_choices_are_classes(tmp_path):
    occluded_car = answer("car", nested=[radio("occluded", "yes")])
    lab = label(checklist(QUESTION, "tree", occluded_car),
                radio("scene", answer("Outdoor", "outdoor", nested=[radio("weather", answer("Rain", "rain"))])),
                text("comments", "seam visible"))
    table = load_labels(write_v2(tmp_path, [row(labels=[lab])]))
    assert table.classes == ["Outdoor", "car", "tree"]  # no "yes", "Rain", or comment text
    assert table.report["questions_read"] == [QUESTION, "scene"]


def test_questions_filter_by_name_or_value(tmp_path):
    lab = label(checklist(QUESTION, "tree", "car"), radio("scene", "Outdoor"))
    path = write_v2(tmp_path, [row(labels=[lab])])
    by_name = load_labels(path, questions=[QUESTION])
    by_value = load_labels(path, questions=["objects_present"])
    assert by_name.classes == by_value.classes == ["car", "tree"]
    assert by_name.report["questions_read"] == [QUESTION]


def test_configured_question_absent_warns(tmp_path):
    table = load_labels(write_v2(tmp_path, [row()]), questions=[QUESTION, "objcts present"])
    assert any("objcts present" in w and "labels.questions" in w for w in table.warnings)


def test_v1_flattened_nested_question_is_excluded_by_questions(tmp_path):
    content = {"objects": [], "classifications": [
        {"featureId": "f1", "schemaId": "s1", "title": QUESTION, "value": "objects_present",
         "answers": [{"featureId": "f2", "schemaId": "s2", "title": "car", "value": "car"}]},
        {"featureId": "f3", "schemaId": "s3", "title": "occluded", "value": "occluded",
         "answer": {"featureId": "f4", "schemaId": "s4", "title": "yes", "value": "yes"}}]}
    path = write_json(tmp_path, [v1_element(content=content)])
    assert load_labels(path).classes == ["car", "yes"]  # v1 flattening: why questions exists
    assert load_labels(path, questions=[QUESTION]).classes == ["car"]


# ---------------------------------------------------------------- 10. name vs value

def test_match_on_name_or_value(tmp_path):
    lab = label(radio("wear", answer("not_wear", "good")),
                checklist(QUESTION, answer("Foot traffic", "foot_traffic"), answer("False", "false")))
    path = write_v2(tmp_path, [row(labels=[lab])])
    assert load_labels(path).classes == ["False", "Foot traffic", "not_wear"]
    assert load_labels(path, match_on="value").classes == ["false", "foot_traffic", "good"]


def test_match_on_falls_back_to_the_other_field(tmp_path):
    unnamed = {"feature_id": "f", "feature_schema_id": "s", "value": "tree", "classifications": []}
    table = load_labels(write_v2(tmp_path, [row(labels=[label(checklist(QUESTION, unnamed))])]))
    assert table.classes == ["tree"]


# ---------------------------------------------------------------- 11. radio per class

def test_radio_per_class(tmp_path):
    def yes_no(*, car, tree, **kw):
        return label(radio("car", answer("Yes" if car else "No")),
                     radio("tree", answer("present", "true" if tree else "false")), **kw)
    rows = [row("p0001_left.jpg", [yes_no(car=True, tree=False)]),
            row("p0001_right.jpg", [yes_no(car=False, tree=True)])]
    path = write_v2(tmp_path, rows)
    table = load_labels(path, radio_per_class=True)
    assert table.classes == ["car", "tree"]
    assert matrix(table) == {"p0001_left.jpg": [1, 0], "p0001_right.jpg": [0, 1]}
    assert load_labels(path).classes == ["No", "Yes", "present"]  # off by default


# ---------------------------------------------------------------- 12. objects as classes

def test_classes_from_objects_count_once(tmp_path):
    lab = label(checklist(QUESTION, "sky"), objects=[box("car"), box("car"), box("car"), box("tree")])
    rows = [row("p0001_left.jpg", [lab]), row("p0001_right.jpg", [label(objects=[box("car")])])]
    path = write_v2(tmp_path, rows)
    objects = load_labels(path, source="objects")
    assert objects.classes == ["car", "tree"]
    assert matrix(objects) == {"p0001_left.jpg": [1, 1], "p0001_right.jpg": [1, 0]}
    assert objects.report["class_counts"] == {"car": 2, "tree": 1}
    both = load_labels(path, source="both")
    assert both.classes == ["car", "sky", "tree"]
    assert matrix(both)["p0001_left.jpg"] == [1, 1, 1]
    assert load_labels(path).classes == ["sky"]


# ---------------------------------------------------------------- 13. workflow status

def test_statuses_are_normalised(tmp_path):
    rows = [row("p0001_left.jpg", status="DONE"), row("p0001_right.jpg", status="IN_REVIEW"),
            row("p0002_left.jpg", status="IN_REWORK")]
    path = write_v2(tmp_path, rows)
    done = load_labels(path, statuses=["Done"])
    assert list(done.frame["image"]) == ["p0001_left.jpg"]
    assert done.report["dropped"]["status_not_allowed"] == 2
    assert done.report["dropped_images"]["status_not_allowed"] == ["p0001_right.jpg", "p0002_left.jpg"]
    reviewed = load_labels(path, statuses=["InReview", "in review", "done"])
    assert list(reviewed.frame["image"]) == ["p0001_left.jpg", "p0001_right.jpg"]
    assert len(load_labels(path).frame) == 3


def test_statuses_without_workflow_status_is_an_error(tmp_path):
    path = write_v2(tmp_path, [row("p0001_left.jpg"), row("p0001_right.jpg", project_details=False)])
    with pytest.raises(LabelError, match=r"export\.ndjson: line 2: no workflow_status") as err:
        load_labels(path, statuses=["DONE"])
    assert "project_details" in str(err.value)


# ---------------------------------------------------------------- 14./15. optional blocks, timestamps

def test_minimal_export_without_optional_blocks(tmp_path):
    # like the real SDK-repo export: no external_id, details, media_attributes or *_details
    minimal = {"data_row": {"id": "clx1", "row_data": "https://x/p0001_left.jpg?sig=1",
                            "global_key": "p0001_left.jpg"},
               "projects": {PID: {"name": "roof", "labels": [
                   {"label_kind": "Default", "version": "1.0.0", "id": "cl1",
                    "annotations": {"objects": [], "classifications": [radio("wear", answer("not_wear", "good"))],
                                    "relationships": []}}]}}}
    table = load_labels(write_v2(tmp_path, [minimal]))
    assert matrix(table) == {"p0001_left.jpg": [1]} and table.classes == ["not_wear"]
    assert any("skipped flag" in w for w in table.warnings)


def test_timestamps_are_compared_as_instants(tmp_path):
    # as strings "13:00+02:00" > "11:30.000+00:00", but 13:00+02:00 is 11:00 UTC
    labels = [tick("car", id="a", created="2024-03-05T13:00:00+02:00"),
              tick("tree", id="b", created="2024-03-05T11:30:00.000+00:00"),
              tick("sky", id="c", created="2024-03-05T10:59:59Z")]
    table = load_labels(write_v2(tmp_path, [row(labels=labels)]))
    assert table.classes == ["tree"]


def test_bad_timestamp_is_named(tmp_path):
    with pytest.raises(LabelError, match=r"export\.ndjson: line 1: timestamp 'yesterday'"):
        load_labels(write_v2(tmp_path, [row(labels=[tick("tree", created="yesterday")])]))


# ---------------------------------------------------------------- 16. unknown classes

def test_unknown_classes_error_names_class_row_and_image(tmp_path):
    rows = [row("p0001_left.jpg", [tick("tree", "bus")]), row("p0001_right.jpg", [tick("van", "bus")])]
    path = write_v2(tmp_path, rows)
    with pytest.raises(LabelError) as err:
        load_labels(path, classes=["tree", "car"])
    message = str(err.value)
    assert "export.ndjson" in message
    assert "'bus' in line 1 (p0001_left.jpg), line 2 (p0001_right.jpg)" in message
    assert "'van' in line 2 (p0001_right.jpg)" in message
    assert "labels.unknown_classes: ignore" in message and "labels.classes" in message


def test_unknown_classes_ignored_and_counted(tmp_path):
    rows = [row("p0001_left.jpg", [tick("tree", "bus")]), row("p0001_right.jpg", [tick("van", "bus")])]
    table = load_labels(write_v2(tmp_path, rows), classes=["tree", "car"], unknown_classes="ignore")
    assert list(table.frame.columns) == ["image", "panorama", "tree", "car"]
    assert matrix(table) == {"p0001_left.jpg": [1, 0], "p0001_right.jpg": [0, 0]}
    assert table.report["ignored_answers"] == {"bus": 2, "van": 1}
    assert table.report["class_counts"] == {"tree": 1, "car": 0}
    assert any("ignored" in w for w in table.warnings)


def test_unknown_classes_in_csv_name_the_line(tmp_path):
    path = write_csv(tmp_path, "image,labels\np0001_left.jpg,tree\np0001_right.jpg,tree;bus\n")
    with pytest.raises(LabelError, match=r"labels\.csv: .*'bus' in line 3 \(p0001_right\.jpg\)"):
        load_labels(path, classes=["tree"])


# ---------------------------------------------------------------- 17. v1 oddities

def test_v1_answer_shapes(tmp_path):
    content = {"objects": [
        {"featureId": "o1", "schemaId": "so", "color": "#f00", "title": "car", "value": "car",
         "bbox": {"top": 1, "left": 2, "height": 3, "width": 4}, "instanceURI": "https://x",
         "classifications": [[{"title": "occluded", "answer": {"title": "yes", "value": "yes"}}]]}],
        "classifications": [
            {"featureId": "f1", "schemaId": "s1", "title": "weather", "value": "weather",
             "answer": [{"featureId": "f2", "schemaId": "s2", "title": "Rain", "value": "rain"},
                        {"featureId": "f3", "schemaId": "s3", "title": "Fog", "value": "fog"}]},
            {"featureId": "f4", "schemaId": "s4", "title": "scene", "value": "scene", "scope": "global",
             "answer": {"featureId": "f5", "schemaId": "s5", "title": "Outdoor", "value": "outdoor"}},
            {"featureId": "f6", "schemaId": "s6", "title": "comments", "value": "comments", "answer": "seam"}]}
    path = write_json(tmp_path, [v1_element(content=content)])
    table = load_labels(path, match_on="value")
    assert table.classes == ["fog", "outdoor", "rain"]
    assert load_labels(path, source="both").classes == ["Fog", "Outdoor", "Rain", "car"]


def test_v1_empty_label(tmp_path):
    elements = [v1_element("p0001_left.jpg"), v1_element("p0001_right.jpg", content={}, id="l2")]
    assert matrix(load_labels(write_json(tmp_path, elements))) == {"p0001_left.jpg": [1], "p0001_right.jpg": [0]}
    unknown = [v1_element("p0001_left.jpg"), v1_element("p0001_right.jpg", content={}, id="l2", skipped=None)]
    table = load_labels(write_json(tmp_path, unknown, "old.json"))
    assert matrix(table)["p0001_right.jpg"] == [0]
    assert any(w.startswith("1 label(s) carry no skipped flag") for w in table.warnings)


def test_v1_unexpected_label_string_is_named(tmp_path):
    with pytest.raises(LabelError, match=r"export\.json: element \[1\]: 'Label' is 'Pending'"):
        load_labels(write_json(tmp_path, [v1_element(), v1_element("p0001_right.jpg", content="Pending")]))


# ---------------------------------------------------------------- 18. non-image rows

def test_non_image_rows_are_dropped_with_warning(tmp_path):
    rows = [row("p0001_left.jpg"), row("p0001_right.jpg", mime="video/mp4"),
            row("p0002_left.jpg", [tick("tree", kind="Video")]), row("p0002_right.jpg", mime=None)]
    table = load_labels(write_v2(tmp_path, rows))
    assert list(table.frame["image"]) == ["p0001_left.jpg", "p0002_right.jpg"]
    assert table.report["dropped_images"]["not_image"] == ["p0001_right.jpg", "p0002_left.jpg"]
    assert any("not images" in w for w in table.warnings)


def test_v1_non_image_elements(tmp_path):
    elements = [v1_element("p0001_left.jpg"),
                v1_element("p0001_right.jpg", content={"frames": "https://x/frames.ndjson"}, id="l2"),
                v1_element("p0002_left.jpg", id="l3", media_type="text")]
    table = load_labels(write_json(tmp_path, elements))
    assert table.report["dropped_images"]["not_image"] == ["p0001_right.jpg", "p0002_left.jpg"]


# ---------------------------------------------------------------- halves and name pattern

def test_halves_missing_images_error_and_warn(tmp_path):
    rows = [row("p0001_left.jpg"), row("p0001_right.jpg"), row("p0009_left.jpg")]
    path = write_v2(tmp_path, rows)
    halves = ["p0001_left.jpg", "p0001_right.jpg", "p0002_left.jpg", "p0002_right.jpg"]
    with pytest.raises(LabelError, match=r"export\.ndjson: 1 labelled image\(s\) are not among the split halves: "
                                         r"p0009_left\.jpg; .*labels\.missing_image: warn"):
        load_labels(path, halves=halves)
    table = load_labels(path, halves=halves, missing_image="warn")
    assert list(table.frame["image"]) == ["p0001_left.jpg", "p0001_right.jpg"]
    assert table.report["missing_images"] == ["p0009_left.jpg"]
    assert table.report["dropped"]["missing_image"] == 1
    assert table.report["unlabelled_halves"] == ["p0002_left.jpg", "p0002_right.jpg"]
    assert any("have no usable label" in w and "p0002_left.jpg" in w for w in table.warnings)


def test_name_not_matching_pattern_lists_names(tmp_path):
    bad = [f"IMG_{i:02d}.jpg" for i in range(12)]
    path = write_v2(tmp_path, [row("p0001_left.jpg")] + [row(name) for name in bad])
    with pytest.raises(LabelError) as err:
        load_labels(path)
    message = str(err.value)
    assert "export.ndjson: 12 labelled image name(s) do not match" in message
    assert "IMG_00.jpg" in message and "IMG_09.jpg" in message and "IMG_11.jpg" not in message
    assert "and 2 more" in message and "split.name_pattern" in message


def test_custom_name_pattern_gives_panorama(tmp_path):
    path = write_v2(tmp_path, [row("left-site7.jpg"), row("right-site7.jpg"), row("left-site8.png")])
    table = load_labels(path, name_pattern="{side}-{stem}{ext}")
    assert list(table.frame["panorama"]) == ["site7", "site8", "site7"]
    with pytest.raises(NamingError):
        load_labels(path, name_pattern="{stem}{ext}")


# ---------------------------------------------------------------- CSV

def test_csv_format(tmp_path):
    path = write_csv(tmp_path, "image,labels,notes\n"
                               "p0001_right.jpg, car ; tree ;car,x\n"
                               "\n"
                               "p0001_left.jpg,,\n"
                               '"p0002_left.jpg","tree"\n')
    table = load_labels(path)
    assert table.report["format"] == "csv" and table.report["rows_in_file"] == 3
    assert list(table.frame.columns) == ["image", "panorama", "car", "tree"]
    assert matrix(table) == {"p0001_left.jpg": [0, 0], "p0001_right.jpg": [1, 1], "p0002_left.jpg": [0, 1]}
    assert list(table.frame["panorama"]) == ["p0001", "p0001", "p0002"]


def test_csv_empty_image_is_named(tmp_path):
    path = write_csv(tmp_path, "image,labels\np0001_left.jpg,tree\n\n ,car\n")
    with pytest.raises(LabelError, match=r"labels\.csv: line 4: empty image name"):
        load_labels(path)


# ---------------------------------------------------------------- options

@pytest.mark.parametrize("kwargs, named", [
    ({"statuses": ["DONE"]}, "labels.statuses"),
    ({"project_id": PID}, "labels.project_id"),
    ({"label_choice": "selected"}, "labels.label_choice: selected"),
    ({"questions": [QUESTION]}, "labels.questions"),
    ({"source": "objects"}, "labels.source: objects"),
    ({"radio_per_class": True}, "labels.radio_per_class"),
])
def test_options_a_csv_cannot_honour(tmp_path, kwargs, named):
    path = write_csv(tmp_path, "image,labels\np0001_left.jpg,tree\n")
    with pytest.raises(LabelError, match=r"labels\.csv: a csv file carries nothing for") as err:
        load_labels(path, **kwargs)
    assert named in str(err.value)


def test_v2_only_options_on_v1(tmp_path):
    path = write_json(tmp_path, [v1_element()])
    with pytest.raises(LabelError, match=r"export\.json: .*labels\.statuses, labels\.label_choice: selected"):
        load_labels(path, statuses=["DONE"], label_choice="selected")
    assert load_labels(path, questions=[QUESTION], source="both").classes == ["tree"]


@pytest.mark.parametrize("kwargs", [
    {"format": "xml"}, {"unknown_classes": "warn"}, {"source": "masks"}, {"match_on": "id"},
    {"label_choice": "random"}, {"duplicates": "first"}, {"missing_image": "ignore"},
    {"classes": []}, {"classes": ["a", "a"]}, {"classes": ["image"]},
])
def test_invalid_option_values(tmp_path, kwargs):
    with pytest.raises(ValueError, match=r"labels\.(\w+)") as err:
        load_labels(write_v2(tmp_path, [row()]), **kwargs)
    assert not isinstance(err.value, LabelError)


def test_discovered_class_clashing_with_a_column(tmp_path):
    with pytest.raises(LabelError, match=r"export\.ndjson: class name\(s\) \['panorama'\] clash"):
        load_labels(write_v2(tmp_path, [row(labels=[tick("panorama")])]))


def test_no_usable_label_is_an_error(tmp_path):
    rows = [row("p0001_left.jpg", []), row("p0001_right.jpg", [label(skipped=True)])]
    with pytest.raises(LabelError, match=r"export\.ndjson: no usable label \(unlabelled: 1, skipped: 1\)"):
        load_labels(write_v2(tmp_path, rows))


# ---------------------------------------------------------------- report and determinism

def _mixed_rows():
    return [
        row("p0001_left.jpg", [tick("tree", "car")]),
        row("p0001_right.jpg", [tick()]),
        row("p0002_left.jpg", [EARLY, LATE]),
        row("p0002_right.jpg", [], status="TO_LABEL"),
        row("p0003_left.jpg", [label(skipped=True)]),
        row("p0003_right.jpg", status="IN_REVIEW"),
        row("p0004_left.jpg", mime="video/mp4"),
        row("p0004_right.jpg", projects={}),
        row("p0005_left.jpg", [tick("sky")]),
    ]


def test_report_counts_and_json(tmp_path):
    halves = [f"p000{i}_{side}.jpg" for i in range(1, 5) for side in ("left", "right")]
    table = load_labels(write_v2(tmp_path, _mixed_rows()), statuses=["done"], halves=halves,
                        classes=["tree", "car", "sky"], missing_image="warn")
    report = table.report
    assert {"format", "rows_in_file", "rows_kept", "dropped", "dropped_images", "missing_images",
            "unlabelled_halves", "class_counts", "classes", "warnings"} <= report.keys()
    assert report["format"] == "labelbox_v2" and report["rows_in_file"] == 9
    assert report["labels_in_file"] == 8  # labels of the chosen project; p0004_right is in none
    assert report["dropped"] == {"not_image": 1, "not_in_project": 1, "unlabelled": 1, "status_not_allowed": 1,
                                 "skipped": 1, "duplicate": 0, "missing_image": 1}
    assert report["rows_in_file"] == report["rows_kept"] + sum(report["dropped"].values())
    assert report["missing_images"] == ["p0005_left.jpg"]
    assert report["unlabelled_halves"] == ["p0002_right.jpg", "p0003_left.jpg", "p0003_right.jpg",
                                           "p0004_left.jpg", "p0004_right.jpg"]
    assert report["classes"] == table.classes == ["tree", "car", "sky"]
    assert report["class_counts"] == {"tree": 2, "car": 2, "sky": 0}
    assert report["warnings"] == table.warnings and table.warnings
    assert json.loads(json.dumps(report)) == report
    assert [str(dt) for dt in table.frame.dtypes[2:]] == ["int64"] * 3


def test_output_is_deterministic(tmp_path):
    rows = _mixed_rows()
    shuffled = rows[:]
    random.Random(7).shuffle(shuffled)
    for r in shuffled:
        if r["projects"]:
            random.Random(3).shuffle(r["projects"][PID]["labels"])
    a = load_labels(write_v2(tmp_path, rows, "a.ndjson"))
    b = load_labels(write_v2(tmp_path, shuffled, "b.ndjson"))
    pd.testing.assert_frame_equal(a.frame, b.frame)
    assert {k: v for k, v in a.report.items() if k != "file"} == {k: v for k, v in b.report.items() if k != "file"}
    assert list(a.frame["image"]) == sorted(a.frame["image"])
    assert a.frame.index.equals(pd.RangeIndex(len(a.frame)))
    assert a.classes == ["car", "sky", "tree"]
    assert np.array_equal(a.frame[a.classes].to_numpy().sum(axis=0), [2, 1, 3])


# ---------------------------------------------------------------- degenerate tables (issue 9)

def _halves(n):
    return [f"p{i:04d}_{side}.jpg" for i in range(n) for side in ("left", "right")]


def test_yes_no_radio_per_class_export_read_with_defaults_is_an_error(tmp_path):
    """One yes/no radio question per class: read as answers, the classes would be no/yes."""
    rng = random.Random(0)
    rows = []
    for image in _halves(6):
        answers = [radio(q, "yes" if rng.random() < 0.5 else "no") for q in ("car?", "tree?")]
        rows.append(row(image, [label(*answers)]))
    path = write_v2(tmp_path, rows)
    with pytest.raises(LabelError, match=r"radio_per_class: true") as err:
        load_labels(path)
    assert "radio question(s) 'car?', 'tree?'" in str(err.value)
    table = load_labels(path, radio_per_class=True)
    assert table.classes == ["car?", "tree?"]


def test_bounding_box_only_export_with_default_source_is_an_error(tmp_path):
    rows = [row(image, [label(objects=[box("car")])]) for image in _halves(3)]
    path = write_v2(tmp_path, rows)
    with pytest.raises(LabelError, match=r"no classes found") as err:
        load_labels(path)
    assert "objects named 'car'" in str(err.value) and "labels.source: objects" in str(err.value)
    assert load_labels(path, source="objects").classes == ["car"]


def test_identical_rows_are_an_error(tmp_path):
    rows = [row(image, [tick("tree")]) for image in _halves(6)]
    with pytest.raises(LabelError, match=r"all 12 labelled halves have the same classes \(\['tree'\]\)"):
        load_labels(write_v2(tmp_path, rows))


def test_misspelt_answer_that_became_a_class_is_warned_about(tmp_path):
    rows = [row(image, [tick("tree" if i % 2 else "car")]) for i, image in enumerate(_halves(12))]
    rows[3] = row(rows[3]["data_row"]["external_id"], [tick("tre")])
    table = load_labels(write_v2(tmp_path, rows))
    assert "tre" in table.classes
    assert any("'tre' (1 halves) looks like a misspelling of 'tree'" in w for w in table.warnings)


def test_class_seen_once_among_frequent_ones_is_warned_about(tmp_path):
    rows = [row(image, [tick("tree" if i % 2 else "car")]) for i, image in enumerate(_halves(110))]
    rows[5] = row(rows[5]["data_row"]["external_id"], [tick("zebra")])
    table = load_labels(write_v2(tmp_path, rows))
    assert any("class 'zebra' is ticked on only 1 half(s)" in w for w in table.warnings)
    assert table.report["export_contents"]["checklist"] == [QUESTION]


def test_an_option_renamed_in_labelbox_keeps_its_column_across_rounds(tmp_path):
    """Class identity follows the ontology's schema ids: renaming 'car' to 'vehicle' in LabelBox
    made a new class 'vehicle' (a column in another place) and lost 'car' between rounds."""
    from pano360.labels.identity import known_classes_table, read_known_classes
    round1 = [row(f"p{i:04d}_{side}.jpg", [tick(*cls)]) for i, cls in enumerate(
        [("car", "tree"), ("tree",), ("car",), ("sign",)]) for side in ("left", "right")]
    table1 = load_labels(write_v2(tmp_path, round1, "r1.ndjson"))
    assert table1.classes == ["car", "sign", "tree"]
    known_file = tmp_path / "classes.csv"
    known_classes_table(None, table1.classes, table1.report["label_schema"]["classes"]).to_csv(known_file, index=False)
    vehicle = answer("vehicle")
    vehicle["feature_schema_id"] = "s-car"                   # the same ontology option, renamed
    round2 = round1 + [row(f"p{i:04d}_left.jpg", [label(checklist(QUESTION, *cls))]) for i, cls in
                       [(4, (vehicle, "bench")), (5, (vehicle,)), (6, ("bench", "tree"))]]
    # the old behaviour: a new, sorted-in column for the renamed option
    plain = load_labels(write_v2(tmp_path, round2, "r2.ndjson"), missing_image="warn")
    assert plain.classes == ["bench", "car", "sign", "tree", "vehicle"]
    known = read_known_classes(known_file)
    table2 = load_labels(write_v2(tmp_path, round2, "r2.ndjson"), known_classes=known)
    assert table2.classes == ["car", "sign", "tree", "bench"]      # earlier columns in place, the new one after
    assert list(table2.frame["car"]) == [1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0]
    assert table2.report["renamed"] == {"vehicle": {"column": "car", "schema_id": "s-car"}}
    assert any("'vehicle'" in w and "stays the class column 'car'" in w for w in table2.warnings)
    # pre-labels go back under the option's name in LabelBox now
    assert table2.report["label_schema"]["classes"]["car"]["name"] == "vehicle"
    kept = known_classes_table(known, table2.classes, table2.report["label_schema"]["classes"])
    assert kept.to_dict("records")[0] == {"column": "car", "schema_id": "s-car", "name": "vehicle"}
    assert list(kept["column"]) == ["car", "sign", "tree", "bench"]

"""dvc.yaml promises that a change reruns exactly what it affects: every project file a stage
runs is one of its deps (and nothing else is)."""

import pytest
import yaml

from stage_imports import ROOT, expand, stage_files

STAGES = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]


@pytest.mark.parametrize("name", sorted(STAGES))
def test_code_deps_are_exactly_the_modules_the_stage_imports(name):
    stage = STAGES[name]
    script = stage["cmd"].split()[1]
    assert script == f"stages/{name}.py"
    assert expand(stage["deps"]) == stage_files(script)


def test_no_stage_reads_a_pano360_module_lazily_that_it_does_not_list():
    # the import scan covers function-level imports too: a lazy import is still a dependency
    files = stage_files("stages/train.py")
    assert "pano360/train.py" in files and "pano360/inference.py" in files


def test_inference_does_not_load_the_training_module():
    assert "pano360/train.py" not in stage_files("stages/evaluate.py")
    assert "pano360/train.py" not in stage_files("pano360/predict.py")


def test_train_runs_as_plain_python():
    # torchrun puts its worker in a session of its own; one process needs none of that
    assert STAGES["train"]["cmd"] == "python stages/train.py"


def test_every_stage_lists_the_params_sections_it_loads():
    import ast
    for name, stage in STAGES.items():
        tree = ast.parse((ROOT / f"stages/{name}.py").read_text())
        loaded = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "load_params":
                loaded |= {kw.arg for kw in node.keywords}
        listed = stage.get("params", [])
        assert loaded == {p for p in listed if "." not in p} | ({"split"} if name == "load_labels" else set()), name
        for single in (p for p in listed if "." in p):  # single values read from other sections
            assert single.split(".")[-1] in (ROOT / f"stages/{name}.py").read_text(), (name, single)

"""dvc.yaml promises that a change reruns exactly what it affects: every project file a stage
runs is one of its deps (and nothing else is)."""

import pytest
import yaml

from stage_imports import ROOT, expand, stage_files, stage_script

STAGES = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]


@pytest.mark.parametrize("name", sorted(STAGES))
def test_code_deps_are_exactly_the_modules_the_stage_imports(name):
    stage = STAGES[name]
    script = stage_script(stage["cmd"])
    assert script == f"stages/{name}.py"
    assert expand(stage["deps"]) == stage_files(script)


def test_no_stage_reads_a_pano360_module_lazily_that_it_does_not_list():
    # the import scan covers function-level imports too: a lazy import is still a dependency
    files = stage_files("stages/train.py")
    assert "pano360/training/loop.py" in files and "pano360/use/inference.py" in files


def test_inference_does_not_load_the_training_module():
    assert "pano360/training/loop.py" not in stage_files("stages/evaluate.py")
    assert "pano360/training/loop.py" not in stage_files("pano360/use/predict.py")


def test_train_runs_as_plain_python():
    # torchrun puts its worker in a session of its own; one process needs none of that
    assert STAGES["train"]["cmd"] == "python -m stages.train"


def test_every_stage_lists_exactly_the_params_it_loads():
    """A stage reads params.yaml only through its PARAMS (sections, or dotted single values of
    other sections), and dvc.yaml lists exactly those: a change reruns what reads it, no more."""
    import ast
    for name, stage in STAGES.items():
        tree = ast.parse((ROOT / f"stages/{name}.py").read_text())
        declared = [node.value for node in tree.body if isinstance(node, ast.Assign)
                    and any(getattr(t, "id", None) == "PARAMS" for t in node.targets)]
        assert len(declared) == 1, name
        loaded = {key.value for key in declared[0].keys}
        assert loaded == set(stage.get("params", [])), name
        assert "read_yaml" not in (ROOT / f"stages/{name}.py").read_text(), name


def test_every_output_dvc_yaml_declares_is_named_in_its_stage():
    """A stage's files are named once, at the top of its module (dvc.yaml declares the same
    paths for DVC): an output renamed in one place but not the other fails here."""
    import ast
    for name, stage in STAGES.items():
        tree = ast.parse((ROOT / f"stages/{name}.py").read_text())
        named = {node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)}
        outs = [next(iter(o)) if isinstance(o, dict) else o for o in stage.get("outs", [])]
        missing = [o for o in outs if o not in named and not any(o.startswith(f"{n}/") for n in named if n)]
        assert not missing, (name, missing)

"""README and BENCHMARKS: every image they show exists, no figure was left as a placeholder,
and the recipe a user copies into params.yaml is valid."""
import re
from pathlib import Path

import yaml

from pano360.model.backbone import ModelParams
from pano360.params import validate_section
from pano360.training.loop import TrainParams

ROOT = Path(__file__).resolve().parents[1]
DOCS = ["README.md", "BENCHMARKS.md"]


def test_every_linked_image_and_file_exists():
    for doc in DOCS:
        text = (ROOT / doc).read_text()
        for target in re.findall(r"\]\(((?:docs|bench)/[^)#]+)\)", text):
            assert (ROOT / target).is_file(), f"{doc} links {target}, which does not exist"


def test_no_figure_is_left_to_fill_in():
    for doc in DOCS:
        text = (ROOT / doc).read_text()
        assert "«" not in text and "PENDING" not in text, f"{doc} has an unfilled figure"


def test_the_finetuning_recipe_in_the_readme_is_valid_params():
    text = (ROOT / "README.md").read_text()
    block = re.search(r"\*\*Finetuning pretrained weights.*?```yaml\n(.*?)```", text, re.S)
    assert block, "README lost its finetuning recipe"
    recipe = yaml.safe_load(block.group(1))
    assert set(recipe) == {"model", "train"}
    model = validate_section("model", ModelParams, recipe["model"])
    assert model.name.startswith("swinv2") and model.pretrained and model.kwargs == {}
    train = validate_section("train", TrainParams, recipe["train"])
    assert train.layer_decay == recipe["train"]["layer_decay"]


def test_shell_scripts_parse_and_name_real_stages():
    """docs/*.sbatch and bench/*.sh are run on machines we do not have (a SLURM cluster, a bare
    GPU box): at least they parse, and the stages they name exist."""
    import subprocess
    stages = set(yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"])
    scripts = sorted([*ROOT.glob("docs/*.sbatch"), *ROOT.glob("bench/*.sh")])
    assert len(scripts) >= 4
    for script in scripts:
        out = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
        assert out.returncode == 0, (script, out.stderr)
        for line in script.read_text().splitlines():
            for named in re.findall(r"dvc repro ((?:[a-z_]+ ?)+)", line):
                assert set(named.split()) <= stages, (script, line)


def test_the_labelling_round_commands_are_real_commands():
    """Every `pano360` line of README "Labelling rounds" parses with the CLI as written."""
    import shlex
    from pano360.cli import build_parser
    text = (ROOT / "README.md").read_text()
    block = re.search(r"## Labelling rounds\n.*?```bash\n(.*?)```", text, re.S)
    assert block, "README lost its labelling round"
    lines = [line.split("#")[0].strip() for line in block.group(1).splitlines()]
    commands = [shlex.split(line.replace("$PROJECT", "clproj0000000000000000001")) for line in lines
                if line.startswith("pano360 ")]
    assert {c[1] for c in commands} >= {"select", "predict", "labelbox", "compare"}
    assert {c[2] for c in commands if c[1] == "labelbox"} == {"export", "upload", "prelabel"}
    for command in commands:
        build_parser().parse_args(command[1:])

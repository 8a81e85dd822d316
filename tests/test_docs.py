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

"""Both configs validate against the schema; a bad value is refused naming the key and the allowed values."""

from __future__ import annotations

import copy

import pytest
import yaml
from snakemake.utils import validate
from snakemake_interface_common.exceptions import WorkflowError

from conftest import REPO

SCHEMA = str(REPO / "workflow/schemas/config.schema.yaml")
PAPER_FACTORS = {"views": "both", "normalization": "imagenet", "init": "pretrained", "uncertainty": "multiclass"}


def load(name: str) -> dict:
    return yaml.safe_load((REPO / "config" / name).read_text())


@pytest.mark.parametrize("name", ["config.yaml", "chexpert.yaml"])
def test_configs_validate_and_hold_the_papers_four_experiments(name):
    config = load(name)
    validate(config, SCHEMA)
    experiments = config["experiments"]
    assert experiments["baseline"] | {"seeds": None} == PAPER_FACTORS | {"seeds": None}
    changed = {
        "frontal": ("views", "frontal"),
        "dataset_norm": ("normalization", "dataset"),
        "scratch": ("init", "scratch"),
    }
    for experiment, (factor, value) in changed.items():
        diff = {k for k in PAPER_FACTORS if experiments[experiment][k] != PAPER_FACTORS[k]}
        assert diff == {factor} and experiments[experiment][factor] == value


def test_chexpert_config_has_the_papers_settings():
    config = load("chexpert.yaml")
    validate(config, SCHEMA)
    assert config["image"] == {"cache_size": 364, "crop_size": 320, "hflip": True}
    assert config["train"]["batch_size"] == 16 and config["train"]["epochs"] == 3
    assert config["train"]["lr"] == 1e-4 and config["train"]["betas"] == [0.9, 0.999]
    assert config["dataset"]["source"] == "chexpert"


@pytest.mark.parametrize(
    ("path", "value", "fragments"),
    [
        (("experiments", "frontal", "views"), "lateral", ["'lateral' is not one of ['both', 'frontal']", "['views']"]),
        (("experiments", "scratch", "init"), "random", ["'random' is not one of ['pretrained', 'scratch', 'frozen']"]),
        (("experiments", "baseline", "uncertainty"), "u-ones",
         ["'u-ones' is not one of ['multiclass', 'ones', 'zeros', 'ignore']"]),
        (("experiments", "baseline", "seeds"), [], ["[] should be non-empty", "['seeds']"]),
        (("dataset", "source"), "mimic", ["'mimic' is not one of ['phantom', 'chexpert']"]),
        (("labels", "blank"), "zero", ["'zero' is not one of ['negative', 'ignore']"]),
        (("experiments", "baseline", "augment"), True, ["Additional properties are not allowed ('augment'"]),
    ],
)
def test_bad_values_name_the_key_and_allowed_values(path, value, fragments):
    config = copy.deepcopy(load("config.yaml"))
    node = config
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(WorkflowError) as info:
        validate(config, SCHEMA)
    for fragment in fragments:
        assert fragment in str(info.value)


def test_a_new_experiment_is_a_config_edit():
    config = load("config.yaml")
    config["experiments"]["frontal_ones"] = {
        "views": "frontal", "normalization": "dataset", "init": "scratch", "uncertainty": "ones", "seeds": [0, 1, 2],
    }  # fmt: skip
    validate(config, SCHEMA)

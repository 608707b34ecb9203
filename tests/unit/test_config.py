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


def schema() -> dict:
    return yaml.safe_load(open(SCHEMA))


@pytest.mark.parametrize("name", ["config.yaml", "chexpert.yaml", "claims.yaml"])
def test_the_shipped_configs_have_no_problem(name):
    from chexpertnet.plan import config_checks

    config = load(name) if name != "claims.yaml" else {**load("config.yaml"), **load(name)}
    assert config_checks.schema_problems(config, schema()) == []


@pytest.mark.parametrize(
    ("edit", "lines"),
    [
        (lambda c: c["train"].update(epoch=3), ["`train.epoch` is not a setting: did you mean `epochs`?"]),
        (lambda c: c["experiments"]["baseline"].update(uncertanty="ones"),
         ["`experiments.baseline.uncertanty` is not a setting: did you mean `uncertainty`?"]),
        (lambda c: c["image"].update(zoom=2), ["`image.zoom` is not a setting: the keys allowed here are cache_size, "
                                              "crop_size, hflip"]),
        (lambda c: c.update(experiment={}), ["`experiment` is not a setting: did you mean `experiments`?"]),
        (lambda c: [c.pop("dataset"), c.pop("image")], [
            "the section `dataset` is missing: a config given with --configfile replaces the built-in default, so it "
            "needs its own `dataset:` section (copy it from config/config.yaml)",
            "the section `image` is missing: a config given with --configfile replaces the built-in default, so it "
            "needs its own `image:` section (copy it from config/config.yaml)"]),
        (lambda c: c["image"].pop("crop_size"), ["`image.crop_size` is missing: set it (see config/config.yaml for an "
                                                "example)"]),
        (lambda c: c["train"].update(lr="fast"), ["`train.lr`: 'fast' is not of type 'number'"]),
    ],
    ids=["misspelled", "misspelled-in-experiment", "unknown-no-near-key", "misspelled-section", "missing-sections",
         "missing-key", "wrong-type"],
)  # fmt: skip
def test_each_schema_problem_is_one_line_naming_the_key(edit, lines):
    from chexpertnet.plan import config_checks

    config = copy.deepcopy(load("config.yaml"))
    edit(config)
    assert config_checks.schema_problems(config, schema()) == lines
    with pytest.raises(config_checks.ConfigError) as error:
        config_checks.refuse(lines, "config")
    assert str(error.value).splitlines() == [f"config: {len(lines)} problem(s), nothing was run:",
                                             *(f"  - {line}" for line in lines)]  # fmt: skip


def test_cross_problems_refuse_a_crop_larger_than_the_cache_and_accept_equal_sizes():
    from chexpertnet.plan import config_checks

    config = load("config.yaml")
    validate(config, SCHEMA)
    assert config_checks.cross_problems(config) == []
    config["image"].update(cache_size=100, crop_size=100)
    assert config_checks.cross_problems(config) == []
    config["image"].update(crop_size=101)
    assert config_checks.cross_problems(config) == [
        "`image.crop_size` (101) is larger than `image.cache_size` (100): the training crops crop_size pixels out of "
        "images cached at cache_size; make crop_size at most cache_size (the paper: 320 out of 364)"
    ]


def test_more_than_eight_problems_are_counted_not_listed():
    from chexpertnet.plan import config_checks

    with pytest.raises(config_checks.ConfigError) as error:
        config_checks.refuse([f"p{i}" for i in range(11)], "config")
    assert str(error.value).splitlines()[-1] == "  ... and 3 more" and len(str(error.value).splitlines()) == 10


def test_the_phantom_refuses_the_full_resolution_folder_and_real_data_takes_either():
    from chexpertnet.plan import config_checks

    config = load("config.yaml")
    validate(config, SCHEMA)
    config["dataset"]["folder"] = "CheXpert-v1.0"
    [problem] = config_checks.cross_problems(config)
    assert problem.startswith("`dataset.folder` is 'CheXpert-v1.0', but the phantom is a drop-in for "
                              "CheXpert-v1.0-small")  # fmt: skip
    config["dataset"].update(source="chexpert", root="/data")
    assert config_checks.cross_problems(config) == []

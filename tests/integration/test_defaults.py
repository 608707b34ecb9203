"""One source of defaults: a key left out of a user's config gets config/config.yaml's value (the schema's defaults
are those values), so a minimal config plans the built-in default's phantom and pretraining."""

from __future__ import annotations

import copy
import re

import pytest
import yaml
from snakemake.utils import validate

from conftest import REPO
from workflow_helpers import copy_workflow, snakemake

pytestmark = pytest.mark.integration
SCHEMA = str(REPO / "workflow/schemas/config.schema.yaml")
DEFAULT = yaml.safe_load((REPO / "config/config.yaml").read_text())
# what a user must give (the schema requires it): the dataset, the image sizes and the experiments
MINIMAL = {"dataset": {"name": "mine", "source": "phantom"}, "image": {"cache_size": 110, "crop_size": 96},
           "experiments": {"baseline": DEFAULT["experiments"]["baseline"]}}  # fmt: skip


def leaves(tree: dict, path: tuple = ()) -> dict[tuple, object]:
    out = {}
    for key, value in tree.items():
        if isinstance(value, dict) and value and key != "experiments":
            out |= leaves(value, (*path, key))
        elif key != "experiments":
            out[(*path, key)] = value
    return out


def test_every_key_left_out_gets_the_built_in_defaults_value():
    config = copy.deepcopy(MINIMAL)
    validate(config, SCHEMA)  # fills in the schema's defaults, as the Snakefile does
    filled, default = leaves(config), leaves(DEFAULT)
    different = {k: (filled.get(k, "<missing>"), v) for k, v in default.items()
                 if k[0] != "dataset" and filled.get(k, "<missing>") != v}  # fmt: skip
    assert different == {}, "schema default != config/config.yaml (left: filled in, right: config.yaml)"


def planned_commands(workdir, *args) -> dict[str, str]:
    """The shell command of the phantom and the pretraining in a dry run, with the dataset's name taken out."""
    text = snakemake(workdir, "-n", "-p", *args).stdout
    found = {}
    for rule, marker in (("phantom", " -m chexpertnet phantom "), ("pretrain", " -m chexpertnet pretrain ")):
        lines = [line.strip() for line in text.splitlines() if marker in line]
        assert len(lines) == 1, f"{rule}: {lines}"
        found[rule] = re.sub(r"results/[\w-]+/", "results/NAME/", lines[0])
    return found


def test_a_minimal_config_plans_the_defaults_phantom_and_pretraining(tmp_path):
    workdir = copy_workflow(tmp_path / "wf")
    (workdir / "config/minimal.yaml").write_text(yaml.safe_dump(MINIMAL))
    mine = planned_commands(workdir, "--configfile", "config/minimal.yaml")
    default = planned_commands(workdir)
    assert mine == default
    assert "--train-patients 200" in mine["phantom"] and "--size 48 --steps 120" in mine["pretrain"]

"""A plan before the data: the shipped paper config dry-runs with dataset.root unset (sizes as published) and shows
its jobs and cluster requests; a real run still stops at the root check."""

from __future__ import annotations

import math
import re

import pytest

from chexpertnet.plan import workflow as plan
from workflow_helpers import copy_workflow, planned_jobs, snakemake

pytestmark = pytest.mark.integration


def test_the_paper_config_plans_without_its_data_and_runs_only_with_it(tmp_path):
    workdir = copy_workflow(tmp_path / "wf")
    result = snakemake(workdir, "-n", "--configfile", "config/chexpert.yaml", "--workflow-profile", "profiles/slurm")
    text = result.stdout + result.stderr
    assert "dataset.root is not set: a plan only" in text and "223,414 train and 234 valid images" in text
    jobs = planned_jobs(result)
    assert jobs["train"] == 18 and jobs["validate"] == 1 and jobs["cache"] == 2
    # the trainings' requests, from the published sizes: 223,414 images x epochs at 243.8 images/s, x2, + 30 min
    runtimes = [int(m) for m in re.findall(r"runtime=(\d+), gpu=1", text.split("Job stats")[1])]
    three, nine = math.ceil(30 + 2 * 223_414 * 3 / 243.8 / 60), math.ceil(30 + 2 * 223_414 * 9 / 243.8 / 60)
    assert sorted(set(runtimes)) == [three, nine] and runtimes.count(nine) == 3  # scratch_9ep's three seeds
    cache_mb = 223_414 * 364**2 / 2**20  # every training's memory request holds the whole train cache
    mems = {int(m) for m in re.findall(r"mem_mb=(\d+)[^\n]*gpu=1", text)}
    assert len(mems) == 1 and cache_mb < mems.pop() < cache_mb + 12_000

    run = snakemake(workdir, "--configfile", "config/chexpert.yaml", check=False)
    assert run.returncode != 0
    assert "config: dataset.root is not set; set it to the folder that contains CheXpert-v1.0-small/" in run.stderr
    assert not (workdir / "results" / "chexpert").exists()


@pytest.mark.parametrize(("argv", "dry"), [
    (["snakemake", "-n"], True), (["snakemake", "--cores", "2", "-np"], True), (["snakemake", "--dry-run"], True),
    (["snakemake", "--dryrun"], True), (["snakemake", "--cores", "all"], False), (["snakemake", "-p"], False),
    (["snakemake", "--configfile", "config/n.yaml"], False),
])  # fmt: skip
def test_a_dry_run_is_read_from_snakemakes_command_line(argv, dry):
    assert plan.is_dry_run(argv) is dry

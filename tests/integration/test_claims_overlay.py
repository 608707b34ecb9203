"""The claims overlay adds to the default's results: after a finished run, `--configfile <config> config/claims.yaml`
trains only the longer from-scratch experiment, reuses the data, the pretraining and every other model, and its
claims table decides claim 6."""

from __future__ import annotations

import shutil

import pytest
import yaml

from conftest import REPO
from workflow_helpers import planned_jobs, snakemake

pytestmark = pytest.mark.integration


def test_the_overlay_trains_only_the_longer_experiment(tiny_run, tmp_path):
    workdir = tmp_path / "wf"
    shutil.copytree(tiny_run, workdir, symlinks=True)
    shutil.copy(REPO / "config/claims.yaml", workdir / "config/claims.yaml")
    overlay = yaml.safe_load((workdir / "config/claims.yaml").read_text())
    assert set(overlay) == {"experiments"}  # it changes nothing else, so nothing else goes stale
    results = workdir / "results/phantom"
    models = {p: p.read_bytes() for p in results.glob("models/*/seed*/model.pt")}
    assert len(models) == 5
    claims = (results / "tables/claims.md").read_text()
    row = next(line for line in claims.splitlines() if line.startswith("| 6 "))
    assert row.endswith("| inconclusive (not run) |")

    plan = planned_jobs(snakemake(workdir, "-n", "--configfile", "config/tiny.yaml", "config/claims.yaml"))
    assert plan["train"] == 1
    for rule in ("phantom", "validate", "cache", "manifest", "stats", "pretrain_synthetic", "cam"):
        assert plan[rule] == 0, plan
    # run it with 3 epochs instead of 9 (the tiny run's experiments train 2): the same plan, a third of the time
    (workdir / "config/short.yaml").write_text(yaml.safe_dump({"experiments": {"scratch_9ep": {"epochs": 3}}}))
    snakemake(workdir, "--configfile", "config/tiny.yaml", "config/claims.yaml", "config/short.yaml")
    assert (results / "models/scratch_9ep/seed0/model.pt").exists()
    assert {p: p.read_bytes() for p in models} == models  # the default's five models, untouched
    claims = (results / "tables/claims.md").read_text()
    row = next(line for line in claims.splitlines() if line.startswith("| 6 "))
    assert "not run" not in row and "scratch_9ep − baseline" in row
    assert any(verdict in row for verdict in ("supported", "contradicted", "inconclusive"))

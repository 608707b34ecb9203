"""`make clean-results` removes the built-in default's results but keeps the archived table versions, other
datasets' results and Snakemake's records (.snakemake/, with the SLURM logs of real-data runs)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from conftest import REPO


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_clean_results_keeps_the_archive(tmp_path):
    results = tmp_path / "results/phantom"
    for file in ("archive/tables/v1/comparison.md", "models/baseline/seed0/model.pt", "tables/comparison.md",
                 "report.html"):  # fmt: skip
        (results / file).parent.mkdir(parents=True, exist_ok=True)
        (results / file).write_text("x")
    (tmp_path / "results/chexpert/tables").mkdir(parents=True)  # another dataset's results are not the default's
    # a real-data run's records are not the default's
    slurm_log = tmp_path / ".snakemake/slurm_logs/rule_train/1234.log"
    slurm_log.parent.mkdir(parents=True)
    slurm_log.write_text("x")
    subprocess.run(["make", "-s", "-f", str(REPO / "Makefile"), "clean-results"], cwd=tmp_path, check=True)
    assert sorted(p.name for p in results.iterdir()) == ["archive"]
    assert (results / "archive/tables/v1/comparison.md").read_text() == "x"
    assert (tmp_path / "results/chexpert/tables").is_dir() and slurm_log.read_text() == "x"
    subprocess.run(["make", "-s", "-f", str(REPO / "Makefile"), "clean-results"], cwd=tmp_path, check=True)  # twice
    shutil.rmtree(tmp_path / "results")
    subprocess.run(["make", "-s", "-f", str(REPO / "Makefile"), "clean-results"], cwd=tmp_path, check=True)  # none

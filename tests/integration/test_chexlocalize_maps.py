"""Turning on `cam.chexlocalize_maps` after a finished run writes the maps and reruns nothing else: the plan is the
maps' step (one per CAM run) and the report (which shows the config); the models and tables stay as they were; the
pickles written are CheXlocalize's, and `chexpertnet localize` scores them to the CAM step's own table."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys

import pandas as pd
import pytest
import yaml

from workflow_helpers import planned_jobs, snakemake

pytestmark = pytest.mark.integration


def fingerprints(folder) -> dict[str, tuple[str, int]]:
    """Content and modification time of every file under ``folder`` but the maps."""
    return {str(p.relative_to(folder)): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file() and "chexlocalize_maps" not in p.parts}  # fmt: skip


def test_switching_the_maps_on_runs_only_their_step(tiny_run, tmp_path):
    workdir = tmp_path / "wf"
    shutil.copytree(tiny_run, workdir, symlinks=True)
    results = workdir / "results/phantom"
    config = yaml.safe_load((workdir / "config/tiny.yaml").read_text())
    config["cam"]["chexlocalize_maps"] = True
    (workdir / "config/maps.yaml").write_text(yaml.safe_dump(config))
    before = {part: fingerprints(results / part) for part in ("models", "tables", "cam", "predictions")}

    plan = snakemake(workdir, "--configfile", "config/maps.yaml", "-n")
    assert planned_jobs(plan) == {"chexlocalize_maps": 1, "report": 1}
    snakemake(workdir, "--configfile", "config/maps.yaml")
    assert {part: fingerprints(results / part) for part in before} == before
    assert planned_jobs(snakemake(workdir, "--configfile", "config/maps.yaml", "-n")) == {}

    maps = results / "cam/baseline/seed0/chexlocalize_maps"
    truth = results / "data/gt_segmentations_val.json"
    images = len(yaml.safe_load(truth.read_text()))  # JSON is YAML
    assert len(list(maps.glob("*_map.pkl"))) == 10 * images
    localize = [sys.executable, "-m", "chexpertnet", "localize", "--maps", str(maps), "--truth", str(truth),
                "--out", str(tmp_path / "again.csv")]  # fmt: skip
    done = subprocess.run(localize, cwd=workdir, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(workdir / "workflow")})  # fmt: skip
    assert done.returncode == 0, done.stderr
    scored = pd.read_csv(tmp_path / "again.csv").set_index("pathology")
    step = pd.read_csv(results / "cam/baseline/seed0/chexlocalize.csv").set_index("pathology")
    pd.testing.assert_frame_equal(scored, step, check_exact=False, atol=1e-6)

"""Versioned tables through the real workflow: an identical regeneration adds no version, a config change and a
metrics change each add one, the diff shows exactly what moved, and a killed tables job leaves the archive intact."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from workflow_helpers import snakemake

pytestmark = pytest.mark.integration

ARCHIVE = "results/phantom/archive/tables"
TABLES = "results/phantom/tables"


def versions(workdir: Path) -> list[int]:
    root = workdir / ARCHIVE
    return sorted(int(p.name[1:]) for p in root.iterdir() if p.name.startswith("v") and (p / "version.json").exists())


def set_resamples(workdir: Path, resamples: int) -> None:
    file = workdir / "config/tiny.yaml"
    config = yaml.safe_load(file.read_text())
    config["evaluation"]["resamples"] = resamples
    file.write_text(yaml.safe_dump(config))


def history(workdir: Path) -> pd.DataFrame:
    return pd.read_csv(workdir / TABLES / "history.csv")


def test_versions_follow_content_changes_and_survive_a_kill(tiny_run, tmp_path):
    workdir = tmp_path / "wf"
    shutil.copytree(tiny_run, workdir, symlinks=True)
    # the first run made version 1, shown in the report with the claims
    assert versions(workdir) == [1]
    assert list(history(workdir)["version"]) == [1]
    report = (workdir / "results/phantom/report.html").read_bytes()
    assert b"history.html" in report and b"claims.html" in report and b"latest_diff.html" in report
    first = (workdir / ARCHIVE / "v0001/version.json").read_text()

    # an identical regeneration: the tables job reruns, no version is added
    snakemake(workdir, "--configfile", "config/tiny.yaml", "--forcerun", "tables")
    assert versions(workdir) == [1] and (workdir / ARCHIVE / "v0001/version.json").read_text() == first

    # a config change (the bootstrap's resamples): version 2, and only CIs (and bootstrap p-values) move
    set_resamples(workdir, 500)
    snakemake(workdir, "--configfile", "config/tiny.yaml")
    assert versions(workdir) == [1, 2]
    rows = history(workdir)
    assert rows.loc[1, "changed"] == "config: evaluation.resamples"
    assert rows.loc[0, "mean_auc.baseline"] == rows.loc[1, "mean_auc.baseline"]
    out = tmp_path / "diff.md"
    subprocess.run([sys.executable, "-m", "chexpertnet", "tables-diff", "--archive", str(workdir / ARCHIVE), "--old",
                    "1", "--new", "2", "--out", str(out)], cwd=workdir, check=True,
                   env={**os.environ, "PYTHONPATH": str(workdir / "workflow")})  # fmt: skip
    cells = pd.read_csv(out.with_suffix(".csv"))
    numeric = cells[cells["table"].isin(["baseline", "frontal", "scratch", "dataset_norm", "comparison"])]
    assert set(numeric["column"]) <= {"ci_low", "ci_high", "p", "p_holm"}, set(numeric["column"])
    assert {"ci_low", "ci_high"} <= set(numeric.loc[numeric["table"] == "baseline", "column"])
    text = out.read_text()
    assert "config: evaluation.resamples" in text and "settings.bootstrap_resamples" in text
    # the same diff through Snakemake, and as the report's latest diff
    snakemake(workdir, "results/phantom/tables/diffs/v1-v2.md", "--configfile", "config/tiny.yaml")
    assert (workdir / TABLES / "diffs/v1-v2.md").read_text() == text
    assert (workdir / TABLES / "latest_diff.md").read_text() == text

    # a metrics change: the CIs become 90% intervals; the scores and tables rerun, version 3 says why
    metrics = workdir / "workflow/chexpertnet/evaluate/metrics.py"
    source = metrics.read_text()
    assert "tail = (1 - level) / 2 * 100" in source
    metrics.write_text(source.replace("tail = (1 - level) / 2 * 100", "tail = (1 - level) * 100"))
    snakemake(workdir, "--configfile", "config/tiny.yaml")
    assert versions(workdir) == [1, 2, 3]
    change = history(workdir).loc[2, "changed"]
    assert change.startswith("code: ") and "score" in change and "tables" in change and "config" not in change
    narrower = pd.read_csv(workdir / ARCHIVE / "v0003/baseline.csv").set_index("observation")
    wider = pd.read_csv(workdir / ARCHIVE / "v0002/baseline.csv").set_index("observation")
    mean = "mean (observations with enough patients)"  # the CI'd mean
    assert narrower.loc[mean, "ci_high"] - narrower.loc[mean, "ci_low"] < wider.loc[mean, "ci_high"] - wider.loc[
        mean, "ci_low"]  # fmt: skip
    assert narrower.loc[mean, "auc"] == wider.loc[mean, "auc"]

    # a tables job killed while it archives: the archive keeps versions 1-3 only, the next run adds 4
    set_resamples(workdir, 400)
    marker = tmp_path / "archiving"
    process = subprocess.Popen(
        [sys.executable, "-m", "snakemake", "--cores", "2", "--configfile", "config/tiny.yaml"], cwd=workdir,
        start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, "CHEXPERTNET_PAUSE_ARCHIVE": str(marker)},
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 300
        while not marker.exists():
            assert process.poll() is None, "snakemake ended before the tables job reached the archive"
            assert time.monotonic() < deadline, "the tables job never reached the archive"
            time.sleep(0.1)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    assert versions(workdir) == [1, 2, 3]
    hidden = [p for p in (workdir / ARCHIVE).iterdir() if p.name.startswith(".incoming-")]
    assert hidden and json.loads((hidden[0] / "version.json").read_text())["number"] == 4
    snakemake(workdir, "--unlock", "--configfile", "config/tiny.yaml")  # the killed snakemake's lock
    snakemake(workdir, "--configfile", "config/tiny.yaml", "--rerun-incomplete")
    assert versions(workdir) == [1, 2, 3, 4]
    assert not [p for p in (workdir / ARCHIVE).iterdir() if p.name.startswith(".incoming-")]
    assert list(history(workdir)["version"]) == [1, 2, 3, 4]

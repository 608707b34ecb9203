"""Running the real workflow in tests: a copy of the workflow, a tiny phantom config, snakemake, its job plan."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import yaml

from conftest import REPO

WORKFLOW_FILES = ("Snakefile", "workflow", "config", "envs", "profiles", "README.md", "requirements.lock")
NOTHING_TO_DO = "Nothing to be done (all requested files are present and up to date)."  # Snakemake's own words


def copy_workflow(dest: Path) -> Path:
    """A copy of the workflow (not the results) so tests can run, edit and break it in isolation."""
    dest.mkdir(parents=True)
    for name in WORKFLOW_FILES:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, dest / name)
    return dest


def tiny_config(**overrides) -> dict:
    config = yaml.safe_load((REPO / "config/config.yaml").read_text())
    config["phantom"].update(train_patients=40, valid_patients=20, test_patients=0)
    config["image"].update(cache_size=40, crop_size=32)
    config["synthetic"].update(size=32, steps=3, batch_size=4)
    config["train"].update(epochs=2, batch_size=8, log_every=2, checkpoint_every=5)
    for key, value in overrides.items():
        config[key] = value
    return config


def real_data_config(name: str, root: Path, init: str = "scratch") -> dict:
    """The tiny config on a CheXpert-format dataset at ``root`` (source chexpert), with the baseline experiment only."""
    config = tiny_config()
    config["dataset"] = {"name": name, "source": "chexpert", "root": str(root)}
    config["experiments"] = {
        "baseline": {"views": "both", "normalization": "imagenet", "init": init, "uncertainty": "multiclass",
                     "seeds": [0]},
    }  # fmt: skip
    return config


def chexpert_workflow(tmp_path: Path, train_rows: int | None = None) -> Path:
    """A workflow copy whose config/mine.yaml is config/chexpert.yaml pointed at a small fake CheXpert root; with
    ``train_rows``, its train.csv lists that many images (the hand-made rows repeated under new patients; only the
    first 8 exist as files: enough for a dry run, which reads the CSVs but no image)."""
    import pandas as pd

    from conftest import write_dataset

    workdir = copy_workflow(tmp_path / "wf")
    root = tmp_path / "chexpert-root"
    csvs = write_dataset(root)
    if train_rows is not None:
        rows = pd.read_csv(csvs["train"], dtype=str, keep_default_na=False)
        big = rows.iloc[np.arange(train_rows) % len(rows)].reset_index(drop=True)
        patient = big["Path"].str.extract(r"/patient(\d+)/", expand=False).astype(int)
        patient += 100 * (np.arange(train_rows) // len(rows))  # the hand-made patients are numbered below 100
        big["Path"] = [re.sub(r"/patient\d+/", f"/patient{n:07d}/", path)
                       for path, n in zip(big["Path"], patient, strict=True)]  # fmt: skip
        big.to_csv(csvs["train"], index=False, lineterminator="\n")
    config = yaml.safe_load((REPO / "config/chexpert.yaml").read_text())
    config["dataset"]["root"] = str(root)
    (workdir / "config/mine.yaml").write_text(yaml.safe_dump(config))
    return workdir


def snakemake(workdir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "--cores", "2", *args], cwd=workdir, capture_output=True, text=True,
        timeout=600,
    )  # fmt: skip
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


def planned_jobs(result: subprocess.CompletedProcess) -> Counter:
    """{rule: count} from the 'Job stats' table of a `snakemake -n` run, without the `all` target; empty only when
    Snakemake says it has nothing to do. Any other output (a changed format) fails loudly."""
    text = result.stdout + result.stderr
    if "Job stats" not in text:
        if NOTHING_TO_DO in text:
            return Counter()
        raise AssertionError(f"snakemake printed neither a job table nor {NOTHING_TO_DO!r}:\n{text[-3000:]}")
    table = text.split("Job stats", 1)[1].split("\n\n", 1)[0]
    jobs = Counter()
    for line in table.splitlines():
        m = re.fullmatch(r"(\w+)\s+(\d+)", line.strip())
        if m and m.group(1) not in ("all", "total"):
            jobs[m.group(1)] = int(m.group(2))
    if not jobs:
        raise AssertionError(f"no jobs could be read from snakemake's job table:\n{table}")
    return jobs

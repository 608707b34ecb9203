"""Shared fixtures: a tiny hand-made CheXpert-format dataset (independent of the phantom generator)."""

from __future__ import annotations

import fcntl
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow"))

from chexpertnet.observations import CSV_COLUMNS, OBSERVATIONS  # noqa: E402

# (patient, study, view_index, view) for train and valid
TRAIN_IMAGES = [
    (1, 1, 1, "frontal"), (1, 1, 2, "lateral"),
    (2, 1, 1, "frontal"), (2, 2, 1, "frontal"), (2, 2, 2, "lateral"), (2, 3, 1, "lateral"),
    (3, 1, 1, "frontal"),
    (4, 1, 1, "lateral"),  # lateral-only patient
]  # fmt: skip
VALID_IMAGES = [(10, 1, 1, "frontal"), (10, 1, 2, "lateral"), (11, 1, 1, "frontal")]


def image_path(split: str, patient: int, study: int, view_index: int, view: str) -> str:
    return f"CheXpert-v1.0-small/{split}/patient{patient:05d}/study{study}/view{view_index}_{view}.jpg"


def write_dataset(root: Path, size: tuple[int, int] = (48, 40), seed: int = 0) -> dict[str, Path]:
    """Write a tiny valid dataset under root; return the two CSV paths."""
    rng = np.random.default_rng(seed)
    csvs = {}
    for split, images in (("train", TRAIN_IMAGES), ("valid", VALID_IMAGES)):
        rows = []
        for i, (patient, study, view_index, view) in enumerate(images):
            path = image_path(split, patient, study, view_index, view)
            file = root / path
            file.parent.mkdir(parents=True, exist_ok=True)
            h, w = size if view == "frontal" else (size[1], size[1])
            Image.fromarray(rng.integers(0, 256, (h, w), dtype=np.uint8), "L").save(file, quality=90)
            choices = ["1.0", "0.0", "-1.0", ""] if split == "train" else ["1.0", "0.0"]
            labels = [choices[(i + j) % len(choices)] for j in range(len(OBSERVATIONS))]
            rows.append([path, "Female", "60", view.capitalize(), "AP" if view == "frontal" else "", *labels])
        csvs[split] = root / "CheXpert-v1.0-small" / f"{split}.csv"
        pd.DataFrame(rows, columns=list(CSV_COLUMNS)).to_csv(csvs[split], index=False, lineterminator="\n")
    return csvs


@pytest.fixture
def dataset(tmp_path: Path) -> tuple[Path, dict[str, Path]]:
    root = tmp_path / "data"
    return root, write_dataset(root)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    """A copy of the workflow that has run to completion on the tiny phantom config (config/tiny.yaml), shared by
    the integration tests. Read-only: a test that edits it, reruns a step in it or adds a file to it works on its
    own copy (``shutil.copytree(tiny_run, tmp_path / "wf", symlinks=True)``), so no test depends on the order the
    tests run in (a copy in another folder plans the report again: the report step's parameters name the Snakefile's
    path). Under pytest-xdist the run is made once, by the first worker that asks for it (the others wait on a file
    lock in the test run's shared temporary folder), and every worker reads that one."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return _run_tiny_workflow(tmp_path_factory.mktemp("wf") / "wf")
    shared = tmp_path_factory.getbasetemp().parent / "tiny_run"  # the same folder for every worker of this run
    shared.mkdir(exist_ok=True)
    with (shared / "lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if (shared / "failed").exists():
            raise AssertionError(f"the shared tiny run failed in another worker:\n{(shared / 'failed').read_text()}")
        if not (shared / "done").exists():
            try:
                _run_tiny_workflow(shared / "wf")
            except BaseException as error:
                (shared / "failed").write_text(str(error))
                raise
            (shared / "done").touch()
    return shared / "wf"


def _run_tiny_workflow(workdir: Path) -> Path:
    import yaml

    from workflow_helpers import copy_workflow, snakemake, tiny_config

    workdir = copy_workflow(workdir)
    (workdir / "config/tiny.yaml").write_text(yaml.safe_dump(tiny_config()))
    snakemake(workdir, "--configfile", "config/tiny.yaml")
    return workdir


def _results_files() -> dict[str, int]:
    results = REPO / "results"
    return {str(p.relative_to(results)): p.stat().st_mtime_ns for p in results.rglob("*") if p.is_file()}


@pytest.fixture(scope="session", autouse=True)
def results_left_alone():
    """The suite writes nothing in the checkout's results/ (the README promises it): every workflow a test runs is
    a copy in a temporary folder. Checked over the whole session; under pytest-xdist over each worker's, which
    spans every test that worker runs, so a write is seen by the worker whose test made it."""
    before = _results_files()
    yield
    after = _results_files()
    changed = sorted(k for k in after if before.get(k) != after[k])
    assert not changed, f"tests wrote into results/: {changed[:5]}"

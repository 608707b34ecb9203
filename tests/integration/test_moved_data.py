"""Moving the data: a new `dataset.root` holding the same files re-runs validation only (the models, caches and
tables stay, byte for byte and untouched), the steps read the images at the new place from then on, and a changed
CSV at the new place still re-runs what reads it."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml
from test_learning import write_signature_dataset

from workflow_helpers import copy_workflow, planned_jobs, real_data_config, snakemake

pytestmark = pytest.mark.integration

RESULTS = "results/moved"


def fingerprints(folder: Path) -> dict[str, tuple[str, int]]:
    """(SHA-256, mtime_ns) of every file under ``folder`` except logs and benchmarks."""
    out = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if path.is_file() and not path.is_symlink() and not rel.startswith(("logs/", "benchmarks/")):
            out[rel] = (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns)
    return out


def write_config(workdir: Path, root: Path) -> None:
    config = real_data_config("moved", root)
    config["train"].update(epochs=1)
    (workdir / "config/moved.yaml").write_text(yaml.safe_dump(config))


def test_moving_the_data_revalidates_only_and_a_changed_csv_reruns_its_readers(tmp_path):
    old_root, new_root = tmp_path / "old", tmp_path / "new"
    write_signature_dataset(old_root, train_patients=40, valid_patients=16)
    workdir = copy_workflow(tmp_path / "wf")
    write_config(workdir, old_root)
    snakemake(workdir, "--configfile", "config/moved.yaml")
    results = workdir / RESULTS
    before = fingerprints(results)
    # the nested report ran on the data's own root (the view's links resolved), not on the view: no cycle
    report_log = (results / "logs/report.log").read_text()
    assert "Report created" in report_log and "Cyclic" not in report_log
    assert "models/baseline/seed0/model.pt" in before and "tables/baseline.csv" in before

    # a copy of the data elsewhere, every file with a new modification time, and the old place gone
    shutil.copytree(old_root, new_root)
    for path in new_root.rglob("*"):
        os.utime(path)  # now: newer than every output
    shutil.rmtree(old_root)
    write_config(workdir, new_root)
    plan = planned_jobs(snakemake(workdir, "-n", "--configfile", "config/moved.yaml"))
    assert plan == {"validate": 1}, plan
    snakemake(workdir, "--configfile", "config/moved.yaml")
    after = fingerprints(results)
    changed = sorted(k for k in before if after.get(k) != before[k])
    # validation ran again; its report and the view's CSV copies have the same content
    assert changed == ["data/validated/CheXpert-v1.0-small/train.csv", "data/validated/CheXpert-v1.0-small/valid.csv",
                       "validation.json"], changed  # fmt: skip
    assert all(after[k][0] == before[k][0] for k in changed)
    view = results / "data/validated/CheXpert-v1.0-small"
    for split in ("train", "valid"):
        assert (view / split).resolve() == (new_root / "CheXpert-v1.0-small" / split).resolve()
    assert planned_jobs(snakemake(workdir, "-n", "--configfile", "config/moved.yaml")) == {}

    # the steps now read the new place: a changed label there re-runs validation and everything that reads valid
    csv = new_root / "CheXpert-v1.0-small/valid.csv"
    labels = pd.read_csv(csv, dtype=str, keep_default_na=False)
    labels.loc[0, "Edema"] = "1.0" if labels.loc[0, "Edema"] == "0.0" else "0.0"
    labels.to_csv(csv, index=False, lineterminator="\n")
    plan = planned_jobs(snakemake(workdir, "-n", "--configfile", "config/moved.yaml"))
    assert {"validate", "cache", "manifest", "train", "score", "tables"} <= set(plan), plan
    assert plan["cache"] == 1 and plan["manifest"] == 1, plan  # the valid split's; train.csv did not change
    snakemake(workdir, "--configfile", "config/moved.yaml")
    copied = pd.read_csv(view / "valid.csv", dtype=str, keep_default_na=False)
    assert copied.loc[0, "Edema"] == labels.loc[0, "Edema"]
    assert fingerprints(results)["models/baseline/seed0/model.pt"] != after["models/baseline/seed0/model.pt"]

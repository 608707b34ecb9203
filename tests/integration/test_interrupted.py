"""Surviving failure: SIGKILL of the whole `snakemake` during training, then the same command again, resumes the
training from its checkpoint and ends with the same tables as an uninterrupted run; concurrent jobs never share a
file; readers never see a half-written output."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter

import pytest
import yaml

from chexpertnet.fileio import write_bytes
from workflow_helpers import copy_workflow, snakemake, tiny_config

pytestmark = pytest.mark.integration


def test_sigkill_during_training_then_rerun_resumes_and_matches_an_uninterrupted_run(tiny_run, tmp_path):
    workdir = copy_workflow(tmp_path / "wf")
    (workdir / "config/tiny.yaml").write_text(yaml.safe_dump(tiny_config()))
    state = workdir / "results/phantom/state"
    models = workdir / "results/phantom/models"
    command = [sys.executable, "-m", "snakemake", "--cores", "2", "--configfile", "config/tiny.yaml"]
    process = subprocess.Popen(command, cwd=workdir, start_new_session=True, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)  # fmt: skip
    killed_during = None
    deadline = time.monotonic() + 400
    try:
        while time.monotonic() < deadline and process.poll() is None:
            for resume in state.glob("*/seed0/resume.pt"):
                experiment = resume.parent.parent.name
                if not (models / experiment / "seed0/model.pt").exists():
                    killed_during = experiment
                    break
            if killed_during:
                os.killpg(process.pid, signal.SIGKILL)  # snakemake and every job it started
                break
            time.sleep(0.02)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    assert killed_during, "no training was caught between its first checkpoint and its end"
    assert not (models / killed_during / "seed0/model.pt").exists()

    result = snakemake(workdir, "--configfile", "config/tiny.yaml", check=False)
    if "cannot be locked" in result.stdout + result.stderr:  # the killed run's lock; Snakemake says to --unlock
        snakemake(workdir, "--configfile", "config/tiny.yaml", "--unlock")
        result = snakemake(workdir, "--configfile", "config/tiny.yaml", check=False)
    if result.returncode != 0 and "--rerun-incomplete" in result.stdout + result.stderr:
        result = snakemake(workdir, "--configfile", "config/tiny.yaml", "--rerun-incomplete", check=False)
    assert result.returncode == 0, result.stdout + result.stderr

    log = (workdir / f"results/phantom/logs/train/{killed_during}/seed0.log").read_text()
    resumed = [r for r in (_json(line) for line in log.splitlines()) if r and r.get("event") == "resumed"]
    assert resumed and resumed[0]["step"] > 0, f"{killed_during} did not resume from its checkpoint:\n{log}"

    tables = workdir / "results/phantom/tables"
    reference = tiny_run / "results/phantom/tables"
    names = sorted(p.name for p in reference.iterdir() if not p.name.endswith(".provenance.json"))
    assert names and names == sorted(p.name for p in tables.iterdir() if not p.name.endswith(".provenance.json"))
    for name in names:
        assert (tables / name).read_bytes() == (reference / name).read_bytes(), f"{name} differs after the resume"


def _json(line: str):
    try:
        value = json.loads(line)
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def test_concurrent_jobs_never_share_an_output_or_a_state_folder(tmp_path):
    workdir = copy_workflow(tmp_path / "wf")
    config = tiny_config()
    config["experiments"]["baseline"]["seeds"] = [0, 1, 2]
    (workdir / "config/many.yaml").write_text(yaml.safe_dump(config))
    result = snakemake(workdir, "--configfile", "config/many.yaml", "-n", "--printshellcmds")
    text = result.stdout + result.stderr
    outputs = Counter()
    for line in text.splitlines():
        if line.strip().startswith("output:"):
            outputs.update(o.strip() for o in line.split(":", 1)[1].split(","))
    shared = [o for o, n in outputs.items() if n > 1]
    assert outputs and not shared, f"outputs made by more than one job: {shared}"
    state_dirs = re.findall(r"--state-dir (\S+)", text)
    assert len(state_dirs) == 6 and len(set(state_dirs)) == 6, state_dirs


def test_a_reader_never_sees_a_half_written_file(tmp_path):
    target = tmp_path / "table.csv"
    versions = [bytes([65 + i]) * (4 << 20) for i in range(6)]  # 4 MiB each, all one letter
    write_bytes(target, versions[0])
    seen, stop = set(), threading.Event()

    def read():
        while not stop.is_set():
            data = target.read_bytes()
            seen.add((len(data), data[:1], data[-1:]))

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for data in versions[1:] * 3:
            write_bytes(target, data)
    finally:
        stop.set()
        reader.join()
    assert all(n == 4 << 20 and first == last for n, first, last in seen), seen
    assert not [p for p in tmp_path.iterdir() if p.name != "table.csv"], "temporary files left behind"

"""Surviving failure: SIGKILL of the whole `snakemake` at a known step of a training, then the same command again,
resumes the training from that step and ends with the weights of an uninterrupted run; after a change of its inputs
the partial state is not resumed; concurrent trainings never share a state folder; readers never see a half-written
output."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch
import yaml

from chexpertnet.fileio import write_bytes
from chexpertnet.train.faults import PAUSE_ENV
from workflow_helpers import copy_workflow, snakemake, tiny_config

pytestmark = pytest.mark.integration


PAUSE_AT = 5  # the tiny baseline trains 2 epochs of 7 steps and checkpoints every 5: step 5 is mid-epoch 1
RESULTS = Path("results/phantom")
MODEL = str(RESULTS / "models/baseline/seed0/model.pt")
STATE = RESULTS / "state/baseline/seed0"


@pytest.fixture(scope="module")
def killed(tiny_run, tmp_path_factory) -> Path:
    """A copy of the finished tiny run whose baseline training was rerun and SIGKILLed, together with the whole
    `snakemake`, right after it wrote its checkpoint at step PAUSE_AT (the training pauses there: PAUSE_ENV)."""
    workdir = tmp_path_factory.mktemp("killed") / "wf"
    shutil.copytree(tiny_run, workdir, symlinks=True)
    command = [sys.executable, "-m", "snakemake", MODEL, "--cores", "2", "--configfile", "config/tiny.yaml",
               "--forcerun", "train"]  # fmt: skip
    process = subprocess.Popen(command, cwd=workdir, start_new_session=True, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, env={**os.environ, PAUSE_ENV: str(PAUSE_AT)})  # fmt: skip
    marker = workdir / STATE / f"paused-at-step{PAUSE_AT}"
    try:
        deadline = time.monotonic() + 300
        while not marker.exists():
            assert process.poll() is None, f"snakemake ended before the pause:\n{process.stdout.read()}"
            assert time.monotonic() < deadline, "the training did not reach its pause"
            time.sleep(0.05)
    finally:
        os.killpg(process.pid, signal.SIGKILL)  # snakemake and every job it started
        process.wait()
    assert (workdir / STATE / "resume.pt").exists() and not (workdir / MODEL).exists()
    # --forcerun trained from step 0: the finished run left no state to resume, and nothing was resumed
    log = train_log(workdir)
    assert not [r for r in log if r.get("event") in ("resumed", "resume_discarded")], log
    assert [r["step"] for r in log if r.get("event") == "paused"] == [PAUSE_AT]
    return workdir


def rerun(workdir: Path, config: str) -> None:
    """The same command again, as a user would after a crash (unlocking and rerunning incomplete jobs if asked)."""
    result = snakemake(workdir, MODEL, "--configfile", config, check=False)
    if "cannot be locked" in result.stdout + result.stderr:  # the killed run's lock; Snakemake says to --unlock
        snakemake(workdir, "--configfile", config, "--unlock")
        result = snakemake(workdir, MODEL, "--configfile", config, check=False)
    if result.returncode != 0 and "--rerun-incomplete" in result.stdout + result.stderr:
        result = snakemake(workdir, MODEL, "--configfile", config, "--rerun-incomplete", check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def _json(line: str):
    try:
        value = json.loads(line)
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def train_log(workdir: Path) -> list[dict]:
    log = (workdir / RESULTS / "logs/train/baseline/seed0.log").read_text()
    return [r for r in (_json(line) for line in log.splitlines()) if r]


def test_sigkill_during_training_then_rerun_resumes_and_matches_an_uninterrupted_run(killed, tiny_run, tmp_path):
    workdir = tmp_path / "wf"
    shutil.copytree(killed, workdir, symlinks=True)
    rerun(workdir, "config/tiny.yaml")
    resumed = [r for r in train_log(workdir) if r.get("event") == "resumed"]
    assert [r["step"] for r in resumed] == [PAUSE_AT]
    throughput = json.loads((workdir / RESULTS / "models/baseline/seed0/throughput.json").read_text())
    reference = json.loads((tiny_run / RESULTS / "models/baseline/seed0/throughput.json").read_text())
    total = reference["steps"]
    assert 0 < throughput["start_step"] == PAUSE_AT < total
    assert throughput["images"] == (total - PAUSE_AT) * 8
    a = torch.load(workdir / MODEL, weights_only=True)
    b = torch.load(tiny_run / MODEL, weights_only=True)
    assert a["step"] == b["step"] == total
    assert all(torch.equal(a["state_dict"][k], b["state_dict"][k]) for k in b["state_dict"]), "not bit-exact"
    history = RESULTS / "models/baseline/seed0/history.jsonl"
    assert (workdir / history).read_text() == (tiny_run / history).read_text()
    assert not (workdir / STATE).exists()


def test_sigkill_then_a_changed_input_does_not_resume_the_partial_state(killed, tmp_path):
    workdir = tmp_path / "wf"
    shutil.copytree(killed, workdir, symlinks=True)
    config = yaml.safe_load((workdir / "config/tiny.yaml").read_text())
    config["labels"]["blank"] = "ignore"  # other manifests and class weights: another job
    (workdir / "config/changed.yaml").write_text(yaml.safe_dump(config))
    rerun(workdir, "config/changed.yaml")
    log = train_log(workdir)
    assert not [r for r in log if r.get("event") == "resumed"]
    [discarded] = [r for r in log if r.get("event") == "resume_discarded"]
    assert "file train_manifest" in discarded["reason"] and "file train_weights" in discarded["reason"]
    throughput = json.loads((workdir / RESULTS / "models/baseline/seed0/throughput.json").read_text())
    manifest = workdir / RESULTS / "manifests/both-multiclass/train.csv"
    assert throughput["start_step"] == 0
    assert throughput["images"] == 2 * ((sum(1 for _ in manifest.open()) - 1) // 8) * 8  # epochs x full batches
    assert not (workdir / STATE).exists()


def test_concurrent_trainings_never_share_a_state_folder(tmp_path):
    """State folders are params, not outputs, so Snakemake would not notice two jobs sharing one."""
    workdir = copy_workflow(tmp_path / "wf")
    config = tiny_config()
    config["experiments"]["baseline"]["seeds"] = [0, 1, 2]
    (workdir / "config/many.yaml").write_text(yaml.safe_dump(config))
    result = snakemake(workdir, "--configfile", "config/many.yaml", "-n", "--printshellcmds")
    state_dirs = re.findall(r"--state-dir (\S+)", result.stdout + result.stderr)
    trainings = sum(len(e["seeds"]) for e in config["experiments"].values())
    assert trainings >= 6 and len(state_dirs) == trainings and len(set(state_dirs)) == trainings, state_dirs


def test_a_reader_never_sees_a_half_written_file(tmp_path, monkeypatch):
    """A reader thread reads the file over and over while it is rewritten. Each write stops halfway through its
    temporary file until the reader has read the file once more (deterministic: threading events, no sleeps), so
    every write is overlapped by a read that sees, beside the half-written temporary file, the whole previous
    version."""
    target = tmp_path / "table.csv"
    size = 4 << 20
    versions = [bytes([65 + i]) * size for i in range(6)]  # 4 MiB each, all one letter
    write_bytes(target, versions[0])
    seen, during_writes, stop = set(), [], threading.Event()
    halfway, read_during = threading.Event(), threading.Event()
    original = Path.write_bytes

    def temporary_files() -> list[Path]:
        return [p for p in tmp_path.iterdir() if p.name != "table.csv"]

    def write_in_two_halves(self: Path, data) -> int:
        if not self.name.startswith(".table.csv."):  # any other file is written as usual
            return original(self, data)
        with self.open("wb") as f:
            f.write(data[: len(data) // 2])
            f.flush()
            halfway.set()
            assert read_during.wait(timeout=60), "the reader did not read during the write"
            read_during.clear()
            return f.write(data[len(data) // 2 :]) + len(data) // 2

    def read():
        while not stop.is_set():
            in_progress = halfway.is_set()
            data = target.read_bytes()
            seen.add((len(data), data[:1], data[-1:]))
            if in_progress:  # the writer is stopped halfway: its temporary file holds half of the new version
                during_writes.append((data[:1], [p.stat().st_size for p in temporary_files()]))
                halfway.clear()
                read_during.set()

    monkeypatch.setattr(Path, "write_bytes", write_in_two_halves)
    reader = threading.Thread(target=read)
    reader.start()
    try:
        for data in versions[1:] * 3:
            write_bytes(target, data)
    finally:
        stop.set()
        reader.join()
    monkeypatch.undo()
    assert all(n == size and first == last for n, first, last in seen), seen
    # one read during each of the 15 writes, each of the whole previous version, beside a half-written temporary file
    previous = [v[:1] for v in (versions[:1] + versions[1:] * 3)[:-1]]
    assert during_writes == [(letter, [size // 2]) for letter in previous], during_writes[:3]
    assert target.read_bytes() == versions[-1]
    assert not temporary_files(), "temporary files left behind"

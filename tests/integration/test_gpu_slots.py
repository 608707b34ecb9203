"""GPU slots without a GPU: a stub `nvidia-smi` lists fake GPUs, and stand-in jobs (gpu_probe.py) claim slots as the
training does, under the real Snakemake with `--resources gpu=N`. Checked from what each job recorded: which
CUDA_VISIBLE_DEVICES it saw and when it held it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from chexpertnet.train import gpuslots
from conftest import REPO

pytestmark = pytest.mark.integration
PROBE = Path(__file__).with_name("gpu_probe.py")
JOBS = 8


DRIVER_DOWN = "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver."


def fake_nvidia_smi(folder: Path, gpus: int | None) -> Path:
    """A folder with a stub nvidia-smi that lists ``gpus`` fake GPUs, or (None) fails as it does without a driver."""
    bin_dir = folder / "bin"
    bin_dir.mkdir(parents=True)
    lines = "\\n".join(f"GPU {i}: NVIDIA Fake {i} (UUID: GPU-0000000{i})" for i in range(gpus or 0))
    script = bin_dir / "nvidia-smi"
    body = f'echo "{DRIVER_DOWN}" >&2; exit 1' if gpus is None else f'[ "$1" = "-L" ] && printf "{lines}\\n"'
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(0o755)
    return bin_dir


def run_jobs(tmp_path: Path, gpus: int | None, per_gpu: int, resources: int, at_once: int | None = None) -> list[dict]:
    """Snakemake runs JOBS probes with ``--resources gpu=<resources>``; each holds its slot until ``at_once`` of them
    (default: ``resources``) hold one at the same time."""
    snakefile = tmp_path / "Snakefile"
    at_once = resources if at_once is None else at_once
    snakefile.write_text(
        f"rule all:\n    input: expand('done/{{i}}', i=range({JOBS}))\n\n"
        f"rule probe:\n    output: 'done/{{i}}'\n    resources: gpu=1\n"
        f"    shell: '{sys.executable} {PROBE} records {JOBS} {at_once} {{wildcards.i}} && touch {{output}}'\n"
    )
    env = {**os.environ, "PATH": f"{fake_nvidia_smi(tmp_path, gpus)}:{os.environ['PATH']}",
           "PYTHONPATH": str(REPO / "workflow"), gpuslots.JOBS_PER_GPU_ENV: str(per_gpu)}  # fmt: skip
    env.pop("CUDA_VISIBLE_DEVICES", None)
    env.pop("SLURM_JOB_ID", None)
    command = [sys.executable, "-m", "snakemake", "-s", str(snakefile), "-d", str(tmp_path), "--cores", str(JOBS),
               "--resources", f"gpu={resources}"]  # fmt: skip
    proc = subprocess.run(command, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return [json.loads(f.read_text()) for f in sorted((tmp_path / "records").glob("*.json"))]


def most_at_once(jobs: list[dict], gpu: str) -> int:
    """The most jobs that held ``gpu`` at the same moment (from their recorded intervals)."""
    held = [j for j in jobs if j["gpu"] == gpu]
    return max(sum(1 for o in held if o["start"] <= j["start"] <= o["end"]) for j in held)


def test_four_gpus_one_job_each(tmp_path):
    jobs = run_jobs(tmp_path, gpus=4, per_gpu=1, resources=4)
    assert len(jobs) == JOBS
    assert sorted({j["gpu"] for j in jobs}) == ["0", "1", "2", "3"]  # all four used
    assert all(most_at_once(jobs, gpu) == 1 for gpu in "0123")  # never two on one GPU
    # and four ran at once (the probes wait for it), so each wave spread over the four GPUs
    assert max(sum(1 for o in jobs if o["start"] <= j["start"] <= o["end"]) for j in jobs) == 4


def test_two_gpus_two_jobs_each(tmp_path):
    jobs = run_jobs(tmp_path, gpus=2, per_gpu=2, resources=4)
    assert sorted({j["gpu"] for j in jobs}) == ["0", "1"]
    assert [most_at_once(jobs, gpu) for gpu in "01"] == [2, 2]  # at most (and, four at once, exactly) two per GPU
    assert {j["slot"] for j in jobs} == {0, 1}


def test_a_failing_nvidia_smi_runs_the_gpu_jobs_one_at_a_time_under_snakemake(tmp_path):
    jobs = run_jobs(tmp_path, gpus=None, per_gpu=2, resources=4, at_once=1)
    assert len(jobs) == JOBS and {j["gpu"] for j in jobs} == {"0"} and {j["slot"] for j in jobs} == {0}
    assert most_at_once(jobs, "0") == 1  # four allowed by Snakemake, two per GPU asked for: still one at a time


CLAIMER = ("import json, os, sys; from chexpertnet.train.gpuslots import claim_for_job; "
           "claim_for_job('cuda', log=lambda r: print(json.dumps(r), file=sys.stderr, flush=True)); "
           "print(os.environ['CUDA_VISIBLE_DEVICES'], flush=True); sys.stdin.read()")  # fmt: skip


def claimer(env: dict) -> subprocess.Popen:
    """A job that claims a slot as the training does, prints its CUDA_VISIBLE_DEVICES and holds it until its stdin
    closes; its log records go to stderr."""
    return subprocess.Popen([sys.executable, "-c", CLAIMER], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip


def next_record(proc: subprocess.Popen) -> dict:
    line = proc.stderr.readline()
    assert line.startswith("{"), line + proc.stderr.read()
    return json.loads(line)


@pytest.mark.parametrize("smi", ["failing", "missing"])
def test_without_a_list_of_the_gpus_jobs_take_gpu_0_one_at_a_time_and_say_why(tmp_path, smi):
    bin_dir = fake_nvidia_smi(tmp_path, None) if smi == "failing" else tmp_path / "empty-bin"
    bin_dir.mkdir(exist_ok=True)
    folder = tmp_path / "slots"
    env = {**os.environ, "PATH": str(bin_dir), "PYTHONPATH": str(REPO / "workflow"),
           gpuslots.SLOTS_DIR_ENV: str(folder), gpuslots.JOBS_PER_GPU_ENV: "2"}  # fmt: skip
    env.pop("CUDA_VISIBLE_DEVICES", None)
    env.pop("SLURM_JOB_ID", None)
    first = claimer(env)
    second = None
    try:
        warning = next_record(first)
        cause = {"failing": f"nvidia-smi -L failed (exit status 1: {DRIVER_DOWN})",
                 "missing": "nvidia-smi is not on the PATH"}[smi]  # fmt: skip
        assert warning["event"] == "gpu_warning" and warning["cause"].startswith(cause), warning
        assert "one job at a time on GPU 0" in warning["fallback"]
        assert "set CUDA_VISIBLE_DEVICES" in warning["fix"] and "nvidia-smi -L" in warning["fix"]
        by = "gpu slots, one job at a time (the GPUs are not known)"
        assert next_record(first) == {"event": "gpu", "gpu": "0", "slot": 0, "gpus": 1, "jobs_per_gpu": 1,
                                      "lock": str(folder / "gpu-0.slot0.lock"), "assigned_by": by}  # fmt: skip
        assert first.stdout.readline().strip() == "0"  # CUDA_VISIBLE_DEVICES set: it sees GPU 0 only
        second = claimer(env)
        assert next_record(second)["event"] == "gpu_warning"
        assert next_record(second)["event"] == "gpu_wait"  # GPU 0's one slot is held: it waits, GPU-less
        assert (folder / "gpu-0.slot0.lock").read_text() == f"{first.pid}\n"
        assert sorted(p.name for p in folder.iterdir()) == ["gpu-0.slot0.lock"]  # no second slot to take
        first.stdin.close()
        assert first.wait(timeout=60) == 0
        assert second.stdout.readline().strip() == "0"  # only now, once the first has ended
        assert next_record(second)["gpu"] == "0"
    finally:
        for proc in (first, second):
            if proc is not None:
                proc.kill()
                proc.wait()


def test_the_cpu_never_asks_for_a_gpu_list():
    def fails(cmd, **kwargs):
        raise AssertionError("nvidia-smi was run for a CPU job")

    environ = {}
    assert gpuslots.claim_for_job("cpu", environ, run=fails) is None and environ == {}


def test_a_killed_jobs_slot_is_free_again(tmp_path):
    folder = tmp_path / "slots"
    env = {**os.environ, "PYTHONPATH": str(REPO / "workflow"), "CUDA_VISIBLE_DEVICES": "7",
           gpuslots.SLOTS_DIR_ENV: str(folder), gpuslots.JOBS_PER_GPU_ENV: "1"}  # fmt: skip
    env.pop("SLURM_JOB_ID", None)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys; from chexpertnet.train.gpuslots import claim_for_job; "
         "print(claim_for_job('cuda')['gpu'], flush=True); sys.stdin.read()"],
        env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "7"  # it holds GPU 7's only slot
        assert gpuslots.try_claim(["7"], 1, folder) is None
        holder.send_signal(signal.SIGKILL)
        assert holder.wait(timeout=60) == -signal.SIGKILL
        slot = gpuslots.try_claim(["7"], 1, folder)
        assert slot is not None and slot.gpu == "7"
        os.close(slot.fd)
    finally:
        holder.kill()


def test_the_pool_is_cuda_visible_devices_else_nvidia_smi(tmp_path):
    assert gpuslots.visible_gpus({"CUDA_VISIBLE_DEVICES": "3, 5"}) == ["3", "5"]
    assert gpuslots.visible_gpus({"CUDA_VISIBLE_DEVICES": ""}) == []
    listed = "GPU 0: NVIDIA H100 (UUID: GPU-a)\nGPU 1: NVIDIA H100 (UUID: GPU-b)\n"

    def smi(cmd, **kwargs):
        assert cmd == ["nvidia-smi", "-L"]
        return subprocess.CompletedProcess(cmd, 0, listed, "")

    assert gpuslots.visible_gpus({}, run=smi) == ["0", "1"]

    def missing(cmd, **kwargs):
        raise FileNotFoundError("nvidia-smi")

    assert gpuslots.visible_gpus({}, run=missing) == []
    with pytest.raises(gpuslots.NoGpuList, match="nvidia-smi is not on the PATH"):
        gpuslots.listed_gpus(run=missing)

    def failing(cmd, **kwargs):
        return subprocess.CompletedProcess(cmd, 9, "", "NVIDIA-SMI has failed\n")

    with pytest.raises(gpuslots.NoGpuList, match=r"nvidia-smi -L failed \(exit status 9: NVIDIA-SMI has failed\)"):
        gpuslots.listed_gpus(run=failing)

    def none(cmd, **kwargs):
        return subprocess.CompletedProcess(cmd, 0, "No devices found.\n", "")

    with pytest.raises(gpuslots.NoGpuList, match=r"listed no GPU \(No devices found.\)"):
        gpuslots.listed_gpus(run=none)
    assert gpuslots.slot_order(["0", "1"], 2) == [("0", 0), ("1", 0), ("0", 1), ("1", 1)]
    with pytest.raises(ValueError, match="CHEXPERTNET_JOBS_PER_GPU='0'"):
        gpuslots.jobs_per_gpu({"CHEXPERTNET_JOBS_PER_GPU": "0"})


def test_slurm_assigns_the_gpu_itself(tmp_path):
    env = {"SLURM_JOB_ID": "42", "CUDA_VISIBLE_DEVICES": "1"}
    assert gpuslots.claim_for_job("cuda", env) == {"gpu": "1", "assigned_by": "slurm"}
    assert env["CUDA_VISIBLE_DEVICES"] == "1" and not (tmp_path / ".snakemake").exists()
    assert gpuslots.claim_for_job("cpu", {}) is None


@pytest.mark.parametrize("command", ["train", "predict"])
def test_the_training_and_the_prediction_claim_a_slot_before_cuda(tmp_path, command):
    env = {**os.environ, "PYTHONPATH": str(REPO / "workflow"), "CUDA_VISIBLE_DEVICES": "2,3",
           gpuslots.SLOTS_DIR_ENV: str(tmp_path / "slots")}  # fmt: skip
    env.pop("SLURM_JOB_ID", None)
    gone = str(tmp_path / "missing")
    args = {"train": ["--experiment", "e", "--seed", "0", "--train-manifest", gone, "--train-weights", gone,
                      "--valid-manifest", gone, "--train-cache", gone, gone, "--valid-cache", gone, gone,
                      "--init", "scratch", "--normalization", "imagenet", "--crop-size", "32", "--state-dir", gone,
                      "--out-model", gone,
                      "--out-history", gone, "--out-config", gone, "--out-throughput", gone],
            "predict": ["--model", gone, "--manifest", gone, "--cache", gone, gone,
                        "--out", gone]}[command]  # fmt: skip
    proc = subprocess.run([sys.executable, "-m", "chexpertnet", command, *args, "--device", "cuda"], env=env,
                          capture_output=True, text=True)  # fmt: skip
    assert proc.returncode != 0  # no inputs (and no GPU): it stops after claiming
    first = json.loads(next(line for line in proc.stderr.splitlines() if line.startswith("{")))
    assert first == {"event": "gpu", "gpu": "2", "slot": 0, "gpus": 2, "jobs_per_gpu": 1,
                     "lock": str(tmp_path / "slots" / "gpu-2.slot0.lock"), "assigned_by": "gpu slots"}  # fmt: skip

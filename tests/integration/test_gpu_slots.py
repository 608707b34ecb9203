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


def fake_nvidia_smi(folder: Path, gpus: int) -> Path:
    bin_dir = folder / "bin"
    bin_dir.mkdir(parents=True)
    lines = "\\n".join(f"GPU {i}: NVIDIA Fake {i} (UUID: GPU-0000000{i})" for i in range(gpus))
    script = bin_dir / "nvidia-smi"
    script.write_text(f'#!/bin/sh\n[ "$1" = "-L" ] && printf "{lines}\\n"\n')
    script.chmod(0o755)
    return bin_dir


def run_jobs(tmp_path: Path, gpus: int, per_gpu: int, resources: int) -> list[dict]:
    snakefile = tmp_path / "Snakefile"
    snakefile.write_text(
        f"rule all:\n    input: expand('done/{{i}}', i=range({JOBS}))\n\n"
        f"rule probe:\n    output: 'done/{{i}}'\n    resources: gpu=1\n"
        f"    shell: '{sys.executable} {PROBE} records {JOBS} {resources} {{wildcards.i}} && touch {{output}}'\n"
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

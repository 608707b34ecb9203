"""The SLURM profile: the tiny phantom workflow on a real one-node SLURM (tests/slurm/cluster.sh), with the same
outputs as a local run, and profiles/slurm's plan for the paper on real CheXpert."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import yaml

from conftest import REPO
from workflow_helpers import chexpert_workflow, copy_workflow, planned_jobs

HERE = Path(__file__).resolve().parent
CLUSTER = HERE / "cluster.sh"
TEST_PROFILE = HERE / "profile"
# Rules that must run as SLURM jobs in the tiny workflow (the rest are checked against the dry run's job list)
CLUSTER_RULES = {"validate", "cache", "manifest", "stats", "pretrain_synthetic", "train", "score"}
# One of the tiny config's experiments, the one that needs every cluster-side step (the synthetic pretraining,
# the dataset statistics); its outputs are compared byte for byte with the shared local run's
SLURM_EXPERIMENTS = ("dataset_norm",)
COMPARED = ("scores", "predictions")
# Installing SLURM changes the system (packages, a munge key, daemons): only when SLURM is there or this is set
ASK = "CHEXPERTNET_TEST_SLURM"
# Wall-clock guard: Snakemake waits forever when it cannot get job states, and ignores SIGTERM while it does
SLURM_RUN_LIMIT_S = 420


def cluster(action: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(CLUSTER), action], env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def slurm_env():
    """Bring the one-node SLURM up (installing it if needed); tear it down afterwards, also after a failure."""
    env = dict(os.environ)
    already_up = cluster("status", env).returncode == 0
    installed = shutil.which("slurmctld") is not None and shutil.which("sbatch") is not None
    if not (already_up or installed or os.environ.get(ASK) == "1"):
        pytest.skip(f"SLURM is not installed here; {ASK}=1 (or `make test-slurm`) installs a one-node SLURM (apt, as "
                    "root: slurmctld, slurmd, munge) and runs this test")  # fmt: skip
    up = cluster("up", env)
    if up.returncode == 77:
        pytest.skip(up.stderr.strip().splitlines()[-1])
    if up.returncode != 0:
        down = cluster("down", env)
        raise AssertionError(f"tests/slurm/cluster.sh up failed:\n{up.stdout}\n{up.stderr}\n{down.stderr}")
    env["SLURM_CONF"] = up.stdout.strip().splitlines()[-1].split("=", 1)[1]
    yield env
    if not already_up:
        down = cluster("down", env)
        assert down.returncode == 0, down.stderr


def csv_files(results: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(results)): path.read_bytes()
        for folder in COMPARED
        for path in sorted((results / folder).rglob("*.csv"))
    }


@pytest.mark.slurm
def test_tiny_workflow_on_slurm_matches_the_local_run(tmp_path, slurm_env, tiny_run):
    """The reference is the shared local run of the same config (tests/conftest.py: tiny_run)."""
    on_slurm = copy_workflow(tmp_path / "slurm")
    config = yaml.safe_load((tiny_run / "config/tiny.yaml").read_text())
    config["experiments"] = {name: config["experiments"][name] for name in SLURM_EXPERIMENTS}
    config["cam"]["experiments"] = list(SLURM_EXPERIMENTS)
    config["evaluation"]["baseline"] = SLURM_EXPERIMENTS[0]
    (on_slurm / "config/tiny.yaml").write_text(yaml.safe_dump(config))
    dry_run = [sys.executable, "-m", "snakemake", "-n", "--cores", "2", "--configfile", "config/tiny.yaml"]
    plan = subprocess.run(dry_run, cwd=on_slurm, capture_output=True, text=True, timeout=300)
    assert plan.returncode == 0, plan.stdout + plan.stderr
    planned = planned_jobs(plan)
    command = [
        "timeout", "-k", "15", str(SLURM_RUN_LIMIT_S), sys.executable, "-m", "snakemake",
        "--workflow-profile", str(TEST_PROFILE), "--configfile", "config/tiny.yaml",
    ]  # fmt: skip
    run = subprocess.run(command, cwd=on_slurm, env=slurm_env, capture_output=True, text=True,
                         timeout=SLURM_RUN_LIMIT_S + 30)  # fmt: skip
    screen = run.stdout + run.stderr
    assert run.returncode == 0, f"snakemake on SLURM failed (rc {run.returncode}):\n{screen}"

    # Every job went where it should: the non-local rules through sbatch, the local rules here.
    run_id = re.search(r"SLURM run ID: (\S+)", screen)[1]
    submitted = re.findall(r"has been submitted with SLURM jobid (\d+) \(log: (\S+)\)\.", screen)
    logdir = on_slurm / ".snakemake/slurm_logs"
    on_cluster = Counter(Path(log).relative_to(logdir).parts[0].removeprefix("rule_") for _, log in submitted)
    here = Counter(re.findall(r"^localrule (\w+):", screen, re.MULTILINE)) - Counter(["all"])
    assert set(on_cluster) >= CLUSTER_RULES, on_cluster
    assert "phantom" in here and "phantom" not in on_cluster
    assert on_cluster + here == planned, (on_cluster, here, planned)
    job_ids = [job_id for job_id, _ in submitted]
    assert len(set(job_ids)) == len(job_ids)
    for _, log in submitted:  # the plugin's per-job logs (kept: slurm-keep-successful-logs)
        assert Path(log).is_file() and Path(log).stat().st_size > 0, log
    # squeue (no accounting database here) still knows the run's jobs, all completed
    queue = subprocess.run(
        ["squeue", "--noheader", "--states=all", "--format=%i|%T", "--name", run_id],
        env=slurm_env, capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    states = dict(line.split("|") for line in queue.stdout.split())
    assert {job_id: states.get(job_id) for job_id in job_ids} == dict.fromkeys(job_ids, "COMPLETED")

    # The same results, byte for byte, as the local run with the same settings
    expected = {
        name: data for name, data in csv_files(tiny_run / "results/phantom").items()
        if name.split("/")[1] in SLURM_EXPERIMENTS
    }  # fmt: skip
    assert len(expected) == 2 * len(SLURM_EXPERIMENTS)
    assert any(name.startswith("scores/") for name in expected)
    got = csv_files(on_slurm / "results/phantom")
    assert sorted(got) == sorted(expected)
    different = [name for name in expected if got[name] != expected[name]]
    assert not different, f"differ from the local run: {different}"


CHEXPERT_TRAIN_IMAGES = 223_414  # CheXpert-v1.0-small's train.csv


def resource_lines(plan: str, rule: str) -> list[dict[str, str]]:
    """{resource: value} of each job of ``rule`` in a `snakemake -n` plan."""
    lines = re.findall(rf"^rule {rule}:\n(?:    .*\n)*?    resources: (.*)$", plan, re.MULTILINE)
    return [dict(item.split("=", 1) for item in line.split(", ")) for line in lines]


def test_slurm_profile_dry_run_shows_the_papers_jobs_and_requests(tmp_path):
    """On a CheXpert-sized train.csv, before anything is made: each training asks for more memory than the image
    cache will take (computed here from the CSV's rows and the cache size), every job for less than 24 hours, the
    cache and statistics jobs for a bounded amount, and the trainings stage the cache to node-local disk."""
    workdir = chexpert_workflow(tmp_path, train_rows=CHEXPERT_TRAIN_IMAGES)
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--workflow-profile", "profiles/slurm", "--configfile",
         "config/mine.yaml"],
        cwd=workdir, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    plan = result.stdout + result.stderr
    assert result.returncode == 0, plan
    assert "Using workflow specific profile profiles/slurm" in plan
    profile = yaml.safe_load((REPO / "profiles/slurm/config.yaml").read_text())
    assert profile["executor"] == "slurm"
    config = yaml.safe_load((workdir / "config/mine.yaml").read_text())
    size = config["image"]["cache_size"]
    cache_mb = CHEXPERT_TRAIN_IMAGES * size * size / 2**20
    assert cache_mb > 28_000  # 29.6 GB at 364 px

    requests = {rule: resource_lines(plan, rule) for rule in {"train", "cache", "stats", *profile["set-resources"]}}
    trainings = sum(len(e["seeds"]) for e in config["experiments"].values())
    assert len(requests["train"]) == trainings and len(requests["cache"]) == 2, plan
    for job in requests["train"]:
        assert int(job["mem_mb"]) >= cache_mb + 4000, job  # the whole cache, and room for the rest
        assert job["gpu"] == "1" and job["stage_cache"] == "1", job
        assert 60 <= int(job["runtime"]) < 24 * 60, job
    for rule in ("cache", "stats"):
        for job in requests[rule]:
            assert 1000 <= int(job["mem_mb"]) <= 2000, (rule, job)  # windows, not the whole cache
    every_job = re.findall(r"^    resources: .*\bruntime=(\d+)", plan, re.MULTILINE)
    assert len(every_job) >= 20 and max(map(int, every_job)) < 24 * 60, every_job
    # what the profile still sets per rule is what the jobs ask for
    for rule, lines in requests.items():
        wanted = {f"{key}={value}" for key, value in profile["set-resources"].get(rule, {}).items()}
        for job in lines:
            assert wanted <= {f"{k}={v}" for k, v in job.items()}, f"{rule}: {job}"
    assert "rule phantom:" not in plan

"""GPU slots: every GPU of a machine busy, one training per GPU or k per GPU.

Snakemake counts GPUs (each training asks for ``gpu=1``; ``--resources gpu=N`` caps how many run at once) but does
not say *which* GPU a job gets, so every job would land on device 0. A job on ``cuda`` therefore claims a slot
before it touches CUDA and sees only that slot's GPU (``CUDA_VISIBLE_DEVICES=<id>``):

- the pool is the GPUs visible to the job: ``CUDA_VISIBLE_DEVICES`` if set, else ``nvidia-smi -L``;
- each GPU is offered ``CHEXPERTNET_JOBS_PER_GPU`` times (default 1; a setting of the machine, not of the
  experiment), the first free slot going to a GPU with the fewest jobs;
- a slot is a lock file (``flock``) in ``CHEXPERTNET_GPU_SLOTS`` (default ``.snakemake/gpu-slots`` in the working
  directory), held until the process exits: a killed job's lock dies with it;
- under SLURM (``SLURM_JOB_ID`` set) the cluster assigns the GPU: no pool;
- when ``nvidia-smi`` is missing, fails or lists no GPU (and ``CUDA_VISIBLE_DEVICES`` is not set), the pool is not
  known: the jobs fail safe, one at a time on GPU 0 (one slot), with a ``gpu_warning`` record in the log naming the
  cause and the fix (set ``CUDA_VISIBLE_DEVICES`` to the GPUs to use, or repair ``nvidia-smi``), so concurrent jobs
  never pile onto one GPU unnoticed.

Run N GPUs with k jobs each as ``CHEXPERTNET_JOBS_PER_GPU=k snakemake --cores all --resources gpu=N*k``.
"""

from __future__ import annotations

import fcntl
import os
import re
import subprocess
import time
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from pathlib import Path

JOBS_PER_GPU_ENV = "CHEXPERTNET_JOBS_PER_GPU"
SLOTS_DIR_ENV = "CHEXPERTNET_GPU_SLOTS"
DEFAULT_SLOTS_DIR = ".snakemake/gpu-slots"
DEFAULT_JOBS_PER_GPU = 1
POLL_SECONDS = 0.2

_held: list[Slot] = []  # claimed slots stay open for the life of the process


@dataclass(frozen=True)
class Slot:
    gpu: str  # as CUDA_VISIBLE_DEVICES names it: an index or a UUID
    index: int  # which of the GPU's k slots
    file: Path
    fd: int


class NoGpuList(RuntimeError):
    """``nvidia-smi -L`` could not list the machine's GPUs; the message says why."""


def listed_gpus(run: Callable = subprocess.run) -> list[str]:
    """The indices ``nvidia-smi -L`` lists; NoGpuList when it is missing, fails or lists none."""
    try:
        done = run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=60)
    except FileNotFoundError:
        raise NoGpuList("nvidia-smi is not on the PATH") from None
    except (OSError, subprocess.SubprocessError) as exc:
        raise NoGpuList(f"nvidia-smi -L failed: {type(exc).__name__}: {exc}") from None
    said = " ".join((done.stderr or done.stdout or "").split())[:300]
    if done.returncode != 0:
        raise NoGpuList(f"nvidia-smi -L failed (exit status {done.returncode}{': ' + said if said else ''})")
    gpus = re.findall(r"^GPU (\d+):", done.stdout, flags=re.MULTILINE)
    if not gpus:
        raise NoGpuList(f"nvidia-smi -L listed no GPU{' (' + said + ')' if said else ''}")
    return gpus


def visible_gpus(environ: MutableMapping[str, str], run: Callable = subprocess.run) -> list[str]:
    """The GPUs a job may use: ``CUDA_VISIBLE_DEVICES``'s entries if it is set (an empty value: none), else the
    indices ``nvidia-smi -L`` lists (none when nvidia-smi is missing or fails)."""
    if "CUDA_VISIBLE_DEVICES" in environ:
        return [gpu.strip() for gpu in environ["CUDA_VISIBLE_DEVICES"].split(",") if gpu.strip()]
    try:
        return listed_gpus(run)
    except NoGpuList:
        return []


def jobs_per_gpu(environ: MutableMapping[str, str]) -> int:
    value = environ.get(JOBS_PER_GPU_ENV, "").strip() or str(DEFAULT_JOBS_PER_GPU)
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"{JOBS_PER_GPU_ENV}={value!r}: give a whole number of jobs per GPU, 1 or more")
    return int(value)


def slot_order(gpus: list[str], k: int) -> list[tuple[str, int]]:
    """Slots in the order they are tried: every GPU's first slot, then every GPU's second, ... (a new job goes to
    a GPU with the fewest jobs)."""
    return [(gpu, j) for j in range(k) for gpu in gpus]


def _lock_name(gpu: str, j: int) -> str:
    return f"gpu-{re.sub(r'[^A-Za-z0-9_.-]', '_', gpu)}.slot{j}.lock"


def try_claim(gpus: list[str], k: int, folder: str | os.PathLike) -> Slot | None:
    """The first free slot, locked; None when all are held."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for gpu, j in slot_order(gpus, k):
        file = folder / _lock_name(gpu, j)
        fd = os.open(file, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())  # who holds it, for a person looking
        return Slot(gpu, j, file, fd)
    return None


def claim(
    gpus: list[str], k: int, folder: str | os.PathLike, log: Callable[[dict], None] = lambda r: None,
    timeout: float | None = None,
) -> Slot:  # fmt: skip
    """Wait for a free slot (polling; logs once that it waits)."""
    start, waited = time.monotonic(), False
    while (slot := try_claim(gpus, k, folder)) is None:
        if not waited:
            log({"event": "gpu_wait", "gpus": gpus, "jobs_per_gpu": k, "slots": str(folder)})
            waited = True
        if timeout is not None and time.monotonic() - start > timeout:
            raise TimeoutError(f"no free GPU slot in {folder} within {timeout} s ({len(gpus)} GPUs x {k} jobs)")
        time.sleep(POLL_SECONDS)
    return slot


def claim_for_job(
    device: str, environ: MutableMapping[str, str] | None = None, log: Callable[[dict], None] = lambda r: None,
    run: Callable = subprocess.run,
) -> dict | None:  # fmt: skip
    """For a job on ``device``: claim a slot and restrict the process to its GPU (before CUDA initializes); return
    what was assigned (logged, and named in throughput.json), or None off the GPU. Without a list of the GPUs
    (``nvidia-smi`` missing or failing, no ``CUDA_VISIBLE_DEVICES``): one job at a time on GPU 0, with a warning."""
    environ = os.environ if environ is None else environ
    if not device.startswith("cuda"):
        return None
    if environ.get("SLURM_JOB_ID"):
        assigned = {"gpu": environ.get("CUDA_VISIBLE_DEVICES"), "assigned_by": "slurm"}
    else:
        by = "gpu slots"
        if "CUDA_VISIBLE_DEVICES" in environ:
            gpus, k = visible_gpus(environ), jobs_per_gpu(environ)
            if not gpus:
                return None  # CUDA_VISIBLE_DEVICES is empty: CUDA's own check reports that no GPU is visible
        else:
            try:
                gpus, k = listed_gpus(run), jobs_per_gpu(environ)
            except NoGpuList as exc:
                gpus, k, by = ["0"], 1, "gpu slots, one job at a time (the GPUs are not known)"
                log({"event": "gpu_warning", "cause": f"{exc}, so this machine's GPUs are not known",
                     "fallback": "one job at a time on GPU 0 (other GPU jobs wait for this one to end)",
                     "fix": "set CUDA_VISIBLE_DEVICES to the GPUs to use (e.g. CUDA_VISIBLE_DEVICES=0,1 snakemake "
                            "...), or install or repair the NVIDIA driver's nvidia-smi so that `nvidia-smi -L` "
                            "lists them"})  # fmt: skip
        slot = claim(gpus, k, environ.get(SLOTS_DIR_ENV) or DEFAULT_SLOTS_DIR, log)
        _held.append(slot)
        environ["CUDA_VISIBLE_DEVICES"] = slot.gpu
        assigned = {"gpu": slot.gpu, "slot": slot.index, "gpus": len(gpus), "jobs_per_gpu": k,
                    "lock": str(slot.file), "assigned_by": by}  # fmt: skip
    log({"event": "gpu", **assigned})
    return assigned

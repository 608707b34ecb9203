"""A training's throughput: images per second and the share of time spent waiting for data, over the whole run and
after its first WARMUP_STEPS steps (cuDNN autotuning and compilation happen there), as throughput.json reports them.

Host-side time: on a GPU a step's kernels overlap the next step's launch, and every log record and checkpoint
synchronizes, so over many steps it is the GPU's."""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch

WARMUP_STEPS = 10


def warm_rates(warm: tuple[int, float, float] | None, images: int, step_s: float, wait_s: float) -> dict:
    """images/s and data-wait fraction after the first WARMUP_STEPS steps of this process: the steady rate a long run
    sees. ``warm``: (images, step seconds, wait seconds) at the end of the warm-up, None if it did not end."""
    if warm is None or images == warm[0]:
        return {"warmup_steps": WARMUP_STEPS, "warmup_seconds": None, "images_per_s_after_warmup": None,
                "data_wait_fraction_after_warmup": None}  # fmt: skip
    seconds = (step_s - warm[1]) + (wait_s - warm[2])
    return {
        "warmup_steps": WARMUP_STEPS,
        "warmup_seconds": round(warm[1] + warm[2], 3),
        "images_per_s_after_warmup": (images - warm[0]) / seconds if seconds > 0 else None,
        "data_wait_fraction_after_warmup": (wait_s - warm[2]) / seconds if seconds > 0 else None,
    }


@dataclass
class ThroughputMeter:
    """Splits a training's wall time into waiting for a batch and stepping on it. Call :meth:`start` before the
    first batch of an epoch, :meth:`batch_ready` when a batch arrives, :meth:`stepped` after its optimizer step,
    :meth:`resume` before waiting for the next (what ran in between, log records and checkpoints, counts as step
    time: their syncs wait for the queued steps), and :meth:`epoch_end` after the epoch's last batch."""

    device: torch.device
    images: int = 0
    steps: int = 0
    step_s: float = 0.0
    wait_s: float = 0.0
    warm: tuple[int, float, float] | None = None
    _tick: float = 0.0
    _ready: float = 0.0
    _done: float = 0.0

    def start(self) -> None:
        self._tick = time.perf_counter()

    def batch_ready(self) -> None:
        self._ready = time.perf_counter()
        self.wait_s += self._ready - self._tick

    def stepped(self, images: int) -> None:
        self._done = time.perf_counter()
        self.step_s += self._done - self._ready
        self.images += images
        self.steps += 1
        if self.steps == WARMUP_STEPS:
            if self.device.type == "cuda":  # once: the warm-up's queued kernels belong to the warm-up
                torch.cuda.synchronize(self.device)
            self.warm = (self.images, self.step_s + time.perf_counter() - self._done, self.wait_s)

    def resume(self) -> None:
        self._tick = time.perf_counter()
        self.step_s += self._tick - self._done

    def epoch_end(self) -> None:
        self.step_s += time.perf_counter() - self._tick  # the epoch's last queued steps

    def summary(self) -> dict:
        total = self.step_s + self.wait_s
        return {
            "images": self.images,
            "seconds": round(total, 3),
            "images_per_s": self.images / total if total else None,
            "data_wait_fraction": self.wait_s / total if total else None,
            **warm_rates(self.warm, self.images, self.step_s, self.wait_s),
        }

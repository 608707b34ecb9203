"""Fault injection for tests, kept out of the training loop: with the environment variable
CHEXPERTNET_PAUSE_AT_STEP=K, `chexpertnet train` hands the loop a checkpoint hook that, right after the checkpoint
at step K is written, writes ``<state dir>/paused-at-step<K>`` and waits until the process is killed. A test kills
it there, at a known step, instead of racing a running job. Without the variable there is no hook."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from chexpertnet.train.resume import PAUSED_PREFIX

PAUSE_ENV = "CHEXPERTNET_PAUSE_AT_STEP"


def pause_hook(state_dir: Path, log: Callable[[dict], None]) -> Callable[[int], None] | None:
    """The checkpoint hook that CHEXPERTNET_PAUSE_AT_STEP asks for, or None."""
    if not os.environ.get(PAUSE_ENV):
        return None
    pause_at = int(os.environ[PAUSE_ENV])

    def after_checkpoint(step: int) -> None:
        if step == pause_at:
            log({"event": "paused", "step": step, "variable": PAUSE_ENV})
            (Path(state_dir) / f"{PAUSED_PREFIX}{step}").touch()
            while True:
                time.sleep(3600)

    return after_checkpoint

"""A training job's resume state: ``<state dir>/resume.pt``, written at every checkpoint, read when the job starts.

The file is one header line, ``chexpertnet resume state sha256=<64 hex digits>``, then the bytes of ``torch.save``
of the state; the digest is of those bytes. Reading it tells three cases apart:

- the file is **corrupt** (cut short, damaged, not written by this code: the digest does not match, the header is
  missing, or unpickling it fails): it is set aside as ``resume.pt.bad`` (kept for a person to look at, never
  deleted), logged as ``resume_set_aside`` naming both files, and the job starts at step 0;
- the file is intact but **another job's** (its fingerprint differs: other code, settings or inputs): it is removed,
  logged as ``resume_discarded`` naming what changed, and the job starts at step 0. It could never be resumed by this
  job, whose first checkpoint would replace it anyway, and keeping every such state would keep every state folder;
- **any other error** while reading (out of memory, an I/O error, an interrupt) propagates and leaves the file as it
  is: the next attempt resumes from it.

The state is read onto the CPU (the model and the optimizer copy it to their device), so loading it takes no GPU
memory of its own. Writing is atomic (a temporary file renamed over the old state).
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import os
import pickle
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from chexpertnet import __version__
from chexpertnet.fileio import atomic_path
from chexpertnet.train.fingerprint import changed_components
from chexpertnet.train.model import ARCH

RESUME_FILE = "resume.pt"
BAD_SUFFIX = ".bad"
PAUSED_PREFIX = "paused-at-step"  # the marker a paused test run leaves (train/faults.py), removed with the state
HEADER = b"chexpertnet resume state sha256="
_HEADER_LINE = re.compile(rb"chexpertnet resume state sha256=([0-9a-f]{64})\n")


class CorruptState(Exception):
    """The file cannot be a resume state written by this code; the message says why."""


def write_state(path: str | os.PathLike, state: dict) -> None:
    """Write the state atomically (a reader, or a kill, sees the old file or the new one, never part of one): the
    header line with the digest, then torch.save's bytes."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    payload = buffer.getbuffer()
    with atomic_path(path, suffix=".pt") as tmp, tmp.open("wb") as f:
        f.write(HEADER + hashlib.sha256(payload).hexdigest().encode() + b"\n")
        f.write(payload)


def decode_state(data: bytes) -> dict:
    """The state in the file's bytes, its tensors on the CPU; CorruptState when the bytes are not intact. Any other
    error (out of memory, say) propagates."""
    if not data.startswith(HEADER):
        what = "it is empty" if not data else "it has no resume state header (an older version's or another file)"
        raise CorruptState(what)
    line = _HEADER_LINE.match(data, 0, len(HEADER) + 65)
    if line is None:
        raise CorruptState("its header line is cut short or damaged")
    payload = memoryview(data)[line.end() :]
    if hashlib.sha256(payload).hexdigest() != line.group(1).decode():
        raise CorruptState(f"the digest of its {len(payload)} bytes does not match its header (cut short or damaged)")
    try:
        return torch.load(io.BytesIO(payload), map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, EOFError) as exc:
        raise CorruptState(f"cannot be unpickled: {type(exc).__name__}: {first_line(exc)}") from exc


def first_line(exc: BaseException) -> str:
    return next((line.strip() for line in str(exc).splitlines() if line.strip()), "")


def training_state(model: torch.nn.Module, optimizer: torch.optim.Optimizer, config, epoch: int, step: int,
                   **extra) -> dict:  # fmt: skip
    """What a checkpoint holds (as chexpertnet.train.checkpoint writes it), for a resume state."""
    return {"arch": ARCH, "version": __version__, "config": dataclasses.asdict(config),
            "state_dict": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch, "step": step,
            **extra}  # fmt: skip


@dataclass
class Progress:
    """Where a training is: the next epoch and batch, the optimizer steps taken, the log records so far, the
    validation set's P(positive) at each finished epoch, and the training loss summed since the last record. What a
    resume state carries besides the model and the optimizer."""

    epoch: int = 0
    batch: int = 0
    step: int = 0
    history: list[dict] = field(default_factory=lambda: [{"event": "start", "epoch": 0, "step": 0}])
    epoch_probabilities: list[np.ndarray] = field(default_factory=list)
    running: float | torch.Tensor = 0.0

    @classmethod
    def from_state(cls, saved: dict) -> Progress:
        return cls(saved["epoch"], saved["batch"], saved["step"], saved["history"],
                   [p.numpy() for p in saved.get("epoch_probabilities", [])], saved["running_loss"])  # fmt: skip

    def state_fields(self) -> dict:
        """The resume state's fields of this progress (epoch and step as training_state takes them)."""
        return {"batch": self.batch, "history": self.history, "running_loss": float(self.running),
                "epoch_probabilities": [torch.from_numpy(p) for p in self.epoch_probabilities]}  # fmt: skip


@dataclass
class ResumeState:
    """The resume state of one job (``fingerprint``) in ``state_dir``; ``log`` receives one record per decision."""

    state_dir: Path
    fingerprint: dict
    log: Callable[[dict], None]

    @property
    def file(self) -> Path:
        return Path(self.state_dir) / RESUME_FILE

    def load(self) -> dict | None:
        """This job's saved state (tensors on the CPU), or None: there is none, it was corrupt (set aside), or it was
        another job's (removed); see the module's docstring. Any other error propagates, the file untouched."""
        if not self.file.exists():
            return None
        data = self.file.read_bytes()
        try:
            saved = decode_state(data)
        except CorruptState as exc:
            self.set_aside(str(exc))
            return None
        if not isinstance(saved, dict):
            self.set_aside(f"it holds a {type(saved).__name__}, not a resume state")
            return None
        changed = changed_components(saved.get("fingerprint"), self.fingerprint)
        if changed:
            self.log({"event": "resume_discarded", "file": str(self.file),
                      "reason": f"made by another job: {', '.join(changed)} changed"})  # fmt: skip
            self.file.unlink()
            return None
        return saved  # the caller logs "resumed" once the model and the optimizer hold it

    def set_aside(self, reason: str) -> Path:
        """Rename the state to ``resume.pt.bad`` (replacing an older one) and log it; the job starts at step 0."""
        bad = self.file.with_name(self.file.name + BAD_SUFFIX)
        os.replace(self.file, bad)
        self.log({"event": "resume_set_aside", "file": str(self.file), "moved_to": str(bad),
                  "reason": f"corrupt: {reason}; training starts at step 0, the file kept for inspection"})  # fmt: skip
        return bad

    def save(self, state: dict) -> None:
        write_state(self.file, state)


def clear_state(state_dir: Path) -> None:
    """Remove a finished job's resume state and its folder if nothing else is in it; in the workflow's layout
    (``state/<experiment>/seed<N>``) also the experiment's and the ``state`` folder once they are empty, so a
    finished run leaves no empty folders (another job's resume state, or a state set aside as corrupt, keeps
    them)."""
    state_dir = Path(state_dir)
    for file in [state_dir / RESUME_FILE, *state_dir.glob(f"{PAUSED_PREFIX}*")]:
        file.unlink(missing_ok=True)
    folders = [state_dir]
    if state_dir.parent.parent.name == "state":
        folders += [state_dir.parent, state_dir.parent.parent]
    for folder in folders:
        try:
            folder.rmdir()  # only when empty
        except OSError:
            return

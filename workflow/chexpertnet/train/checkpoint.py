"""Checkpoint files that rebuild the model from the file alone: arch, config, state_dict, optimizer, epoch, step,
version (and whatever else the writer adds: normalization, the training's fingerprint)."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import torch

from chexpertnet import __version__
from chexpertnet.errors import DataError
from chexpertnet.fileio import atomic_path
from chexpertnet.train.model import ARCH, CheXpertNet
from chexpertnet.train.safeload import load_weights

CHECKPOINT_KEYS = ("arch", "version", "config", "state_dict", "optimizer", "epoch", "step")


def save_checkpoint(path: Path, model: CheXpertNet, optimizer, config, epoch: int, step: int, **extra) -> None:
    """Write atomically; ``config`` is the training's dataclass config."""
    state = {
        "arch": ARCH,
        "version": __version__,
        "config": dataclasses.asdict(config),
        "state_dict": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "epoch": epoch,
        "step": step,
        **extra,
    }
    with atomic_path(path, suffix=".pt") as tmp:
        torch.save(state, tmp)


#: What load_model's file must be, as its errors say.
MODEL_FILE = "a chexpertnet model written by `chexpertnet train`"


def check_checkpoint(checkpoint, path: str | os.PathLike) -> None:
    """A DataError naming ``path`` and what it holds unless ``checkpoint`` is a CheXpertNet checkpoint."""
    written = "not a chexpertnet checkpoint written by `chexpertnet train`"
    if not isinstance(checkpoint, dict):
        raise DataError(f"{path} holds a {type(checkpoint).__name__}, {written}")
    missing = [k for k in CHECKPOINT_KEYS if k not in checkpoint]
    if checkpoint and len(missing) == len(CHECKPOINT_KEYS) and all(
        isinstance(v, torch.Tensor) for v in checkpoint.values()
    ):
        raise DataError(
            f"{path} holds a bare state dict ({len(checkpoint)} tensors, e.g. {next(iter(checkpoint))!r}), {written}: "
            f"give the model.pt that `chexpertnet train` wrote, which also carries the training's settings (crop, "
            f"normalization) and the image size that predicting needs"
        )
    if missing or checkpoint["arch"] != ARCH:
        raise DataError(f"{path} is {written} (missing {missing}, arch {checkpoint.get('arch')!r}, expected "
                        f"{ARCH!r})")  # fmt: skip


def load_model(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> tuple[CheXpertNet, dict]:
    """Rebuild the model from a checkpoint file alone; a file that is not one is a DataError that names it and
    says what it is."""
    checkpoint = load_weights(path, map_location, what=MODEL_FILE)
    check_checkpoint(checkpoint, path)
    config = checkpoint["config"]
    model = CheXpertNet(mean=tuple(config["mean"]), std=tuple(config["std"]))
    try:
        model.load_state_dict(checkpoint["state_dict"])
    except RuntimeError as exc:
        raise DataError(f"{path}: its weights do not fit {ARCH} ({str(exc).splitlines()[0]})") from None
    return model.eval(), checkpoint

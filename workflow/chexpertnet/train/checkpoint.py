"""Checkpoint files that rebuild the model from the file alone: arch, config, state_dict, optimizer, epoch, step,
version (and whatever else the writer adds: normalization, the training's fingerprint)."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import torch

from chexpertnet import __version__
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


def load_model(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> tuple[CheXpertNet, dict]:
    """Rebuild the model from a checkpoint file alone."""
    checkpoint = load_weights(path, map_location)
    missing = [k for k in CHECKPOINT_KEYS if k not in checkpoint]
    if missing or checkpoint["arch"] != ARCH:
        raise ValueError(f"{path} is not a CheXpertNet checkpoint (missing {missing}, arch {checkpoint.get('arch')})")
    config = checkpoint["config"]
    model = CheXpertNet(mean=tuple(config["mean"]), std=tuple(config["std"]))
    model.load_state_dict(checkpoint["state_dict"])
    return model.eval(), checkpoint

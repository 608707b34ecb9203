"""Pretrained weights from torchvision (ImageNet), fetched once on a machine with internet access."""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch.hub import get_dir
from torchvision.models import DenseNet121_Weights, densenet121

from chexpertnet.errors import DataError
from chexpertnet.fileio import atomic_path
from chexpertnet.train.safeload import load_weights

WEIGHTS = DenseNet121_Weights.IMAGENET1K_V1


def cached_file() -> Path:
    """Where torchvision keeps the downloaded file: $TORCH_HOME/hub/checkpoints/densenet121-a639ec97.pth."""
    return Path(get_dir()) / "checkpoints" / os.path.basename(WEIGHTS.url)


def fetch_imagenet_weights(out: str | os.PathLike) -> None:
    """Load torchvision's ImageNet weights into a 1000-class DenseNet-121 (downloading them if they are not in
    $TORCH_HOME) and save the state dict to ``out``. Offline without the file: a DataError saying what to put where."""
    try:
        model = densenet121(weights=WEIGHTS)
    except OSError as exc:  # URLError, connection refused, no route, DNS failure
        raise DataError(
            f"could not download the ImageNet DenseNet-121 weights ({exc}). On a machine with internet access, "
            f"download {WEIGHTS.url} and put it at {cached_file()} (or set TORCH_HOME), or put the state dict "
            f"directly at {out}; then rerun"
        ) from exc
    with atomic_path(out, suffix=".pth") as tmp:
        torch.save(model.state_dict(), tmp)


def load_pretrained_state(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """A state dict from a file: torchvision's format, the synthetic pretraining's, or a CheXpertNet checkpoint."""
    try:
        state = load_weights(path)
    except FileNotFoundError:
        raise DataError(f"pretrained weights {path} not found: set train.pretrained to an existing file") from None
    if isinstance(state, dict) and "state_dict" in state and "arch" in state:  # another run's checkpoint
        state = state["state_dict"]
    return state

"""Weights that cannot run code: every model, checkpoint, resume state and pretrained file is read with
``torch.load(weights_only=True)``, which unpickles tensors, storages and plain Python types (dict, list, tuple, str,
numbers, None, bool) and refuses any other object, so a crafted ``.pt`` (a user's ``train.pretrained``, say) cannot
run code. Checkpoints store only such types (numpy arrays go in as tensors)."""

from __future__ import annotations

import os
import pickle

import torch

from chexpertnet.errors import DataError


def load_weights(path: str | os.PathLike, map_location: str | torch.device = "cpu"):
    """``torch.load(path, weights_only=True)``; a file holding anything else is a DataError naming it."""
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        first = next((line for line in lines if "Unsupported global" in line), lines[0] if lines else repr(exc))
        raise DataError(
            f"{path} holds objects other than tensors and plain types ({first}); it was refused because loading it "
            f"could run code. Save only a state dict (torch.save(model.state_dict(), path)) or a CheXpertNet "
            f"checkpoint, and use that file"
        ) from None

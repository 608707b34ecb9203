"""Weights that cannot run code: every model, checkpoint, resume state and pretrained file is read with
``torch.load(weights_only=True)``, which unpickles tensors, storages and plain Python types (dict, list, tuple, str,
numbers, None, bool) and refuses any other object, so a crafted ``.pt`` (a user's ``train.pretrained``, say) cannot
run code. Checkpoints store only such types (numpy arrays go in as tensors)."""

from __future__ import annotations

import os
import pickle

import torch

from chexpertnet.errors import DataError

#: First bytes of the files most often given in a model's place, and what each is.
MAGIC = (
    (b"PK\x03\x04", "a zip archive that torch cannot read as a saved model, damaged or not written by torch.save"),
    (b"\x80", "a Python pickle not written by torch.save"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"%PDF", "a PDF document"),
    (b"\x1f\x8b", "a gzip archive"),
)


def describe(path: str | os.PathLike) -> str:
    """What a file that torch cannot load is, from its first bytes."""
    with open(path, "rb") as f:
        head = f.read(512)
    if not head:
        return "an empty file"
    if head[128:132] == b"DICM":
        return "a DICOM file"
    for magic, what in MAGIC:
        if head.startswith(magic):
            return what
    if sum(32 <= b < 127 or b in b"\t\r\n" for b in head) >= 0.95 * len(head):
        first = head.decode("ascii", errors="replace").strip().splitlines()[0][:40] if head.strip() else ""
        return f"a text file beginning {first!r}"
    return "binary data that is neither a zip archive nor a pickle, the two forms torch.save writes"


def load_weights(path: str | os.PathLike, map_location: str | torch.device = "cpu",
                 what: str = "a PyTorch weights file"):  # fmt: skip
    """``torch.load(path, weights_only=True)``; a missing file, a file that torch cannot read (``what`` names what
    it should have been) or one holding anything else is a DataError naming it."""
    if not os.path.exists(path):
        raise DataError(f"{path} not found")
    if os.path.isdir(path):
        raise DataError(f"{path} is a folder, not {what}")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        # a pickle naming a class or function (GLOBAL) that weights_only refuses; any other failure: not torch's
        first = next((line for line in lines if "GLOBAL" in line), None)
        if first is None:
            raise DataError(f"{path} is not {what}: it is {describe(path)}") from None
        raise DataError(
            f"{path} holds objects other than tensors and plain types ({first}); it was refused because loading it "
            f"could run code. Save only a state dict (torch.save(model.state_dict(), path)) or a CheXpertNet "
            f"checkpoint, and use that file"
        ) from None
    except PermissionError as exc:
        raise DataError(f"{path} cannot be read ({exc.strerror})") from None
    except (EOFError, KeyError, RuntimeError, ValueError, UnicodeDecodeError, OSError):  # torch's errors on non-torch
        raise DataError(f"{path} is not {what}: it is {describe(path)}") from None

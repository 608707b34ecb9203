"""Predictions: P(positive) per image and observation, from a checkpoint and the cache, or from image files."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from chexpertnet.data.cache import load_resized
from chexpertnet.data.images import SUFFIXES
from chexpertnet.errors import DataError
from chexpertnet.train.augment import center_crop
from chexpertnet.train.loss import positive_probability
from chexpertnet.train.model import CheXpertNet
from chexpertnet.train.numerics import autocast_for, use_channels_last


def predict_probabilities(
    model: CheXpertNet, array: np.ndarray, rows: np.ndarray, crop: int, batch_size: int = 64,
    device: str = "cpu", fast: bool = True,
) -> np.ndarray:  # fmt: skip
    """(N, 14) float64 P(positive) for the cached images ``rows``: centre crop, masked 2-way softmax."""
    model = model.to(device).eval()
    if use_channels_last(torch.device(device).type, fast):  # as the training evaluated it
        model.to_channels_last()
    out = []
    with torch.no_grad(), autocast_for(torch.device(device).type, fast):
        for start in range(0, len(rows), batch_size):
            chunk = rows[start : start + batch_size]
            order = np.argsort(chunk)
            images = torch.from_numpy(array[chunk[order]])[torch.from_numpy(np.argsort(order))]
            logits = model(center_crop(images, crop).to(device)).float()
            out.append(positive_probability(logits).double().cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, model.num_observations))


KINDS = ", ".join(SUFFIXES)  # the kinds of file predicted, as messages name them


def is_hidden(file: Path, folder: Path) -> bool:
    """A file or folder below ``folder`` whose name starts with a dot (.DS_Store, .git, ._x.jpg)."""
    return any(part.startswith(".") for part in file.relative_to(folder).parts)


def find_images(sources: list[str | os.PathLike]) -> tuple[list[Path], list[tuple[Path, str]]]:
    """(the files to predict, [(file, why)] of the files left out): each folder's .jpg, .jpeg, .png and .dcm files
    (recursively, sorted; hidden files and folders are ignored) and each file given by name; any other file, in a
    folder or given by name, is left out with the reason."""
    files: list[Path] = []
    for source in map(Path, sources):
        if source.is_dir():
            files += sorted(f for f in source.rglob("*") if f.is_file() and not is_hidden(f, source))
        elif source.exists():
            files.append(source)
        else:
            raise DataError(f"--images: {source} does not exist; give folders of chest X-rays ({KINDS}) or the files")
    readable = [f for f in files if f.suffix.lower() in SUFFIXES]
    others = [(f, f"not a kind predict reads: {KINDS}") for f in files if f.suffix.lower() not in SUFFIXES]
    if not readable:
        found = f" (only {listing([str(f) for f, _ in others])})" if others else ""
        raise DataError(f"--images: no {KINDS} file in {', '.join(map(str, sources))}{found}; nothing was written")
    return readable, others


def listing(items: list[str], shown: int = 20) -> str:
    """``items`` joined by '; ', the first ``shown`` of them and how many more."""
    more = f"; ... and {len(items) - shown} more" if len(items) > shown else ""
    return "; ".join(items[:shown]) + more


def relative_paths(files: list[Path], root: str | os.PathLike | None) -> list[str]:
    """The Path column: each file as given, or with ``root`` relative to it in '/' form (as a CheXpert CSV lists its
    images), so the predictions join a labels CSV whose paths start at ``root``. A file outside ``root`` is an
    error that names it."""
    if root is None:
        return [str(f) for f in files]
    base = Path(os.path.abspath(root))
    if not base.is_dir():
        raise DataError(f"--root {root} is not a folder; nothing was written")
    paths, outside = [], []
    for file in files:
        try:
            paths.append(Path(os.path.abspath(file)).relative_to(base).as_posix())
        except ValueError:
            outside.append(str(file))
    if outside:
        raise DataError(f"--root {root}: {len(outside)} image(s) are not under it: {listing(outside)}; give the "
                        f"folder that holds every image (where your labels CSV's paths start); nothing was "
                        f"written")  # fmt: skip
    return paths


def load_images(files: list[Path], size: int) -> tuple[np.ndarray, list[Path], list[tuple[Path, str]]]:
    """Each file as the cache step stores it (8-bit grayscale by the rule of chexpertnet.data.images, resized to
    size x size): (uint8 (N, size, size) of the readable files, those files, [(file, why)] of the others)."""
    images, read, failed = [], [], []
    for file in files:
        try:
            images.append(load_resized(file, size))
            read.append(file)
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
            # not an image, truncated, or a DICOM that pydicom cannot decode (UnreadableImage is a ValueError)
            failed.append((file, f"{type(exc).__name__}: {exc}"))
    array = np.stack(images) if images else np.zeros((0, size, size), dtype=np.uint8)
    return array, read, failed

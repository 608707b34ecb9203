"""Predictions: P(positive) per image and observation, from a checkpoint and the cache, or from image files."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from chexpertnet.data.cache import load_resized
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


IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


def find_images(sources: list[str | os.PathLike]) -> list[Path]:
    """The files to predict: each folder's JPEG and PNG files (recursively, sorted), and each file as given."""
    files: list[Path] = []
    for source in map(Path, sources):
        if source.is_dir():
            files += sorted(f for f in source.rglob("*") if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES)
        elif source.exists():
            files.append(source)
        else:
            raise DataError(f"--images: {source} does not exist; give folders of JPEG/PNG chest X-rays or the files")
    if not files:
        raise DataError(f"--images: no .jpg, .jpeg or .png file in {', '.join(map(str, sources))}")
    return files


def load_images(files: list[Path], size: int) -> tuple[np.ndarray, list[Path], list[tuple[Path, str]]]:
    """Each file as the cache step stores it (8-bit grayscale resized to size x size): (uint8 (N, size, size) of the
    readable files, those files, [(file, why)] of the others)."""
    images, read, failed = [], [], []
    for file in files:
        try:
            images.append(load_resized(file, size))
            read.append(file)
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:  # not an image, truncated
            failed.append((file, f"{type(exc).__name__}: {exc}"))
    array = np.stack(images) if images else np.zeros((0, size, size), dtype=np.uint8)
    return array, read, failed

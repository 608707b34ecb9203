"""Augmentation of uint8 image batches: a random crop and a random horizontal flip per image; the centre crop.

Crop offsets and flips are drawn on the CPU from a seeded generator, so a run is reproducible whatever the device.
Two equal ways to apply them: one vectorised gather over the whole batch (for the GPU, where it is one kernel), and
direct slicing of the memory-mapped cache (for the CPU, where it copies only the cropped bytes, once).
"""

from __future__ import annotations

import numpy as np
import torch


def draw_crops(
    n: int, height: int, width: int, crop: int, hflip: bool, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(top offsets, left offsets, flip flags) for ``n`` random crops of side ``crop``."""
    if crop > height or crop > width:
        raise ValueError(f"crop {crop} is larger than the cached images ({height}x{width}); lower image.crop_size")
    ys = torch.randint(0, height - crop + 1, (n,), generator=generator)
    xs = torch.randint(0, width - crop + 1, (n,), generator=generator)
    flips = torch.rand(n, generator=generator) < 0.5 if hflip else torch.zeros(n, dtype=torch.bool)
    return ys, xs, flips


def crop_flip_gather(
    batch: torch.Tensor, ys: torch.Tensor, xs: torch.Tensor, flips: torch.Tensor, crop: int
) -> torch.Tensor:
    """(N, H, W) -> (N, crop, crop) in one gather on the batch's device (every index built there, so that the
    gather can sit inside a compiled step and its CUDA graph)."""
    device = batch.device
    ys, xs, flips = ys.to(device), xs.to(device), flips.to(device)
    steps = torch.arange(crop, device=device)
    rows = ys[:, None] + steps
    cols = torch.where(flips[:, None], xs[:, None] + crop - 1 - steps, xs[:, None] + steps)
    index = torch.arange(len(batch), device=device)[:, None, None]
    return batch[index, rows[:, :, None], cols[:, None, :]]


def crop_flip_numpy(
    array: np.ndarray, rows: np.ndarray, ys: torch.Tensor, xs: torch.Tensor, flips: torch.Tensor, crop: int
) -> torch.Tensor:
    """Crops of ``array[rows]`` (e.g. the memory-mapped cache) copied once into a (N, crop, crop) uint8 tensor."""
    out = np.empty((len(rows), crop, crop), dtype=np.uint8)
    for i, (row, y, x, flip) in enumerate(zip(rows, ys.tolist(), xs.tolist(), flips.tolist(), strict=True)):
        view = array[row, y : y + crop, x : x + crop]
        out[i] = view[:, ::-1] if flip else view
    return torch.from_numpy(out)


def random_crop_flip(batch: torch.Tensor, crop: int, hflip: bool, generator: torch.Generator) -> torch.Tensor:
    """(N, H, W) uint8 on any device -> (N, crop, crop): a random crop per image, mirrored with probability 1/2."""
    n, h, w = batch.shape
    ys, xs, flips = draw_crops(n, h, w, crop, hflip, generator)
    return crop_flip_gather(batch, ys, xs, flips, crop)


def center_crop(batch: torch.Tensor, crop: int) -> torch.Tensor:
    """(N, H, W) -> (N, crop, crop), the centre (rounded as torchvision's CenterCrop)."""
    _, h, w = batch.shape
    top, left = round((h - crop) / 2.0), round((w - crop) / 2.0)
    return batch[:, top : top + crop, left : left + crop]

"""Predictions: P(positive) per image and observation, from a checkpoint and the cache."""

from __future__ import annotations

import numpy as np
import torch

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

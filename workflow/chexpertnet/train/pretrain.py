"""Pretraining DenseNet-121 on the synthetic natural-image task (the offline stand-in for ImageNet)."""

from __future__ import annotations

import sys
import time

import numpy as np
import torch
from torch import nn
from torchvision.models import densenet121
from tqdm import tqdm

from chexpertnet.train.model import IMAGENET_MEAN, IMAGENET_STD
from chexpertnet.train.numerics import autocast_for, derived_seed, use_channels_last
from chexpertnet.train.synthetic import CLASSES, render_batch


def pretrain_synthetic(
    size: int, steps: int, batch_size: int, seed: int, lr: float = 1e-3, fast: bool = True, log=print
) -> tuple[dict[str, torch.Tensor], dict]:
    """Train a torchvision DenseNet-121 (10-way) on the synthetic task; return (its state dict, summary).

    The state dict has torchvision's key names, so it loads exactly like the ImageNet weights file.
    """
    torch.manual_seed(derived_seed(seed, 0x5EED))
    model = densenet121(weights=None, num_classes=len(CLASSES))
    channels_last = use_channels_last("cpu", fast)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)

    def prepare(images: np.ndarray) -> torch.Tensor:
        x = (torch.from_numpy(images).float().div_(255.0) - mean) / std
        return x.contiguous(memory_format=torch.channels_last) if channels_last else x

    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    start = time.perf_counter()
    running, correct, seen = 0.0, 0, 0
    for step in tqdm(range(steps), desc="pretrain synthetic", file=sys.stderr, mininterval=10):
        images, labels = render_batch(np.arange(step * batch_size, (step + 1) * batch_size), seed, size)
        with autocast_for("cpu", fast):
            logits = model(prepare(images))
        loss = loss_fn(logits.float(), torch.from_numpy(labels))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        running += loss.item()
        correct += int((logits.argmax(1).numpy() == labels).sum())
        seen += len(labels)
        if (step + 1) % 25 == 0:
            log({"event": "pretrain", "step": step + 1, "loss": running / 25, "train_accuracy": correct / seen})
            running, correct, seen = 0.0, 0, 0
    # held-out accuracy on images the model never saw
    model.eval()
    held_out = np.arange(10**9, 10**9 + 512)
    hits = 0
    with torch.no_grad(), autocast_for("cpu", fast):
        for i in range(0, len(held_out), 128):
            images, labels = render_batch(held_out[i : i + 128], seed, size)
            hits += int((model(prepare(images)).float().argmax(1).numpy() == labels).sum())
    summary = {
        "task": "synthetic shapes and textures",
        "classes": list(CLASSES),
        "size": size,
        "steps": steps,
        "batch_size": batch_size,
        "seed": seed,
        "held_out_accuracy": hits / len(held_out),
        "chance": 1 / len(CLASSES),
        "seconds": round(time.perf_counter() - start, 1),
    }
    log({"event": "pretrain_done", **summary})
    state = {k: v for k, v in model.to(memory_format=torch.contiguous_format).state_dict().items()}
    return state, summary

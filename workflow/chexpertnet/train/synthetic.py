"""An offline stand-in for ImageNet: a synthetic natural-image task to pretrain DenseNet-121 on.

Ten classes of shapes and textures (disk, square, triangle, ring, cross, horizontal / vertical / diagonal stripes,
checkerboard, dots) at random positions, sizes, gray levels and contrasts on noisy backgrounds, in grayscale (the
same level on the three channels) as the radiographs the backbone is then fine-tuned on. Nothing
is downloaded; every image is a function of (seed, index). The backbone learnt here initializes the `pretrained`
experiments of the built-in default, so the pretrained-versus-scratch ablation is real even offline.
"""

from __future__ import annotations

import numpy as np

CLASSES = (
    "disk", "square", "triangle", "ring", "cross", "h_stripes", "v_stripes", "d_stripes", "checker", "dots",
)  # fmt: skip


def _shape_mask(kind: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """A soft mask in [0, 1] of one class's pattern, (size, size) float32."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    cy, cx = rng.uniform(0.3, 0.7, 2)
    r = rng.uniform(0.15, 0.35)
    dy, dx = yy - cy, xx - cx
    edge = 1.5 / size  # soft edges: about one and a half pixels
    name = CLASSES[kind]
    if name == "disk":
        d = np.sqrt(dy**2 + dx**2) - r
    elif name == "square":
        angle = rng.uniform(0, np.pi / 2)
        u, v = np.cos(angle) * dx + np.sin(angle) * dy, -np.sin(angle) * dx + np.cos(angle) * dy
        d = np.maximum(np.abs(u), np.abs(v)) - r * 0.8
    elif name == "triangle":
        angle = rng.uniform(0, 2 * np.pi)
        normals = [(np.cos(angle + k * 2 * np.pi / 3), np.sin(angle + k * 2 * np.pi / 3)) for k in range(3)]
        d = np.max([nx * dx + ny * dy for nx, ny in normals], axis=0) - r * 0.5
    elif name == "ring":
        d = np.abs(np.sqrt(dy**2 + dx**2) - r) - r * 0.25
    elif name == "cross":
        w = r * 0.3
        d = np.minimum(np.maximum(np.abs(dx) - w, np.abs(dy) - r), np.maximum(np.abs(dy) - w, np.abs(dx) - r))
    else:
        period = rng.uniform(0.08, 0.2)
        phase = rng.uniform(0, 2 * np.pi)
        if name == "h_stripes":
            wave = np.sin(2 * np.pi * yy / period + phase)
        elif name == "v_stripes":
            wave = np.sin(2 * np.pi * xx / period + phase)
        elif name == "d_stripes":
            wave = np.sin(2 * np.pi * (xx + yy) / (period * 1.4) + phase)
        elif name == "checker":
            wave = np.sin(2 * np.pi * xx / period + phase) * np.sin(2 * np.pi * yy / period)
        else:  # dots
            wave = np.sin(2 * np.pi * xx / period + phase) + np.sin(2 * np.pi * yy / period) - 1.0
        region = np.sqrt(dy**2 + dx**2) - (r + 0.15)  # textures fill a large blob, not the whole image
        return (1 / (1 + np.exp(np.clip(-wave * 6, -30, 30)))) * (1 / (1 + np.exp(np.clip(region / edge, -30, 30))))
    return 1 / (1 + np.exp(np.clip(d / edge, -30, 30)))


def render(index: int, seed: int, size: int) -> tuple[np.ndarray, int]:
    """Image ``index`` of the task: (uint8 (3, size, size), gray levels on three channels plus pixel noise, class)."""
    rng = np.random.default_rng([seed, index])
    kind = int(rng.integers(len(CLASSES)))
    mask = _shape_mask(kind, size, rng)[None]
    # gray levels, the same on the three channels: radiographs are grayscale, so the filters learnt here are those
    # of intensity, shape and texture (colour-opponent filters would be wasted on them)
    background = np.repeat(rng.uniform(0, 1, (1, 1, 1)), 3, axis=0).astype(np.float32)
    foreground = np.repeat(rng.uniform(0, 1, (1, 1, 1)), 3, axis=0).astype(np.float32)
    if np.abs(foreground - background).sum() < 0.6:  # keep the pattern visible
        foreground = 1.0 - background
    gradient = np.linspace(-0.15, 0.15, size, dtype=np.float32)[None, None, :] * rng.uniform(-1, 1)
    image = background + gradient + (foreground - background) * mask
    image += rng.normal(0, rng.uniform(0.02, 0.08), image.shape).astype(np.float32)
    return (np.clip(image, 0, 1) * 255).astype(np.uint8), kind


def render_batch(indices: np.ndarray, seed: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    images, labels = zip(*(render(int(i), seed, size) for i in indices), strict=True)
    return np.stack(images), np.asarray(labels, dtype=np.int64)

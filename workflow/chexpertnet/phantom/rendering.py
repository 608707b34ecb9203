"""Rendering one view: the view's anatomy and findings as a density map, then film response, window, noise, blur."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from PIL import Image, ImageFilter

from chexpertnet.observations import OBSERVATIONS, PATHOLOGIES
from chexpertnet.phantom.anatomy import Anatomy
from chexpertnet.phantom.findings import Finding
from chexpertnet.phantom.frontal import render_frontal
from chexpertnet.phantom.lateral import render_lateral


@dataclass
class Rendered:
    """A rendered view: the 8-bit image and, per observation, whether it shows it and its box (x0, y0, x1, y1)."""

    image: np.ndarray
    visible: dict[str, bool] = field(default_factory=dict)
    boxes: dict[str, tuple[int, int, int, int] | None] = field(default_factory=dict)


@lru_cache(maxsize=1)
def _noise_bank() -> np.ndarray:
    return np.random.default_rng(20240611).standard_normal((1024, 1024), dtype=np.float32)


def _noise(shape: tuple[int, int], seed: int) -> np.ndarray:
    """Unit Gaussian noise: a random crop (flipped at random) of a fixed bank, or fresh noise for large images."""
    rng = np.random.default_rng([seed, 1])
    bank = _noise_bank()
    h, w = shape
    if h > bank.shape[0] or w > bank.shape[1]:
        return rng.standard_normal(shape, dtype=np.float32)
    y, x = int(rng.integers(0, bank.shape[0] - h + 1)), int(rng.integers(0, bank.shape[1] - w + 1))
    crop = bank[y : y + h, x : x + w]
    return crop[::-1] if rng.random() < 0.5 else crop


def _film(density: np.ndarray) -> np.ndarray:
    return 1.0 - np.exp(np.clip(density, 0.0, None) * np.float32(-2.0))


def _expose(
    density: np.ndarray, base: np.ndarray, air: np.ndarray, rng: np.random.Generator, noise_seed: int
) -> np.ndarray:
    """Film response, window and gamma, noise, blur -> uint8.

    The window is set from the anatomy alone (``base``: the lungs and the densest parts), so a finding changes the
    pixels of its signature and nothing else.
    """
    signal = _film(density)
    sub, sub_air = _film(base[::4, ::4]), air[::4, ::4]
    lung_level = float(np.median(sub[sub_air > 0.5])) if (sub_air > 0.5).sum() > 20 else float(np.quantile(sub, 0.3))
    lo = lung_level - rng.normal(0.1, 0.025)
    hi = float(np.quantile(sub, 0.995)) + rng.normal(0.0, 0.02)
    img = np.clip((signal - lo) * (1.0 / (hi - lo)), 0.0, 1.0) ** rng.uniform(0.85, 1.2)
    img += rng.uniform(0.012, 0.03) * _noise(img.shape, noise_seed)
    out = np.clip(img * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return np.asarray(Image.fromarray(out, mode="L").filter(ImageFilter.GaussianBlur(float(rng.uniform(0.5, 1.0)))))


def render(
    anatomy: Anatomy, findings: Mapping[str, Finding], view: str, size: tuple[int, int], projection: str, seed: int
) -> Rendered:
    """Render one view of a study as an 8-bit image; ``seed`` drives positioning, exposure and noise only."""
    rng = np.random.default_rng([seed, 0])
    if view == "frontal":
        sc = render_frontal(anatomy, findings, size, projection, rng)
    elif view == "lateral":
        sc = render_lateral(anatomy, findings, size, rng)
    else:
        raise ValueError(f"view {view!r} is not 'frontal' or 'lateral'")
    image = _expose(sc.density, sc.base, sc.air, rng, seed)
    visible, boxes = dict(sc.visible), dict(sc.boxes)
    visible["No Finding"] = not any(name in findings for name in PATHOLOGIES)
    for name in OBSERVATIONS:
        visible.setdefault(name, False)
        if not visible[name] or name == "No Finding":
            boxes[name] = None
    return Rendered(image, visible, boxes)

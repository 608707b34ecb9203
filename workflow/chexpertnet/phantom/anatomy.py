"""A patient's anatomy: body size, position and rotation, organ sizes (the same on every study and view)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Anatomy:
    """One patient's body: sizes are relative factors (1 = average), offsets in image fractions."""

    sex: str
    scale: float
    aspect: float
    dx: float
    dy: float
    rotation: float  # degrees
    heart: float
    heart_dx: float
    lung_width: float
    lung_height: float
    dome_right: float
    dome_left: float
    mediastinum: float
    rib_spacing: float
    rib_phase: float
    soft_tissue: float
    breast: float
    gastric_bubble: float
    vessel_seed: int


def sample_anatomy(rng: np.random.Generator, sex: str) -> Anatomy:
    """A patient's body, varying around the average (women somewhat smaller, with breast shadows)."""
    female = sex == "Female"
    n = rng.normal
    return Anatomy(
        sex=sex,
        scale=float(rng.uniform(0.90, 1.03) * (0.96 if female else 1.0)),
        aspect=float(rng.uniform(0.96, 1.04)),
        dx=float(n(0, 0.02)),
        dy=float(n(0, 0.02)),
        rotation=float(n(0, 1.5)),
        heart=float(np.clip(n(1.0, 0.05), 0.88, 1.12)),
        heart_dx=float(n(0, 0.012)),
        lung_width=float(np.clip(n(1.0, 0.04), 0.9, 1.1)),
        lung_height=float(np.clip(n(1.0, 0.05), 0.88, 1.12)),
        dome_right=float(n(0, 0.015)),
        dome_left=float(n(0, 0.015)),
        mediastinum=float(np.clip(n(1.0, 0.08), 0.8, 1.2)),
        rib_spacing=float(np.clip(n(1.0, 0.04), 0.9, 1.1)),
        rib_phase=float(rng.uniform(-0.15, 0.15)),
        soft_tissue=float(rng.uniform(0.85, 1.25)),
        breast=float(rng.uniform(0.15, 0.35)) if female else 0.0,
        gastric_bubble=float(rng.uniform(0.5, 1.0)) if rng.random() < 0.6 else 0.0,
        vessel_seed=int(rng.integers(2**31)),
    )

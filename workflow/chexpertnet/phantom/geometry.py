"""Where the organs are, in the canvas frame of each view: lungs, hemidiaphragms, hila, ribs.

Frontal: u across (0 = midline, side -1 the patient's right = image left), v down. Lateral: the patient faces image
left, u anterior (-) .. posterior (+), v down. Shared by the anatomy (frontal.py, lateral.py) and the signatures.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from chexpertnet.phantom.anatomy import Anatomy
from chexpertnet.phantom.findings import Finding

#: The body's frame on a frontal image, relative to the image's height: a little taller than the image (the neck
#: and the abdomen are cut off) and narrower than the common 390 x 320 image (the rest is margin).
FRONTAL_FRAME = (1.05, 0.945)

# ---- Frontal view -------------------------------------------------------------------------------------------
# Lungs: the upper part of an ellipse (centre u, v; semi-axes) cut by a diaphragm dome; side -1 is the patient's
# right (image left).
_LUNG = {-1: (-0.205, 0.60, 0.168, 0.48), 1: (0.205, 0.61, 0.158, 0.47)}
_DOME = {-1: 0.655, 1: 0.685}  # top of each hemidiaphragm (v)
_DOME_CURVE = 1.7
_HILUM = {-1: (-0.105, 0.43), 1: (0.115, 0.44)}


@dataclass(frozen=True)
class FrontalGeometry:
    lungs: dict[int, tuple[float, float, float, float]]
    domes: dict[int, float]
    hila: dict[int, tuple[float, float]]

    def point(self, side: int, lateral: float, vertical: float) -> tuple[float, float]:
        """Frame point at fractions across (medial 0 .. lateral 1) and down (apex 0 .. dome 1) of a lung."""
        cu, cv, au, av = self.lungs[side]
        apex = cv - av
        v = apex + vertical * (self.domes[side] + 0.02 - apex)
        half = au * math.sqrt(max(0.05, 1 - ((v - cv) / av) ** 2))
        return cu + side * (2 * lateral - 1) * 0.85 * half, v

    def dome(self, side: int, u: np.ndarray, lift: float = 0.0) -> np.ndarray:
        cu = self.lungs[side][0]
        return (self.domes[side] - lift) + _DOME_CURVE * (u - (cu + side * 0.02)) ** 2


def frontal_geometry(a: Anatomy, inspiration: float) -> FrontalGeometry:
    lungs, domes, hila = {}, {}, {}
    depth = a.lung_height * inspiration  # deeper breath: lower domes, taller lungs
    for side in (-1, 1):
        cu, cv, au, av = _LUNG[side]
        lungs[side] = (cu * a.lung_width, cv, au * a.lung_width, av)
        domes[side] = _DOME[side] + (a.dome_right if side < 0 else a.dome_left) + 0.45 * (depth - 1)
        hu, hv = _HILUM[side]
        hila[side] = (hu * a.lung_width, hv + 0.2 * (depth - 1))
    return FrontalGeometry(lungs, domes, hila)


def dome_lift(findings: Mapping[str, Finding], frontal: bool = True) -> dict[int, float]:
    """How far atelectasis lifts each hemidiaphragm (frame units of v), per side; a retrocardiac collapse (variant 1)
    lifts nothing on the frontal view, where the heart hides it."""
    lift = {-1: 0.0, 1: 0.0}
    f = findings.get("Atelectasis")
    if f is not None and not (frontal and f.variant == 1):
        lift[f.side] = 0.015 + 0.035 * f.severity
    return lift


def rib_phase(u: np.ndarray, v: np.ndarray, spacing: float, offset: float) -> np.ndarray:
    a = np.abs(u)
    return (v - (1.05 * a * a - 0.1 * a) - offset) / spacing


def rib_band(frac: np.ndarray) -> np.ndarray:
    """A rib across one period of the rib phase: bright band with slightly denser cortical edges."""
    d = np.abs(frac - 0.275)
    return np.clip((0.225 - d) * 12.0, 0.0, 1.0) * (0.85 + 1.33 * d)


# ---- Lateral view (patient facing image left): u anterior (-) .. posterior (+), v down ---------------------------
_LAT_LUNG = (0.03, 0.58, 0.32, 0.47)  # centre u, v, semi-axes: upper part of an ellipse cut by the diaphragm
_LAT_DOME = 0.665
LAT_HILUM = (0.05, 0.44)  # where the vessel markings (and edema) spread from
RETROCARDIAC = (0.1, 0.6)  # the space behind the heart and in front of the spine, where a lesion hides on the frontal


@dataclass(frozen=True)
class LateralGeometry:
    lung: tuple[float, float, float, float]
    dome: float

    def point(self, depth: float, vertical: float) -> tuple[float, float]:
        cu, cv, au, av = self.lung
        apex = cv - av
        v = apex + vertical * (self.dome + 0.02 - apex)
        half = au * math.sqrt(max(0.05, 1 - ((v - cv) / av) ** 2))
        return cu + (2 * depth - 1) * 0.75 * half, v

    def diaphragm(self, u: np.ndarray, lift: float = 0.0) -> np.ndarray:
        return (self.dome - lift) + 0.55 * u * u + 0.1 * u  # lowest at the posterior recess


def lateral_geometry(a: Anatomy, inspiration: float) -> LateralGeometry:
    depth = a.lung_height * inspiration  # deeper breath: a lower diaphragm
    cu, cvv, au, av = _LAT_LUNG
    return LateralGeometry(
        (cu, cvv, au * a.lung_width, av), _LAT_DOME + 0.5 * (a.dome_right + a.dome_left) + 0.45 * (depth - 1)
    )

"""Findings: which a study has (prevalence, a Gaussian copula over shared factors), where each sits and how bad.

A study's findings are ground truth; the labels (labels.py) and the images (the signatures) are drawn from them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from chexpertnet.observations import PATHOLOGIES

FINDINGS: tuple[str, ...] = (*PATHOLOGIES, "Support Devices")  # what can be present in a study

#: Ground-truth prevalence per study (Lung Opacity: its own haze; Consolidation or Pneumonia also imply it).
TRAIN_PREVALENCE: dict[str, float] = {
    "Enlarged Cardiomediastinum": 0.05,
    "Cardiomegaly": 0.12,
    "Lung Opacity": 0.40,
    "Lung Lesion": 0.22,
    "Edema": 0.25,
    "Consolidation": 0.055,
    "Pneumonia": 0.03,
    "Atelectasis": 0.15,
    "Pneumothorax": 0.09,
    "Pleural Effusion": 0.38,
    "Pleural Other": 0.02,
    "Fracture": 0.04,
    "Support Devices": 0.50,
}
#: The valid set is enriched in rare findings (so each has a handful of positives among 200 patients).
VALID_PREVALENCE: dict[str, float] = TRAIN_PREVALENCE | {
    "Enlarged Cardiomediastinum": 0.08,
    "Cardiomegaly": 0.15,
    "Lung Lesion": 0.20,
    "Consolidation": 0.07,
    "Atelectasis": 0.18,
    # As in the real validation set (of 200 patients: Pneumonia 8, Pleural Other 1 positive), two observations have
    # too few positive patients for a CI (evaluation.min_positives): reported as point estimates.
    "Pneumonia": 0.025,
    "Pleural Other": 0.012,
    "Fracture": 0.06,  # only with phantom.valid_fracture (the real validation set has none)
}

#: Loadings of each finding's latent on three shared factors (general illness, cardiac, infection).
LOADINGS: dict[str, tuple[float, float, float]] = {
    "Enlarged Cardiomediastinum": (0.15, 0.70, 0.0),
    "Cardiomegaly": (0.15, 0.70, 0.0),
    "Lung Opacity": (0.40, 0.0, 0.50),
    "Lung Lesion": (0.05, 0.0, 0.0),
    "Edema": (0.35, 0.50, 0.0),
    "Consolidation": (0.20, 0.0, 0.60),
    "Pneumonia": (0.15, 0.0, 0.60),
    "Atelectasis": (0.35, 0.0, 0.30),
    "Pneumothorax": (0.30, 0.0, 0.0),
    "Pleural Effusion": (0.35, 0.40, 0.0),
    "Pleural Other": (0.10, 0.0, 0.0),
    "Fracture": (0.20, 0.0, 0.0),
    "Support Devices": (0.60, 0.0, 0.0),
}
SICK_WHEN_NORMAL = 0.5  # a study the copula leaves normal gets one finding with this probability
PATIENT_SHARE = 0.5  # fraction of a study's latent variance shared by all studies of the patient
MIN_SEVERITY = 0.15
EFFUSION_FRONTAL_SEVERITY = 0.75  # effusions at or below this (71% of them) are seen on the lateral view only
LESION_RADIUS = (0.075, 0.045)  # a nodule's radius (image widths) at severity 0 and its growth to severity 1
LESION_AMP = (0.8, 0.4)
RETROCARDIAC_LESIONS = 0.7  # the share of lung lesions hidden behind the heart on the frontal view
RETROCARDIAC_ATELECTASIS = 0.6  # left lower lobe collapse behind the heart: seen on the lateral view only
ANTERIOR_PNEUMOTHORAX = 0.85  # the share of small pneumothoraces that are anterior: on the lateral view only
ANTERIOR_PNEUMOTHORAX_SEVERITY = 0.6  # small: at most this severity (45% of pneumothoraces are anterior)

# Device kinds (bits of Finding.variant for Support Devices).
ET_TUBE, NG_TUBE, CENTRAL_LINE, PACEMAKER, ECG_LEADS = 1, 2, 4, 8, 16


@dataclass(frozen=True)
class Finding:
    """One finding in a study: where (lung-relative fractions) and how bad; ``seed`` drives its shape."""

    severity: float
    side: int  # -1 the patient's right (image left), +1 the patient's left (image right)
    lateral: float  # 0 medial .. 1 lateral (frontal view)
    vertical: float  # 0 apex .. 1 base
    depth: float  # 0 anterior .. 1 posterior (lateral view)
    seed: int
    variant: int = 0  # finding-specific: retrocardiac lesion or atelectasis, anterior pneumothorax, bilateral
    # effusion, device bit set


def _severity(rng: np.random.Generator) -> float:
    return float(rng.uniform(MIN_SEVERITY, 1.0))


def _finding(rng: np.random.Generator, name: str, placed_near: Finding | None = None) -> Finding:
    """Where a finding sits: each kind has its zone (bases for effusion and atelectasis, apex for pneumothorax)."""
    u = rng.uniform
    side = int(rng.choice((-1, 1)))
    seed = int(rng.integers(2**31))
    sev = _severity(rng)
    lat, vert, depth, variant = u(0.25, 0.75), u(0.25, 0.75), u(0.25, 0.75), 0
    if name == "Lung Lesion":
        if rng.random() < RETROCARDIAC_LESIONS:  # behind the heart on the frontal view, seen on the lateral
            side, lat, vert, depth, variant = 1, u(0.05, 0.25), u(0.66, 0.80), u(0.55, 0.70), 1
        else:
            lat, vert, depth = u(0.45, 0.85), u(0.2, 0.7), u(0.2, 0.8)
    elif name in ("Consolidation", "Pneumonia", "Lung Opacity"):
        vert = u(0.45, 0.8) if name != "Lung Opacity" else u(0.25, 0.8)
        lat, depth = u(0.35, 0.7), u(0.25, 0.75)
        if placed_near is not None:  # pneumonia and the haze of a lung opacity surround a consolidation
            side = placed_near.side
            lat = float(np.clip(placed_near.lateral + rng.normal(0, 0.05), 0.2, 0.8))
            vert = float(np.clip(placed_near.vertical + rng.normal(0, 0.05), 0.3, 0.85))
            depth = float(np.clip(placed_near.depth + rng.normal(0, 0.05), 0.2, 0.8))
    elif name == "Atelectasis":
        vert, depth = u(0.72, 0.85), u(0.3, 0.7)
        if rng.random() < RETROCARDIAC_ATELECTASIS:  # left lower lobe, behind the heart on the frontal view
            side, lat, depth, variant = 1, u(0.05, 0.25), u(0.6, 0.8), 1
    elif name == "Pneumothorax":
        if sev <= ANTERIOR_PNEUMOTHORAX_SEVERITY and rng.random() < ANTERIOR_PNEUMOTHORAX:
            variant = 1  # anterior: the air lies in front of the lung, no edge on the frontal view
    elif name == "Pleural Effusion":
        variant = int(rng.random() < 0.35)  # bilateral
    elif name == "Pleural Other":
        vert = u(0.3, 0.6)
    elif name == "Fracture":
        lat, vert = u(0.55, 0.85), u(0.25, 0.65)
    elif name == "Support Devices":
        bits = [
            b
            for b, p in ((ET_TUBE, 0.4), (NG_TUBE, 0.35), (CENTRAL_LINE, 0.4), (PACEMAKER, 0.2), (ECG_LEADS, 0.3))
            if rng.random() < p
        ]
        variant = sum(bits) or int(rng.choice((ET_TUBE, CENTRAL_LINE, ECG_LEADS)))
    return Finding(sev, side, float(lat), float(vert), float(depth), seed, variant)


def sample_findings(
    rng: np.random.Generator, latent: np.ndarray, prevalence: Mapping[str, float]
) -> dict[str, Finding]:
    """Which findings a study has, from its latent vector (Gaussian copula: exact marginals, shared factors)."""
    norm = NormalDist()
    present = {}
    for i, name in enumerate(FINDINGS):
        p = prevalence[name]
        present[name] = p > 0 and latent[i] < norm.inv_cdf(p)
    if present["Pneumonia"] and not present["Consolidation"] and rng.random() < 0.5:
        present["Consolidation"] = prevalence["Consolidation"] > 0
    r, pick = rng.random(), rng.random()
    if r < SICK_WHEN_NORMAL and not any(present[name] for name in PATHOLOGIES):  # few imaged patients are normal
        weights = np.array([prevalence[name] for name in PATHOLOGIES])
        present[PATHOLOGIES[int(np.searchsorted(np.cumsum(weights) / weights.sum(), pick))]] = True
    findings: dict[str, Finding] = {}
    for name in FINDINGS:  # fixed order keeps the rng stream the same whatever is present
        draw = _finding(rng, name)
        if present[name]:
            findings[name] = draw
    anchor = findings.get("Consolidation")
    if "Pneumonia" in findings and anchor is not None:
        findings["Pneumonia"] = _finding(rng, "Pneumonia", placed_near=anchor)
    anchor = anchor or findings.get("Pneumonia")
    if anchor is not None:  # consolidation and pneumonia come with a lung opacity around them
        findings["Lung Opacity"] = _finding(rng, "Lung Opacity", placed_near=anchor)
    return {name: findings[name] for name in FINDINGS if name in findings}


def study_latent(rng: np.random.Generator, patient_part: np.ndarray) -> np.ndarray:
    """A study's latent vector: N(0, 1) per finding, correlated through factors and across the patient's studies."""
    fresh = rng.standard_normal(len(FINDINGS) + 3)
    mixed = math.sqrt(PATIENT_SHARE) * patient_part + math.sqrt(1 - PATIENT_SHARE) * fresh
    factors, own = mixed[:3], mixed[3:]
    out = np.empty(len(FINDINGS))
    for i, name in enumerate(FINDINGS):
        w = np.array(LOADINGS[name])
        out[i] = w @ factors + math.sqrt(1 - float(w @ w)) * own[i]
    return out

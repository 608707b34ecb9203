"""The phantom: a synthetic drop-in for CheXpert-v1.0-small with known ground truth.

Each patient gets an anatomy (body size, position, rotation, organ sizes); each study gets a set of
findings with a severity, a place and a shape seed; each view (frontal or lateral) is rendered from those as a
simplified radiograph (bright = dense). Train labels are noisy and uncertain like the CheXpert labeller's output;
valid labels are the ground truth. ``phantom_truth.csv`` records, per image and observation, whether the finding is
present, its severity, whether this view shows it and the box of its signature in this image's pixels.

Everything but :func:`generate` (and its per-patient worker) is pure: the same arguments give the same arrays,
whatever process computes them.
"""

from __future__ import annotations

import io
import itertools
import math
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from multiprocessing import get_context
from pathlib import Path
from statistics import NormalDist

import numpy as np
from PIL import Image, ImageFilter

from chexpertnet.fileio import write_csv
from chexpertnet.observations import CSV_COLUMNS, DATASET_DIR, META_COLUMNS, OBSERVATIONS, PATHOLOGIES, SPLITS

SPLIT_IDS = {"train": 0, "valid": 1}
TRUTH_FILE = "phantom_truth.csv"
TRUTH_COLUMNS = ("Path", "observation", "present", "severity", "visible", "x0", "y0", "x1", "y1")
FINDINGS: tuple[str, ...] = (*PATHOLOGIES, "Support Devices")  # what can be present in a study

#: Ground-truth prevalence per study (Lung Opacity: its own haze; Consolidation or Pneumonia also imply it).
TRAIN_PREVALENCE: dict[str, float] = {
    "Enlarged Cardiomediastinum": 0.05,
    "Cardiomegaly": 0.12,
    "Lung Opacity": 0.40,
    "Lung Lesion": 0.15,
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
    "Lung Lesion": 0.15,
    "Consolidation": 0.07,
    "Pneumonia": 0.06,
    "Atelectasis": 0.18,
    "Pleural Other": 0.06,
    "Fracture": 0.06,
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
#: How often a finding is reported as uncertain, relative to the others (atelectasis, pneumonia: often hedged).
HEDGING: dict[str, float] = {
    "Enlarged Cardiomediastinum": 1.2,
    "Cardiomegaly": 1.0,
    "Lung Opacity": 0.8,
    "Lung Lesion": 1.0,
    "Edema": 1.2,
    "Consolidation": 1.5,
    "Pneumonia": 1.6,
    "Atelectasis": 1.6,
    "Pneumothorax": 0.5,
    "Pleural Effusion": 1.0,
    "Pleural Other": 1.0,
    "Fracture": 0.6,
}
SICK_WHEN_NORMAL = 0.5  # a study the copula leaves normal gets one finding with this probability
PATIENT_SHARE = 0.5  # fraction of a study's latent variance shared by all studies of the patient
MIN_SEVERITY = 0.15
EFFUSION_FRONTAL_SEVERITY = 0.65  # effusions at or below this (59% of them) are seen on the lateral view only
LESION_RADIUS = (0.075, 0.045)  # a nodule's radius (image widths) at severity 0 and its growth to severity 1
LESION_AMP = (0.8, 0.4)
RETROCARDIAC_LESIONS = 0.7  # the share of lung lesions hidden behind the heart on the frontal view
#: The body's frame on a frontal image, relative to the image's height: a little taller than the image (the neck
#: and the abdomen are cut off) and narrower than the common 390 x 320 image (the rest is margin).
FRONTAL_FRAME = (1.05, 0.945)
LATERAL_ONLY_EVERY = 200  # train patients 100, 300, 500, ... have only lateral images (0.5 %)

# Device kinds (bits of Finding.variant for Support Devices).
ET_TUBE, NG_TUBE, CENTRAL_LINE, PACEMAKER, ECG_LEADS = 1, 2, 4, 8, 16


@dataclass(frozen=True)
class PhantomConfig:
    train_patients: int = 1000
    valid_patients: int = 200
    seed: int = 0
    height: int = 320  # CheXpert-v1.0-small's short side: a frontal's height, a lateral's width (see image_size)
    valid_fracture: bool = False  # by default no valid patient has Fracture (as the real set)
    jpeg_quality: int = 90


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


@dataclass(frozen=True)
class Finding:
    """One finding in a study: where (lung-relative fractions) and how bad; ``seed`` drives its shape."""

    severity: float
    side: int  # -1 the patient's right (image left), +1 the patient's left (image right)
    lateral: float  # 0 medial .. 1 lateral (frontal view)
    vertical: float  # 0 apex .. 1 base
    depth: float  # 0 anterior .. 1 posterior (lateral view)
    seed: int
    variant: int = 0  # finding-specific: retrocardiac lesion, bilateral effusion, device bit set


@dataclass(frozen=True)
class Study:
    """One study: its findings (ground truth), the views taken and the 14 label cells of its CSV rows."""

    patient: int  # 1-based patient number (the NNNNN in patientNNNNN)
    study: int  # 1-based
    age: int
    views: tuple[str, ...]  # "frontal" / "lateral", in view order
    projection: str  # "AP" or "PA" for the frontal views
    findings: Mapping[str, Finding]
    labels: tuple[str, ...]  # the 14 CSV label cells


@dataclass(frozen=True)
class Patient:
    number: int  # the NNNNN in patientNNNNN
    sex: str
    anatomy: Anatomy
    studies: tuple[Study, ...]


@dataclass
class Rendered:
    """A rendered view: the 8-bit image and, per observation, whether it shows it and its box (x0, y0, x1, y1)."""

    image: np.ndarray
    visible: dict[str, bool] = field(default_factory=dict)
    boxes: dict[str, tuple[int, int, int, int] | None] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------------------------
# Sampling patients, studies, findings and labels


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


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


def _latent(rng: np.random.Generator, patient_part: np.ndarray) -> np.ndarray:
    """A study's latent vector: N(0, 1) per finding, correlated through factors and across the patient's studies."""
    fresh = rng.standard_normal(len(FINDINGS) + 3)
    mixed = math.sqrt(PATIENT_SHARE) * patient_part + math.sqrt(1 - PATIENT_SHARE) * fresh
    factors, own = mixed[:3], mixed[3:]
    out = np.empty(len(FINDINGS))
    for i, name in enumerate(FINDINGS):
        w = np.array(LOADINGS[name])
        out[i] = w @ factors + math.sqrt(1 - float(w @ w)) * own[i]
    return out


def _label_cell(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


def label_train(
    rng: np.random.Generator, findings: Mapping[str, Finding], prevalence: Mapping[str, float]
) -> tuple[str, ...]:
    """The labeller's view of a study: hedged when faint, often unmentioned, rarely wrong."""
    labels: dict[str, float | None] = {}
    for name in PATHOLOGIES:
        r = rng.random()
        hedge, prev = HEDGING[name], prevalence[name]
        if name in findings:
            sev = findings[name].severity
            p_unc = min(0.6, hedge * (0.05 + 0.45 * (1 - sev) ** 2))
            p_blank = 0.05
            labels[name] = -1.0 if r < p_unc else None if r < p_unc + p_blank else 1.0
        else:
            p_pos = 0.05 * prev
            p_unc = 0.01 + 0.08 * prev * hedge
            p_neg = 0.08 + 0.2 * prev
            labels[name] = (
                1.0 if r < p_pos else -1.0 if r < p_pos + p_unc else 0.0 if r < p_pos + p_unc + p_neg else None
            )
    r = rng.random()
    if "Support Devices" in findings:
        labels["Support Devices"] = 1.0 if r < 0.9 else -1.0 if r < 0.93 else None
    else:
        labels["Support Devices"] = 1.0 if r < 0.01 else 0.0 if r < 0.09 else None
    mentioned = any(labels[name] in (1.0, -1.0) for name in PATHOLOGIES)
    labels["No Finding"] = (0.0 if rng.random() < 0.1 else None) if mentioned else 1.0
    return tuple(_label_cell(labels[o]) for o in OBSERVATIONS)


def label_truth(findings: Mapping[str, Finding]) -> tuple[str, ...]:
    """Gold-standard labels (valid): 1.0 present, 0.0 absent; No Finding exactly when no pathology is present."""
    no_finding = not any(name in findings for name in PATHOLOGIES)
    return tuple(_label_cell(float(no_finding if o == "No Finding" else o in findings)) for o in OBSERVATIONS)


def _views(rng: np.random.Generator, projection: str, split: str, lateral_only: bool) -> tuple[str, ...]:
    if lateral_only:
        return ("lateral",) if rng.random() < 0.8 else ("lateral", "lateral")
    if split == "valid":
        return ("frontal", "lateral") if rng.random() < 0.8 else ("frontal",)
    r = rng.random()
    if rng.random() < (0.5 if projection == "AP" else 0.9):
        return ("frontal", "lateral") if r < 0.95 else ("frontal", "frontal", "lateral")
    return ("frontal",) if r < 0.92 else ("frontal", "frontal")


def is_lateral_only(split: str, index: int) -> bool:
    """Train patients 100, 300, 500, ... (0.5 %) have only lateral images."""
    half = LATERAL_ONLY_EVERY // 2
    return split == "train" and index % LATERAL_ONLY_EVERY == half


def patient_number(config: PhantomConfig, split: str, index: int) -> int:
    """Patient numbers: train 1..N, valid N+1..N+M."""
    return index if split == "train" else config.train_patients + index


def prevalence_for(config: PhantomConfig, split: str) -> dict[str, float]:
    if split == "train":
        return dict(TRAIN_PREVALENCE)
    return VALID_PREVALENCE | ({} if config.valid_fracture else {"Fracture": 0.0})


def plan_patient(config: PhantomConfig, split: str, index: int) -> Patient:
    """Everything about one patient (1-based ``index`` within the split) except the pixels; pure and cheap."""
    split_id = SPLIT_IDS[split]
    number = patient_number(config, split, index)
    rng = np.random.default_rng([config.seed, split_id, number, 0])
    sex = "Male" if rng.random() < 0.59 else "Female"
    age = int(np.clip(round(rng.normal(61, 17)), 18, 90))
    anatomy = sample_anatomy(rng, sex)
    patient_part = rng.standard_normal(len(FINDINGS) + 3)
    n_studies = 1 if split == "valid" else int(rng.choice([1, 2, 3, 4], p=[0.55, 0.28, 0.12, 0.05]))
    prevalence = prevalence_for(config, split)
    lateral_only = is_lateral_only(split, index)
    studies = []
    for s in range(1, n_studies + 1):
        srng = np.random.default_rng([config.seed, split_id, number, s])
        latent = _latent(srng, patient_part)
        findings = sample_findings(srng, latent, prevalence)
        devices = latent[FINDINGS.index("Support Devices")]  # low latent: devices, an inpatient, a portable AP film
        projection = "AP" if srng.random() < _sigmoid(1.0 - 1.2 * devices) else "PA"
        views = _views(srng, projection, split, lateral_only)
        labels = label_train(srng, findings, prevalence) if split == "train" else label_truth(findings)
        age += int(srng.integers(0, 2)) if s > 1 else 0
        studies.append(Study(number, s, age, views, projection, findings, labels))
    return Patient(number, sex, anatomy, tuple(studies))


# --------------------------------------------------------------------------------------------------------------
# Rendering: a density map (bright = dense) built from soft shapes, then film response, noise and blur.


@lru_cache(maxsize=8)
def _grid(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    ys = np.arange(height, dtype=np.float32)[:, None] + 0.5
    xs = np.arange(width, dtype=np.float32)[None, :] + 0.5
    return ys, xs


def _soft(x: np.ndarray | float) -> np.ndarray:
    """Logistic step (0 -> 0.5); ``x`` in units of the edge width."""
    return 0.5 + 0.5 * np.tanh(0.5 * x)


Box = tuple[int, int, int, int]
AIR = 0.72  # density that a lung's full aerated depth removes
Window = tuple[slice, slice]


class _Canvas:
    """Pixel grid with the patient frame, a (height, width) rectangle centred in the image (shifted by dx, dy):
    u across (0 = midline, units of the frame's width), v down (0..1 of the frame's height)."""

    def __init__(
        self,
        size: tuple[int, int],
        frame: tuple[float, float],
        scale: float,
        aspect: float,
        dx: float,
        dy: float,
        rotation: float,
    ):
        self.h, self.w = size
        fh, fw = frame
        ys, xs = _grid(self.h, self.w)
        self.cx, self.cy = 0.5 * self.w + dx * fw, 0.5 * self.h + dy * fh
        self.ux, self.vy = fw * scale, fh * scale * aspect  # pixels per unit of u and of v
        t = math.radians(rotation)
        self.cos, self.sin = math.cos(t), math.sin(t)
        xc, yc = xs - self.cx, ys - self.cy
        self.u = (self.cos / self.ux) * xc + (self.sin / self.ux) * yc
        self.v = (0.5 - (self.sin / self.vy) * xc) + (self.cos / self.vy) * yc
        self.full: Window = (slice(0, self.h), slice(0, self.w))

    @property
    def shape(self) -> tuple[int, int]:
        return self.h, self.w

    def to_px(self, u: float, v: float) -> tuple[float, float]:
        xr, yr = u * self.ux, (v - 0.5) * self.vy
        return self.cx + self.cos * xr - self.sin * yr, self.cy + self.sin * xr + self.cos * yr

    def window(self, u0: float, u1: float, v0: float, v1: float, margin: float = 3.0) -> Window:
        """Pixel slices covering the frame rectangle [u0, u1] x [v0, v1] plus a margin in pixels."""
        corners = [self.to_px(u, v) for u in (u0, u1) for v in (v0, v1)]
        xs, ys = [c[0] for c in corners], [c[1] for c in corners]
        x0 = int(np.clip(math.floor(min(xs) - margin), 0, self.w))
        x1 = int(np.clip(math.ceil(max(xs) + margin), x0, self.w))
        y0 = int(np.clip(math.floor(min(ys) - margin), 0, self.h))
        y1 = int(np.clip(math.ceil(max(ys) + margin), y0, self.h))
        return slice(y0, y1), slice(x0, x1)

    def ellipse(
        self,
        sl: Window,
        cu: float,
        cv: float,
        au: float,
        av: float,
        edge: float = 2.0,
        angle: float = 0.0,
        profile: bool = False,
    ) -> np.ndarray:
        """Soft ellipse mask in window ``sl`` (edge in pixels); ``profile`` multiplies by an ellipsoid's depth."""
        du, dv = (self.u[sl] - cu) / au, (self.v[sl] - cv) / av
        a, b = au * self.ux, av * self.vy
        if angle:
            c, s = math.cos(math.radians(angle)), math.sin(math.radians(angle))
            du, dv = (c * a * du + s * b * dv) / a, (-s * a * du + c * b * dv) / b
        r2 = du * du + dv * dv
        mask = _soft((1.0 - np.sqrt(r2)) * (min(a, b) / edge))
        if profile:
            mask *= np.sqrt(np.clip(1.0 - r2, 0.0, 1.0))
        return mask

    def ellipse_window(self, cu: float, cv: float, au: float, av: float, margin: float = 4.0) -> Window:
        r = max(au, av * self.vy / self.ux) * 1.05
        rv = r * self.ux / self.vy
        return self.window(cu - r, cu + r, cv - rv, cv + rv, margin)

    def polyline(
        self,
        target: np.ndarray,
        points: Sequence[tuple[float, float]],
        width: float,
        amp: float,
        clip: np.ndarray | None = None,
    ) -> None:
        """Add a soft line (Gaussian profile, ``width`` in pixels) through frame points to ``target`` in place."""
        pts = [self.to_px(u, v) for u, v in points]
        xs, ys = [p[0] for p in pts], [p[1] for p in pts]
        m = 3 * width + 2
        y0, y1 = int(max(0, min(ys) - m)), int(min(self.h, max(ys) + m + 1))
        x0, x1 = int(max(0, min(xs) - m)), int(min(self.w, max(xs) + m + 1))
        if y0 >= y1 or x0 >= x1:
            return
        gy, gx = _grid(self.h, self.w)
        d2 = np.full((y1 - y0, x1 - x0), np.inf, dtype=np.float32)
        for (ax, ay), (bx, by) in itertools.pairwise(pts):  # each segment only near itself
            sy0, sy1 = max(y0, int(min(ay, by) - m)), min(y1, int(max(ay, by) + m + 1))
            sx0, sx1 = max(x0, int(min(ax, bx) - m)), min(x1, int(max(ax, bx) + m + 1))
            if sy0 >= sy1 or sx0 >= sx1:
                continue
            py, px = gy[sy0:sy1] - ay, gx[:, sx0:sx1] - ax
            ex, ey = bx - ax, by - ay
            ll = ex * ex + ey * ey or 1e-6
            t = ((px * ex + py * ey) * (1.0 / ll)).clip(0.0, 1.0)
            sub = d2[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0]
            np.minimum(sub, (px - t * ex) ** 2 + (py - t * ey) ** 2, out=sub)
        line = amp * np.exp(d2 * (-1.0 / (width * width)))
        if clip is not None:
            line *= clip[y0:y1, x0:x1]
        target[y0:y1, x0:x1] += line


def _bezier(
    p0: tuple[float, float], p1: tuple[float, float], p2: tuple[float, float], n: int = 12
) -> list[tuple[float, float]]:
    out = []
    for s in np.linspace(0.0, 1.0, n):
        a, b, c = (1 - s) ** 2, 2 * (1 - s) * s, s * s
        out.append((float(a * p0[0] + b * p1[0] + c * p2[0]), float(a * p0[1] + b * p1[1] + c * p2[1])))
    return out


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, int], cells: tuple[int, int]) -> np.ndarray:
    """Band-limited noise of about unit amplitude: a coarse random grid upsampled bicubically to ``shape``."""
    coarse = rng.standard_normal((max(2, cells[0]), max(2, cells[1]))).astype(np.float32)
    img = Image.fromarray(coarse, mode="F").resize((max(1, shape[1]), max(1, shape[0])), Image.Resampling.BICUBIC)
    return np.asarray(img, dtype=np.float32)


def _bbox(delta: np.ndarray, frac: float = 0.15, floor: float = 0.01, origin: tuple[int, int] = (0, 0)) -> Box | None:
    """Box (x0, y0, x1, y1), x1/y1 exclusive, where |delta| exceeds ``frac`` of its peak (and ``floor``)."""
    a = np.abs(delta)
    peak = float(a.max()) if a.size else 0.0
    if peak <= floor:
        return None
    hot = a > max(frac * peak, floor)
    rows, cols = np.flatnonzero(hot.any(axis=1)), np.flatnonzero(hot.any(axis=0))
    y, x = origin
    return x + int(cols[0]), y + int(rows[0]), x + int(cols[-1]) + 1, y + int(rows[-1]) + 1


class _Scene:
    """What the finding painters share: the canvas, the anatomy, and per-finding density layers."""

    def __init__(self, cv: _Canvas, anatomy: Anatomy, findings: Mapping[str, Finding]):
        self.cv, self.a, self.findings = cv, anatomy, findings
        self.layers: dict[str, np.ndarray] = {}
        self.visible: dict[str, bool] = {}
        self.boxes: dict[str, Box | None] = {}
        self.lung = np.zeros(cv.shape, dtype=np.float32)  # soft lung mask
        self.air = np.zeros(cv.shape, dtype=np.float32)  # aerated lung depth not covered by heart/mediastinum
        self.geo = None  # _FrontalGeometry or _LateralGeometry
        self.extra: dict[str, tuple[Window, np.ndarray]] = {}  # shapes shared between anatomy steps
        self.base: np.ndarray | None = None  # density of the anatomy alone
        self.density: np.ndarray | None = None  # anatomy plus findings

    def layer(self, name: str) -> np.ndarray:
        if name not in self.layers:
            self.layers[name] = np.zeros(self.cv.shape, dtype=np.float32)
        return self.layers[name]

    def done(self, name: str, frac: float = 0.15, box: Box | None = None) -> None:
        """Mark ``name`` as shown in this view (if anything was painted), its box from its layer unless given."""
        self.boxes[name] = box if box is not None else _bbox(self.layer(name), frac)
        self.visible[name] = self.boxes[name] is not None

    def hidden(self, name: str) -> None:
        self.visible[name] = False
        self.boxes[name] = None


# ---- Frontal view -------------------------------------------------------------------------------------------
# Lungs: the upper part of an ellipse (centre u, v; semi-axes) cut by a diaphragm dome; side -1 is the patient's
# right (image left).
_LUNG = {-1: (-0.205, 0.60, 0.168, 0.48), 1: (0.205, 0.61, 0.158, 0.47)}
_DOME = {-1: 0.655, 1: 0.685}  # top of each hemidiaphragm (v)
_DOME_CURVE = 1.7
_HILUM = {-1: (-0.105, 0.43), 1: (0.115, 0.44)}
_HEART = (0.07, 0.565, 0.19, 0.12, 20.0)  # centre u, v, semi-axes, tilt (degrees; apex down to image right)


@dataclass(frozen=True)
class _FrontalGeometry:
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


def _frontal_geometry(a: Anatomy, inspiration: float) -> _FrontalGeometry:
    lungs, domes, hila = {}, {}, {}
    depth = a.lung_height * inspiration  # deeper breath: lower domes, taller lungs
    for side in (-1, 1):
        cu, cv, au, av = _LUNG[side]
        lungs[side] = (cu * a.lung_width, cv, au * a.lung_width, av)
        domes[side] = _DOME[side] + (a.dome_right if side < 0 else a.dome_left) + 0.45 * (depth - 1)
        hu, hv = _HILUM[side]
        hila[side] = (hu * a.lung_width, hv + 0.2 * (depth - 1))
    return _FrontalGeometry(lungs, domes, hila)


def _lung_masks(
    cv: _Canvas, geo: _FrontalGeometry, side: int, lift: float = 0.0
) -> tuple[Window, np.ndarray, np.ndarray]:
    """One lung's window, soft mask and depth (thickest centrally)."""
    cu, cvv, au, av = geo.lungs[side]
    sl = cv.window(cu - au, cu + au, cvv - av, geo.domes[side] + 0.12, margin=4)
    u, v = cv.u[sl], cv.v[sl]
    du, dv = (u - cu) / au, (v - cvv) / av
    r2 = du * du + dv * dv
    edge = min(au * cv.ux, av * cv.vy) / 2.5
    mask = _soft((1.0 - np.sqrt(r2)) * edge) * _soft((geo.dome(side, u, lift) - v) * (cv.vy / 2.0))
    depth = mask * np.sqrt(np.clip(1.0 - 0.75 * (0.6 * du * du + dv * dv), 0.1, 1.0))
    return sl, mask, depth


def _dome_lift(findings: Mapping[str, Finding]) -> dict[int, float]:
    """How far atelectasis lifts each hemidiaphragm (frame units of v), per side."""
    lift = {-1: 0.0, 1: 0.0}
    if "Atelectasis" in findings:
        f = findings["Atelectasis"]
        lift[f.side] = 0.015 + 0.035 * f.severity
    return lift


def _render_frontal(
    a: Anatomy, findings: Mapping[str, Finding], size: tuple[int, int], projection: str, rng: np.random.Generator
) -> _Scene:
    ap = projection == "AP"
    cv = _Canvas(
        size,
        (size[0] * FRONTAL_FRAME[0], size[0] * FRONTAL_FRAME[1]),
        a.scale * (1.02 if ap else 1.0),
        a.aspect,
        a.dx + rng.normal(0, 0.01),
        a.dy + rng.normal(0, 0.01),
        a.rotation + rng.normal(0, 1.2),
    )
    sc = _Scene(cv, a, findings)
    u, v = cv.u, cv.v
    inspiration = float(np.clip(rng.normal(0.95 if ap else 1.0, 0.03), 0.86, 1.06))
    geo = _frontal_geometry(a, inspiration)
    sc.geo = geo

    # Soft tissue: neck, shoulders, chest wall; thickest in the middle.
    shoulder = np.clip((v + 0.03) / 0.17, 0.0, 1.0)
    half = 0.1 + 0.37 * shoulder * shoulder * (3 - 2 * shoulder) - 0.12 * (v - 0.4) ** 2
    au_ = np.abs(u)
    density = (0.25 + 0.6 * np.sqrt(np.clip(1.0 - (u / half) ** 2, 0.0, 1.0))) * _soft((half - au_) * (cv.ux / 3.0))
    density *= a.soft_tissue
    if a.breast:
        for side in (-1, 1):
            sl = cv.window(side * 0.25 - 0.3, side * 0.25 + 0.3, 0.5, 1.1)
            du, dv = (u[sl] - side * 0.25) / 0.16, (v[sl] - 0.78) / 0.13
            density[sl] += a.breast * np.exp(-(du * du + dv * dv))

    # Heart and mediastinum; cardiomegaly and a widened mediastinum are painted as their own layers.
    hu, hv, hau, hav, tilt = _HEART
    hu += a.heart_dx
    g = a.heart * (1.08 if ap else 1.0)
    hau, hav = hau * g, hav * (0.5 + 0.5 * g)
    hsl = cv.ellipse_window(hu, hv, hau * 1.5, hav * 1.5)
    heart = np.zeros(cv.shape, dtype=np.float32)
    heart_mask = np.zeros(cv.shape, dtype=np.float32)
    heart[hsl] = cv.ellipse(hsl, hu, hv, hau, hav, edge=2.0, angle=tilt, profile=True)
    heart_mask[hsl] = cv.ellipse(hsl, hu, hv, hau, hav, edge=2.0, angle=tilt)
    med_w = 0.05 * a.mediastinum * (1.06 if ap else 1.0)
    msl = cv.window(-0.16, 0.16, -0.02, 0.62)
    mu, mv = u[msl], v[msl]
    med = np.zeros(cv.shape, dtype=np.float32)
    med[msl] = _soft((med_w + 0.04 * mv - np.abs(mu - 0.008)) * (cv.ux / 2.5)) * _soft((0.58 - mv) * (cv.vy / 6.0))
    ksl = cv.ellipse_window(0.06, 0.29, 0.04, 0.03)
    med[ksl] = np.maximum(med[ksl], cv.ellipse(ksl, 0.055, 0.29, 0.038, 0.028, edge=2.0))
    cover = np.clip(0.75 * heart_mask + 0.9 * med, 0.0, 1.0)
    density += 0.12 * heart + 0.08 * med
    if "Cardiomegaly" in findings:
        s = findings["Cardiomegaly"].severity
        gu, gv = 1.12 + 0.45 * s, 1.02 + 0.12 * s
        bu, bv = hu + 0.45 * (gu - 1) * hau, hv + 0.3 * (gv - 1) * hav
        bsl = cv.ellipse_window(bu, bv, hau * gu * 1.5, hav * gv * 1.5)
        big = cv.ellipse(bsl, bu, bv, hau * gu, hav * gv, edge=2.0, angle=tilt, profile=True)
        big_mask = cv.ellipse(bsl, bu, bv, hau * gu, hav * gv, edge=2.0, angle=tilt)
        sc.extra["heart"] = (bsl, big_mask)
        sc.layer("Cardiomegaly")[bsl] += 0.12 * (big - heart[bsl])
        sc.done("Cardiomegaly", box=_bbox(big_mask, frac=0.5, origin=(bsl[0].start, bsl[1].start)))
    if "Enlarged Cardiomediastinum" in findings:
        s = findings["Enlarged Cardiomediastinum"].severity
        wide_w = med_w * (1.25 + 1.0 * s)
        wide = _soft((wide_w + 0.04 * mv - np.abs(mu - 0.01)) * (cv.ux / 3.0))
        wide *= _soft((mv - 0.1) * (cv.vy / 8.0)) * _soft((0.52 - mv) * (cv.vy / 8.0))
        extra = np.clip(wide - med[msl], 0.0, 1.0)
        sc.layer("Enlarged Cardiomediastinum")[msl] += 0.35 * extra
        sc.extra["mediastinum"] = (msl, extra)
        sc.done("Enlarged Cardiomediastinum", frac=0.2)

    # Lungs: air, less where heart and mediastinum lie in front; atelectasis lifts one hemidiaphragm.
    lift = _dome_lift(findings)
    for side in (-1, 1):
        sl, mask, depth = _lung_masks(cv, geo, side)
        if lift[side]:
            _, _, depth_l = _lung_masks(cv, geo, side, lift[side])
            lost = np.clip(depth - depth_l, 0.0, 1.0) * (1 - cover[sl])
            sc.layer("Atelectasis")[sl] += AIR * lost
        sc.lung[sl] += mask
        sc.air[sl] += depth
    sc.air *= 1 - cover
    if "Cardiomegaly" in findings:  # the big heart covers more lung
        bsl, big_mask = sc.extra["heart"]
        more = np.clip(big_mask - heart_mask[bsl], 0.0, 1.0) * 0.75
        sc.layer("Cardiomegaly")[bsl] += AIR * more * sc.air[bsl]
    if "Enlarged Cardiomediastinum" in findings:
        msl_, extra = sc.extra["mediastinum"]
        sc.layer("Enlarged Cardiomediastinum")[msl_] += AIR * 0.9 * extra * sc.air[msl_]
    tsl = cv.window(-0.05, 0.05, -0.05, 0.36)
    tu, tv = u[tsl], v[tsl]
    trachea = _soft((0.018 - np.abs(tu - 0.004 - 0.01 * tv)) * (cv.ux / 1.5)) * _soft((0.31 - tv) * (cv.vy / 3.0))
    density -= AIR * sc.air
    density[tsl] -= 0.18 * trachea
    if a.gastric_bubble:
        bu, bv = 0.2, geo.domes[1] + 0.075
        bsl = cv.ellipse_window(bu, bv, 0.07, 0.04)
        density[bsl] -= 0.3 * a.gastric_bubble * cv.ellipse(bsl, bu, bv, 0.065, 0.035, edge=4, profile=True)

    # Lung markings: vessels branching out of the hila.
    vessels = _vessels(cv, geo, a.vessel_seed)
    if "Pneumothorax" in findings:
        _pneumothorax(sc, findings["Pneumothorax"], vessels)
    density += (0.13 * vessels) * sc.lung * (1 - cover)

    # Bones: ribs, clavicles, spine.
    density += _ribs(sc, geo, ap)
    for side in (-1, 1):
        pts = _bezier((side * 0.035, 0.14), (side * 0.19, 0.125), (side * 0.36, 0.075), n=8)
        cv.polyline(density, pts, width=0.018 * cv.ux, amp=0.18)
    ssl = cv.window(-0.08, 0.08, -0.1, 1.1)
    su, svv = u[ssl], v[ssl]
    seg = 0.8 + 0.2 * _soft((np.cos(svv * (2 * math.pi / 0.043)) + 0.3) * 4.0)
    density[ssl] += 0.1 * _soft((0.034 - np.abs(su)) * (cv.ux / 2.0)) * seg

    for name, painter in _FRONTAL_PAINTERS.items():
        if name in findings:
            painter(sc, findings[name])
    sc.base = density.copy()
    for layer in sc.layers.values():
        density += layer
    sc.density = density
    return sc


def _vessels(cv: _Canvas, geo: _FrontalGeometry, seed: int) -> np.ndarray:
    """Vessel markings: tapering rays out of each hilum, wobbling and broken up by smooth noise."""
    rng = np.random.default_rng(seed)
    out = np.zeros(cv.shape, dtype=np.float32)
    for side in (-1, 1):
        hu, hv = geo.hila[side]
        cu, cvv, au, av = geo.lungs[side]
        sl = cv.window(min(cu - au, 0.0), max(cu + au, 0.0), cvv - av, geo.domes[side] + 0.08)
        du, dv = (cv.u[sl] - hu) * cv.ux, (cv.v[sl] - hv) * cv.vy
        r = np.sqrt(du * du + dv * dv)
        theta = np.arctan2(dv, du)
        shape = r.shape
        wobble = _smooth_noise(rng, shape, (shape[0] // 24, shape[1] // 24))
        table = _ray_table(rng)
        n = len(table)
        idx = (theta * (n / (2 * math.pi)) + wobble * 6.0 + r * 0.03).astype(np.int32) % n
        breaks = _soft((_smooth_noise(rng, shape, (shape[0] // 12, shape[1] // 12)) + 0.6) * 3.0)
        out[sl] = table[idx] * np.exp(r * (-1.0 / (0.22 * cv.vy))) * _soft((r - 6.0) * 0.5) * breaks
    return out


def _ray_table(rng: np.random.Generator, n: int = 720) -> np.ndarray:
    """Angular profile of vessel rays: ~50 thin rays of varied strength around a hilum."""
    x = np.arange(n, dtype=np.float32)[None, :]
    c, w, h = (rng.uniform(lo, hi, (50, 1)).astype(np.float32) for lo, hi in ((0, n), (0.8, 2.2), (0.4, 1.0)))
    d = np.abs(x - c)
    d = np.minimum(d, n - d)
    return np.clip((h * np.exp(-((d / w) ** 2))).sum(axis=0), 0.0, 1.2)


def _rib_phase(u: np.ndarray, v: np.ndarray, spacing: float, offset: float) -> np.ndarray:
    a = np.abs(u)
    return (v - (1.05 * a * a - 0.1 * a) - offset) / spacing


def _rib_band(frac: np.ndarray) -> np.ndarray:
    """A rib across one period of the rib phase: bright band with slightly denser cortical edges."""
    d = np.abs(frac - 0.275)
    return np.clip((0.225 - d) * 12.0, 0.0, 1.0) * (0.85 + 1.33 * d)


def _ribs(sc: _Scene, geo: _FrontalGeometry, ap: bool) -> np.ndarray:
    """Posterior ribs (curving down laterally) and fainter anterior ribs; a fracture breaks one rib."""
    cv, a = sc.cv, sc.a
    sl = cv.window(-0.45, 0.45, 0.05, 0.8)
    u, v = cv.u[sl], cv.v[sl]
    spacing = 0.054 * a.rib_spacing * (0.97 if ap else 1.0)
    offset = 0.075 + a.rib_phase * spacing
    phase = _rib_phase(u, v, spacing, offset)
    frac = phase - np.floor(phase)
    au = np.abs(u)
    cage = _soft((0.435 - au) * (cv.ux / 4.0)) * _soft((au - 0.035) * (cv.ux / 3.0))
    cage *= _soft((phase - 0.0) * 6.0) * _soft((0.74 - v) * (cv.vy / 10.0))
    weight = cage * (0.15 + 0.85 * np.clip(sc.air[sl] * 1.5, 0.0, 1.0))
    rib_amp = np.random.default_rng(a.vessel_seed + 7).uniform(0.75, 1.2, 32).astype(np.float32)
    out = np.zeros(cv.shape, dtype=np.float32)
    out[sl] = 0.14 * _rib_band(frac) * weight * rib_amp[np.clip(phase, 0, 31).astype(np.int32)]
    ant = (v + 0.38 * (au - 0.44) - 0.02) / (spacing * 1.15)
    af = ant - np.floor(ant)
    out[sl] += 0.05 * np.clip((0.2 - np.abs(af - 0.3)) * 8.0, 0.0, 1.0) * weight * np.clip((au - 0.16) * 30.0, 0, 1)
    if "Fracture" in sc.findings:
        _fracture(sc, sc.findings["Fracture"], geo, spacing, offset, weight, sl)
    return out


def _fracture(
    sc: _Scene, f: Finding, geo: _FrontalGeometry, spacing: float, offset: float, weight: np.ndarray, rsl: Window
) -> None:
    """A rib broken across, its lateral fragment displaced along the rib's normal, with a little callus."""
    cv = sc.cv
    fu, fv = geo.point(f.side, f.lateral, f.vertical)
    k = math.floor(float(_rib_phase(np.float32(fu), np.float32(fv), spacing, offset)))
    kv = offset + (k + 0.275) * spacing + 1.05 * fu * fu - 0.1 * abs(fu)  # rib k's centre line at fu
    sl = cv.window(fu - 0.07, fu + 0.07, kv - 1.2 * spacing, kv + 1.2 * spacing)
    y0, x0 = sl[0].start - rsl[0].start, sl[1].start - rsl[1].start
    w = weight[y0 : y0 + sl[0].stop - sl[0].start, x0 : x0 + sl[1].stop - sl[1].start]
    lp = _rib_phase(cv.u[sl], cv.v[sl], spacing, offset) - k
    along = (cv.u[sl] - fu) * (f.side * cv.ux)  # pixels along the rib from the break, lateral positive
    reach = 0.055 * cv.ux
    shift = (0.25 + 0.4 * f.severity) * _soft(along * 2.0) * np.clip(1.0 - along / reach, 0.0, 1.0)
    near = _soft((lp + 0.25) * 10.0) * _soft((1.25 - lp) * 10.0)
    gap = 1.0 - 0.9 * np.exp(-((along / (1.2 + 1.5 * f.severity)) ** 2))
    moved = _rib_band(np.clip(lp - shift, -1, 2)) * gap
    orig = _rib_band(np.clip(lp, -1, 2))
    callus = 0.08 * f.severity * np.exp(-((along / 4.0) ** 2)) * np.exp(-(((lp - 0.275) / 0.4) ** 2))
    sc.layer("Fracture")[sl] += (0.16 * (moved - orig) * near + callus) * w
    sc.done("Fracture", frac=0.2)


def _pneumothorax(sc: _Scene, f: Finding, vessels: np.ndarray) -> None:
    """Air between the chest wall and the collapsed lung at the apex/lateral edge: dark, no markings, pleural line."""
    cv, geo = sc.cv, sc.geo
    cu, cvv, au, av = geo.lungs[f.side]
    k = 0.15 + 0.3 * f.severity  # how far the lung edge falls away
    anchor_u, anchor_v = cu - f.side * 0.5 * au, geo.domes[f.side]  # collapse toward the hilum and base
    su, sv = au * (1 - k), av * (1 - 0.7 * k)
    ccu, ccv = anchor_u + (cu - anchor_u) * (1 - k), anchor_v + (cvv - anchor_v) * (1 - 0.7 * k)
    sl = cv.window(cu - au, cu + au, cvv - av, cvv + 0.1, margin=4)
    u, v = cv.u[sl], cv.v[sl]
    du, dv = (u - ccu) / su, (v - ccv) / sv
    rr = np.sqrt(du * du + dv * dv)
    inner = _soft((1.0 - rr) * (min(su * cv.ux, sv * cv.vy) / 1.0))
    upper = _soft((cvv - 0.15 * av - v) * (cv.vy / 6.0))  # apical and upper lateral only
    space = np.clip(sc.lung[sl] - inner, 0.0, 1.0) * upper
    line = (
        np.exp(-(((rr - 1.0) * min(su * cv.ux, sv * cv.vy)) ** 2) * (1 / 2.5))
        * upper
        * np.clip(sc.lung[sl] * 1.5, 0, 1)
    )
    d = sc.layer("Pneumothorax")
    d[sl] += -(0.14 + 0.08 * f.severity) * space - 0.13 * vessels[sl] * space * np.clip(sc.lung[sl], 0, 1) + 0.2 * line
    sc.done("Pneumothorax", frac=0.2)


def _lung_blob(sc: _Scene, f: Finding, radius: float, spread: float = 3.0) -> tuple[Window, np.ndarray, float, float]:
    """Window and normalised squared radius around a finding's frame point."""
    cv = sc.cv
    pu, pv = sc.geo.point(f.side, f.lateral, f.vertical)
    rv = radius * cv.ux / cv.vy
    sl = cv.window(pu - spread * radius, pu + spread * radius, pv - spread * rv, pv + spread * rv)
    du, dv = (cv.u[sl] - pu) / radius, (cv.v[sl] - pv) / rv
    return sl, du * du + dv * dv, pu, pv


def _paint_lung_opacity(sc: _Scene, f: Finding) -> None:
    rng = np.random.default_rng(f.seed)
    sl, r2, _, _ = _lung_blob(sc, f, 0.06 + 0.05 * f.severity)
    haze = np.exp(-0.5 * r2) * (1 + 0.3 * _smooth_noise(rng, r2.shape, (6, 6)))
    sc.layer("Lung Opacity")[sl] += AIR * (0.2 + 0.35 * f.severity) * haze * sc.air[sl]
    sc.done("Lung Opacity")


def _paint_consolidation(sc: _Scene, f: Finding) -> None:
    rng = np.random.default_rng(f.seed)
    radius = 0.06 + 0.045 * f.severity
    sl, r2, pu, pv = _lung_blob(sc, f, radius, spread=1.8)
    r = np.sqrt(r2) + 0.3 * _smooth_noise(rng, r2.shape, (5, 5))
    patch = _soft((1.0 - r) * 8.0)
    bronchi = np.zeros(sc.cv.shape, dtype=np.float32)
    for _ in range(3):  # air bronchograms: dark branching lines inside the dense patch
        ang = rng.uniform(0, 2 * math.pi)
        pts = [(pu, pv), (pu + 0.8 * radius * math.cos(ang), pv + 0.8 * radius * math.sin(ang))]
        sc.cv.polyline(bronchi, pts, width=1.3, amp=1.0)
    dense = patch * (1 - 0.45 * np.clip(bronchi[sl], 0, 1))
    sc.layer("Consolidation")[sl] += AIR * (0.5 + 0.45 * f.severity) * dense * sc.air[sl]
    sc.done("Consolidation")


def _paint_pneumonia(sc: _Scene, f: Finding) -> None:
    rng = np.random.default_rng(f.seed)
    sl, r2, _, _ = _lung_blob(sc, f, 0.07 + 0.045 * f.severity, spread=2.4)
    shape = r2.shape
    mottle = _smooth_noise(rng, shape, (max(3, shape[0] // 9), max(3, shape[1] // 9)))
    spots = _soft((mottle - 0.1) * 3.0)
    amp = AIR * (0.45 + 0.45 * f.severity)
    sc.layer("Pneumonia")[sl] += amp * spots * np.exp(-0.5 * r2) * sc.air[sl]
    sc.done("Pneumonia")


def _paint_lung_lesion(sc: _Scene, f: Finding) -> None:
    if f.variant == 1:  # retrocardiac: hidden by the heart on the frontal view
        sc.hidden("Lung Lesion")
        return
    cv = sc.cv
    pu, pv = sc.geo.point(f.side, f.lateral, f.vertical)
    rad = LESION_RADIUS[0] + LESION_RADIUS[1] * f.severity
    rv = rad * cv.ux / cv.vy
    sl = cv.ellipse_window(pu, pv, rad, rv)
    amp = LESION_AMP[0] + LESION_AMP[1] * f.severity
    sc.layer("Lung Lesion")[sl] += amp * cv.ellipse(sl, pu, pv, rad, rv, edge=1.2, profile=True)
    sc.done("Lung Lesion")


def _paint_edema(sc: _Scene, f: Finding) -> None:
    """Bilateral perihilar haze (butterfly) and Kerley B lines at the lateral bases."""
    cv, geo = sc.cv, sc.geo
    rng = np.random.default_rng(f.seed)
    d = sc.layer("Edema")
    amp = AIR * (0.08 + 0.3 * f.severity)
    for side in (-1, 1):
        hu, hv = geo.hila[side]
        pu, pv = hu + side * 0.05, hv + 0.03
        sl = cv.window(pu - 0.3, pu + 0.3, pv - 0.4, pv + 0.4)
        du, dv = (cv.u[sl] - pu) / 0.1, (cv.v[sl] - pv) / 0.15
        haze = np.exp(-0.5 * (du * du + dv * dv)) * (1 + 0.35 * _smooth_noise(rng, du.shape, (8, 8)))
        d[sl] += amp * haze * sc.air[sl]
        for _ in range(int(3 + 4 * f.severity)):
            lu, lv = geo.point(side, rng.uniform(0.8, 0.95), rng.uniform(0.7, 0.92))
            cv.polyline(d, [(lu - side * 0.035, lv), (lu, lv)], width=0.9, amp=0.1 + 0.1 * f.severity, clip=sc.lung)
    sc.done("Edema", frac=0.2)


def _paint_atelectasis(sc: _Scene, f: Finding) -> None:
    """A plate-like band above the (lifted) hemidiaphragm; the lift itself is painted with the lungs."""
    cv, geo = sc.cv, sc.geo
    au = geo.lungs[f.side][2]
    pu, pv = geo.point(f.side, f.lateral, f.vertical)
    pv = min(pv, geo.domes[f.side] - _dome_lift(sc.findings)[f.side] - 0.05)
    length = au * (0.55 + 0.4 * f.severity)
    tilt = f.side * 0.08
    pts = [(pu - length / 2, pv - tilt * length / 2), (pu + length / 2, pv + tilt * length / 2)]
    cv.polyline(
        sc.layer("Atelectasis"),
        pts,
        width=3.5 + 3.5 * f.severity,
        amp=0.5 + 0.4 * f.severity,
        clip=np.clip(sc.air * 2.5, 0.0, 1.0),
    )
    sc.done("Atelectasis")


def _paint_effusion(sc: _Scene, f: Finding) -> None:
    """Fluid at the base with a meniscus rising laterally; only effusions above a size show on the frontal view."""
    if f.severity <= EFFUSION_FRONTAL_SEVERITY:
        sc.hidden("Pleural Effusion")
        return
    cv, geo = sc.cv, sc.geo
    d = sc.layer("Pleural Effusion")
    lift = _dome_lift(sc.findings)
    for side in (-1, 1) if f.variant else (f.side,):
        sev = f.severity if side == f.side else 0.5 * (f.severity + EFFUSION_FRONTAL_SEVERITY)
        cu, cvv, au, av = geo.lungs[side]
        top = geo.domes[side] - lift[side]
        sl = cv.window(cu - au * 1.1, cu + au * 1.1, top - 0.4, top + 0.16)
        u, v = cv.u[sl], cv.v[sl]
        h = 0.1 + 0.5 * (sev - EFFUSION_FRONTAL_SEVERITY)  # height of the meniscus at the lateral wall
        lat = np.clip(side * (u - cu) / au, -1.0, 1.0)
        level = top + 0.06 - h * (0.4 + 0.6 * ((lat + 1) / 2) ** 2)
        du, dv = (u - cu) / (au * 1.04), (v - cvv) / (av * 1.03)
        inside = _soft((1.0 - np.sqrt(du * du + dv * dv)) * (au * cv.ux / 2.5))
        fluid = _soft((v - level) * (cv.vy / 2.5)) * inside * _soft((top + 0.13 - v) * (cv.vy / 4.0))
        d[sl] += fluid * (0.3 + AIR * sc.air[sl] / np.maximum(sc.lung[sl], 0.3))
    sc.done("Pleural Effusion", frac=0.1)


def _paint_pleural_other(sc: _Scene, f: Finding) -> None:
    """Pleural thickening: a smooth band along the lateral chest wall, mid-zone."""
    cv, geo = sc.cv, sc.geo
    cu, cvv, au, av = geo.lungs[f.side]
    _, pv = geo.point(f.side, 0.5, f.vertical)
    sl = cv.window(cu - au, cu + au, pv - 0.25, pv + 0.25)
    u, v = cv.u[sl], cv.v[sl]
    r = np.sqrt(((u - cu) / au) ** 2 + ((v - cvv) / av) ** 2)
    depth_px = (1.0 - r) * au * cv.ux
    band = _soft((6.0 + 10.0 * f.severity - depth_px) / 1.2) * np.clip(sc.lung[sl], 0, 1)
    band *= _soft((f.side * (u - cu) / au - 0.4) * 12.0) * np.exp(-(((v - pv) / (0.12 + 0.08 * f.severity)) ** 4))
    sc.layer("Pleural Other")[sl] += (0.45 + 0.3 * f.severity) * band
    sc.done("Pleural Other", frac=0.2)


def _paint_devices(sc: _Scene, f: Finding) -> None:
    """Tubes and lines (thin bright curves), a pacemaker (small bright block) with its leads, ECG electrodes."""
    cv = sc.cv
    d = sc.layer("Support Devices")
    rng = np.random.default_rng(f.seed)
    amp = 0.45 + 0.45 * f.severity
    if f.variant & ET_TUBE:
        cv.polyline(d, [(0.006, -0.05), (0.006, 0.22 + rng.uniform(-0.03, 0.03))], width=1.7, amp=amp)
    if f.variant & NG_TUBE:
        pts = [
            *_bezier((-0.012, -0.05), (-0.005, 0.5), (0.04, 0.64), n=10),
            *_bezier((0.04, 0.64), (0.1, 0.8), (0.2, 0.8), n=8)[1:],
        ]
        cv.polyline(d, pts, width=1.4, amp=amp)
    if f.variant & CENTRAL_LINE:
        s = -1 if rng.random() < 0.7 else 1
        cv.polyline(d, _bezier((s * 0.36, 0.05), (s * 0.12, 0.17), (-0.035, 0.42), n=12), width=1.3, amp=amp)
    if f.variant & PACEMAKER:
        pu, pv = 0.25 + rng.uniform(-0.02, 0.02), 0.15 + rng.uniform(-0.02, 0.02)
        sl = cv.ellipse_window(pu, pv, 0.06, 0.045)
        d[sl] += 1.2 * cv.ellipse(sl, pu, pv, 0.05, 0.032, edge=1.2)
        cv.polyline(d, _bezier((pu - 0.02, pv), (0.0, 0.3), (0.03, 0.62), n=12), width=1.2, amp=amp)
    if f.variant & ECG_LEADS:
        for _ in range(3):
            lu, lv = rng.uniform(-0.38, 0.38), rng.uniform(0.1, 0.75)
            sl = cv.ellipse_window(lu, lv, 0.015, 0.015)
            d[sl] += 0.8 * cv.ellipse(sl, lu, lv, 0.011, 0.011 * cv.ux / cv.vy, edge=1.0)
            end = (lu + rng.uniform(-0.3, 0.3), -0.1 if rng.random() < 0.5 else 1.1)
            cv.polyline(
                d, _bezier((lu, lv), ((lu + end[0]) / 2 + 0.05, (lv + end[1]) / 2), end, n=8), width=0.9, amp=0.3
            )
    sc.done("Support Devices", frac=0.2)


_FRONTAL_PAINTERS = {
    "Lung Opacity": _paint_lung_opacity,
    "Consolidation": _paint_consolidation,
    "Pneumonia": _paint_pneumonia,
    "Lung Lesion": _paint_lung_lesion,
    "Edema": _paint_edema,
    "Atelectasis": _paint_atelectasis,
    "Pleural Effusion": _paint_effusion,
    "Pleural Other": _paint_pleural_other,
    "Support Devices": _paint_devices,
}


# ---- Lateral view (patient facing image left): u anterior (-) .. posterior (+), v down ---------------------------
_LAT_LUNG = (0.03, 0.58, 0.32, 0.47)  # centre u, v, semi-axes: upper part of an ellipse cut by the diaphragm
_LAT_DOME = 0.665
_LAT_HEART = (-0.19, 0.67, 0.19, 0.15, 35.0)
_LAT_HILUM = (0.05, 0.44)
_RETROCARDIAC = (0.1, 0.6)


@dataclass(frozen=True)
class _LateralGeometry:
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


def _render_lateral(
    a: Anatomy, findings: Mapping[str, Finding], size: tuple[int, int], rng: np.random.Generator
) -> _Scene:
    cv = _Canvas(
        size,
        (size[1], size[1]),
        a.scale * 0.98,
        a.aspect,
        0.5 * a.dx + rng.normal(0, 0.012),
        a.dy + rng.normal(0, 0.012),
        0.5 * a.rotation + rng.normal(0, 2.0),
    )
    sc = _Scene(cv, a, findings)
    u, v = cv.u, cv.v
    inspiration = float(np.clip(rng.normal(1.0, 0.03), 0.88, 1.06))
    depth_ = a.lung_height * inspiration
    cu, cvv, au, av = _LAT_LUNG
    geo = _LateralGeometry(
        (cu, cvv, au * a.lung_width, av), _LAT_DOME + 0.5 * (a.dome_right + a.dome_left) + 0.45 * (depth_ - 1)
    )
    sc.geo = geo

    # Body seen from the side; shoulders and raised arms thicken the top.
    du, dv = u / 0.43, (v - 0.6) / 0.72
    r2 = du * du + dv * dv
    body = _soft((1.0 - np.sqrt(r2)) * (0.43 * cv.ux / 4.0))
    density = (0.45 + 0.45 * np.sqrt(np.clip(1.0 - r2, 0.0, 1.0))) * a.soft_tissue * body
    top = cv.window(-0.5, 0.5, -0.1, 0.45)
    density[top] += 0.3 * _soft((0.22 - v[top]) * (cv.vy / 20.0)) * body[top]

    # Heart (anterior, resting on the diaphragm), spine (posterior), sternum (anterior).
    hu, hv, hau, hav, tilt = _LAT_HEART
    hau, hav = hau * a.heart, hav * (0.5 + 0.5 * a.heart)
    hsl = cv.ellipse_window(hu, hv, hau * 1.5, hav * 1.5)
    heart = np.zeros(cv.shape, dtype=np.float32)
    heart_mask = np.zeros(cv.shape, dtype=np.float32)
    heart[hsl] = cv.ellipse(hsl, hu, hv, hau, hav, edge=4.0, angle=tilt, profile=True)
    heart_mask[hsl] = cv.ellipse(hsl, hu, hv, hau, hav, edge=4.0, angle=tilt)
    density += 0.1 * heart
    if "Cardiomegaly" in findings:  # the heart grows back into the retrocardiac space and up
        s = findings["Cardiomegaly"].severity
        gu, gv = 1.15 + 0.45 * s, 1.08 + 0.2 * s
        bu, bv = hu + 0.55 * (gu - 1) * hau, hv - 0.3 * (gv - 1) * hav
        bsl = cv.ellipse_window(bu, bv, hau * gu * 1.5, hav * gv * 1.5)
        big = cv.ellipse(bsl, bu, bv, hau * gu, hav * gv, edge=3.0, angle=tilt, profile=True)
        big_mask = cv.ellipse(bsl, bu, bv, hau * gu, hav * gv, edge=3.0, angle=tilt)
        sc.extra["heart"] = (bsl, big_mask)
        sc.layer("Cardiomegaly")[bsl] += 0.12 * np.clip(big - heart[bsl], 0.0, None)
        sc.done("Cardiomegaly", box=_bbox(big_mask, frac=0.5, origin=(bsl[0].start, bsl[1].start)))
    ssl = cv.window(0.12, 0.58, -0.1, 1.1)
    su, sv = u[ssl], v[ssl]
    spine_u = 0.335 - 0.06 * sv + 0.12 * (sv - 0.45) ** 2
    spine = np.zeros(cv.shape, dtype=np.float32)
    spine[ssl] = _soft((0.05 - np.abs(su - spine_u)) * (cv.ux / 2.0))
    discs = 0.6 + 0.4 * _soft((np.cos(sv * (2 * math.pi / 0.05)) + 0.75) * 8.0)
    density[ssl] += 0.2 * spine[ssl] * discs + 0.12 * _soft((0.09 - np.abs(su - spine_u - 0.1)) * (cv.ux / 6.0))
    tsl = cv.window(-0.45, -0.2, 0.1, 0.7)
    tu, tv = u[tsl], v[tsl]
    sternum = _soft((0.012 - np.abs(tu + 0.36 - 0.1 * tv)) * (cv.ux / 1.5)) * _soft((tv - 0.2) * (cv.vy / 3.0))
    density[tsl] += 0.1 * sternum * _soft((0.6 - tv) * (cv.vy / 3.0))

    # Lung field (both lungs superimposed), in its window.
    lift = 0.5 * _dome_lift(findings)[-1] + 0.5 * _dome_lift(findings)[1]
    cu, cvv, au, av = geo.lung
    lsl = cv.window(cu - au, cu + au, cvv - av, geo.dome + 0.12, margin=4)
    lu, lv = u[lsl], v[lsl]
    du, dv = (lu - cu) / au, (lv - cvv) / av
    r2 = du * du + dv * dv
    shape = _soft((1.0 - np.sqrt(r2)) * (min(au * cv.ux, av * cv.vy) / 3.0))
    depth = np.sqrt(np.clip(1.0 - 0.6 * r2, 0.1, 1.0))
    sc.lung[lsl] = shape * _soft((geo.diaphragm(lu) - lv) * (cv.vy / 2.5))
    if lift:
        lifted = shape * _soft((geo.diaphragm(lu, lift) - lv) * (cv.vy / 2.5))
        sc.layer("Atelectasis")[lsl] += AIR * (sc.lung[lsl] - lifted) * depth
    cover = np.clip(0.6 * heart_mask[lsl] + 0.5 * spine[lsl], 0.0, 1.0)
    sc.air[lsl] = sc.lung[lsl] * depth * (1 - cover)
    if "Cardiomegaly" in findings:
        bsl, big_mask = sc.extra["heart"]
        sc.layer("Cardiomegaly")[bsl] += AIR * 0.8 * np.clip(big_mask - heart_mask[bsl], 0, 1) * sc.air[bsl]
    trsl = cv.window(-0.1, 0.12, -0.1, 0.45)
    trachea = _soft((0.02 - np.abs(u[trsl] - (-0.03 + 0.14 * v[trsl]))) * (cv.ux / 1.5))
    density[trsl] -= 0.08 * trachea * _soft((0.4 - v[trsl]) * (cv.vy / 3.0))
    density -= AIR * sc.air

    # Faint oblique posterior ribs and vessels around the hilum.
    air = sc.air[lsl]
    rib = np.cos((lv - 0.5 * lu) * (2 * math.pi / 0.06))
    density[lsl] += 0.05 * _soft((rib - 0.2) * 5.0) * sc.lung[lsl] * _soft((lu - 0.05) * 20.0)
    rng_v = np.random.default_rng(a.vessel_seed + 1)
    hx, hy = _LAT_HILUM
    du, dv = (lu - hx) * cv.ux, (lv - hy) * cv.vy
    rr = np.sqrt(du * du + dv * dv)
    table = _ray_table(rng_v)
    idx = (np.arctan2(dv, du) * (len(table) / (2 * math.pi)) + rr * 0.03).astype(np.int32) % len(table)
    breaks = _soft((_smooth_noise(rng_v, air.shape, (air.shape[0] // 12, air.shape[1] // 12)) + 0.6) * 3.0)
    vessels = 0.06 * table[idx] * np.exp(rr * (-1.0 / (0.18 * cv.vy))) * _soft((rr - 5.0) * 0.5) * breaks * air
    density[lsl] += vessels
    sc.extra["vessels"] = (lsl, vessels)

    for name, painter in _LATERAL_PAINTERS.items():
        if name in findings:
            painter(sc, findings[name])
    if "Fracture" in findings:  # a rib fracture is not seen on this phantom's lateral view
        sc.hidden("Fracture")
    sc.base = density.copy()
    for layer in sc.layers.values():
        density += layer
    sc.density = density
    return sc


def _lat_blob(sc: _Scene, f: Finding, radius: float, spread: float = 3.0) -> tuple[Window, np.ndarray]:
    cv = sc.cv
    pu, pv = sc.geo.point(f.depth, f.vertical)
    rv = radius * cv.ux / cv.vy
    sl = cv.window(pu - spread * radius, pu + spread * radius, pv - spread * rv, pv + spread * rv)
    du, dv = (cv.u[sl] - pu) / radius, (cv.v[sl] - pv) / rv
    return sl, du * du + dv * dv


def _lat_ecm(sc: _Scene, f: Finding) -> None:
    """A widened upper mediastinum: soft tissue fills the retrosternal clear space from the sternum back."""
    cv = sc.cv
    sl = cv.window(-0.42, 0.1, 0.08, 0.6)
    u, v = cv.u[sl], cv.v[sl]
    front = -0.36 + 0.1 * v  # the sternum's line
    reach = 0.1 + 0.14 * f.severity  # how far back from the sternum the mass reaches
    mass = _soft((front + reach - u) * (cv.ux / 5.0)) * _soft((u - front + 0.02) * (cv.ux / 3.0))
    mass *= _soft((v - 0.17) * (cv.vy / 6.0)) * _soft((0.5 - v) * (cv.vy / 8.0))
    fill = mass * sc.lung[sl]
    sc.layer("Enlarged Cardiomediastinum")[sl] += (0.12 + 0.12 * f.severity) * fill + AIR * 0.85 * fill * sc.air[sl]
    sc.done("Enlarged Cardiomediastinum", frac=0.2)


def _lat_pneumothorax(sc: _Scene, f: Finding) -> None:
    """Air in front of and above the collapsing lung: a dark band without markings, edged by the pleural line."""
    cv, geo = sc.cv, sc.geo
    cu, cvv, au, av = geo.lung
    k = 0.12 + 0.25 * f.severity
    anchor_u, anchor_v = cu + 0.4 * au, geo.dome  # collapse toward the hilum, back and down
    su, sv = au * (1 - k), av * (1 - 0.8 * k)
    ccu, ccv = anchor_u + (cu - anchor_u) * (1 - k), anchor_v + (cvv - anchor_v) * (1 - 0.8 * k)
    sl = cv.window(cu - au, cu + au, cvv - av, geo.dome + 0.05, margin=4)
    u, v = cv.u[sl], cv.v[sl]
    du, dv = (u - ccu) / su, (v - ccv) / sv
    rr = np.sqrt(du * du + dv * dv)
    scale = min(su * cv.ux, sv * cv.vy)
    inner = _soft((1.0 - rr) * scale)
    zone = _soft((cvv + 0.05 - v) * (cv.vy / 8.0)) * _soft((cu + 0.45 * au - u) * (cv.ux / 8.0))  # apical, anterior
    space = np.clip(sc.lung[sl] - inner, 0.0, 1.0) * zone
    line = np.exp(-(((rr - 1.0) * scale) ** 2) * (1 / 2.0)) * zone * np.clip(sc.lung[sl] * 1.5, 0, 1)
    vsl, vessels = sc.extra["vessels"]
    d = sc.layer("Pneumothorax")
    d[sl] += -(0.16 + 0.1 * f.severity) * space + 0.2 * line
    d[vsl] -= vessels * np.clip(d[vsl] * -10.0, 0.0, 1.0)  # no lung markings in the air
    sc.done("Pneumothorax", frac=0.2)


def _lat_pleural_other(sc: _Scene, f: Finding) -> None:
    """Pleural thickening: a smooth band along the posterior chest wall, mid-zone."""
    cv, geo = sc.cv, sc.geo
    cu, cvv, au, av = geo.lung
    _, pv = geo.point(0.5, f.vertical)
    sl = cv.window(cu, cu + au, pv - 0.25, pv + 0.25)
    u, v = cv.u[sl], cv.v[sl]
    r = np.sqrt(((u - cu) / au) ** 2 + ((v - cvv) / av) ** 2)
    depth_px = (1.0 - r) * au * cv.ux
    band = _soft((11.0 + 14.0 * f.severity - depth_px) / 1.2) * np.clip(sc.lung[sl] * 1.2, 0, 1)
    band *= _soft(((u - cu) / au - 0.3) * 12.0) * np.exp(-(((v - pv) / (0.1 + 0.08 * f.severity)) ** 4))
    sc.layer("Pleural Other")[sl] += (0.5 + 0.3 * f.severity) * band + AIR * band * sc.air[sl]
    sc.done("Pleural Other", frac=0.2)


def _lat_lung_opacity(sc: _Scene, f: Finding) -> None:
    sl, r2 = _lat_blob(sc, f, 0.06 + 0.05 * f.severity)
    sc.layer("Lung Opacity")[sl] += AIR * (0.18 + 0.3 * f.severity) * np.exp(-0.5 * r2) * sc.air[sl]
    sc.done("Lung Opacity")


def _lat_consolidation(sc: _Scene, f: Finding) -> None:
    rng = np.random.default_rng(f.seed + 1)
    sl, r2 = _lat_blob(sc, f, 0.06 + 0.04 * f.severity, spread=1.8)
    r = np.sqrt(r2) + 0.3 * _smooth_noise(rng, r2.shape, (5, 5))
    sc.layer("Consolidation")[sl] += AIR * (0.45 + 0.4 * f.severity) * _soft((1.0 - r) * 8.0) * sc.air[sl]
    sc.done("Consolidation")


def _lat_pneumonia(sc: _Scene, f: Finding) -> None:
    rng = np.random.default_rng(f.seed + 1)
    sl, r2 = _lat_blob(sc, f, 0.065 + 0.04 * f.severity, spread=2.4)
    shape = r2.shape
    spots = _soft((_smooth_noise(rng, shape, (max(3, shape[0] // 9), max(3, shape[1] // 9))) - 0.1) * 3.0)
    sc.layer("Pneumonia")[sl] += AIR * (0.3 + 0.4 * f.severity) * spots * np.exp(-0.5 * r2) * sc.air[sl]
    sc.done("Pneumonia")


def _lat_lung_lesion(sc: _Scene, f: Finding) -> None:
    cv = sc.cv
    pu, pv = sc.geo.point(f.depth, f.vertical)
    if f.variant == 1:  # retrocardiac space: behind the heart, in front of the spine
        pu, pv = _RETROCARDIAC[0] + 0.15 * (f.depth - 0.62), _RETROCARDIAC[1] + 0.25 * (f.vertical - 0.73)
    rad = LESION_RADIUS[0] + LESION_RADIUS[1] * f.severity
    rv = rad * cv.ux / cv.vy
    sl = cv.ellipse_window(pu, pv, rad, rv)
    amp = LESION_AMP[0] + LESION_AMP[1] * f.severity
    sc.layer("Lung Lesion")[sl] += amp * cv.ellipse(sl, pu, pv, rad, rv, edge=1.2, profile=True)
    sc.done("Lung Lesion")


def _lat_edema(sc: _Scene, f: Finding) -> None:
    cv = sc.cv
    rng = np.random.default_rng(f.seed + 1)
    hx, hy = _LAT_HILUM
    sl = cv.window(hx - 0.4, hx + 0.4, hy - 0.45, hy + 0.45)
    du, dv = (cv.u[sl] - hx) / 0.13, (cv.v[sl] - hy - 0.03) / 0.16
    haze = np.exp(-0.5 * (du * du + dv * dv)) * (1 + 0.35 * _smooth_noise(rng, du.shape, (10, 10)))
    sc.layer("Edema")[sl] += AIR * (0.08 + 0.28 * f.severity) * haze * sc.air[sl]
    sc.done("Edema", frac=0.2)


def _lat_atelectasis(sc: _Scene, f: Finding) -> None:
    pu, pv = sc.geo.point(f.depth, f.vertical)
    pv = min(pv, sc.geo.dome - 0.04)
    pts = [(pu - 0.12, pv - 0.03), (pu + 0.12, pv + 0.03)]
    sc.cv.polyline(
        sc.layer("Atelectasis"),
        pts,
        width=1.8 + 2.0 * f.severity,
        amp=0.2 + 0.25 * f.severity,
        clip=np.clip(sc.air * 1.6, 0.0, 1.0),
    )
    sc.done("Atelectasis")


def _lat_effusion(sc: _Scene, f: Finding) -> None:
    """Fluid in the posterior costophrenic recess, a meniscus rising posteriorly; seen from the smallest effusion."""
    cv, geo = sc.cv, sc.geo
    cu, cvv, au, av = geo.lung
    sev = min(1.0, f.severity * (1.15 if f.variant else 1.0))
    sl = cv.window(cu - au, cu + au * 1.1, geo.dome - 0.35, geo.dome + 0.25)
    u, v = cv.u[sl], cv.v[sl]
    h = 0.12 + 0.3 * sev
    post = np.clip((u - cu) / au, -1.0, 1.0)
    level = geo.dome + 0.1 - h * (0.25 + 0.75 * ((post + 1) / 2) ** 3)
    du, dv = (u - cu) / (au * 1.03), (v - cvv) / (av * 1.06)
    inside = _soft((1.0 - np.sqrt(du * du + dv * dv)) * (au * cv.ux / 3.0))
    fluid = _soft((v - level) * (cv.vy / 2.5)) * inside * _soft((u - cu + 0.12) * (cv.ux / 6.0))
    fluid *= _soft((geo.dome + 0.2 - v) * (cv.vy / 4.0))
    sc.layer("Pleural Effusion")[sl] += fluid * (0.3 + AIR * sc.air[sl] / np.maximum(sc.lung[sl], 0.3))
    sc.done("Pleural Effusion", frac=0.1)


def _lat_devices(sc: _Scene, f: Finding) -> None:
    cv = sc.cv
    d = sc.layer("Support Devices")
    amp = 0.45 + 0.45 * f.severity
    if f.variant & ET_TUBE:
        cv.polyline(d, [(-0.1, -0.05), (-0.03 + 0.14 * 0.28, 0.28)], width=1.7, amp=amp)
    if f.variant & NG_TUBE:
        cv.polyline(d, _bezier((-0.06, -0.05), (0.12, 0.45), (0.0, 0.86), n=12), width=1.4, amp=amp)
    if f.variant & CENTRAL_LINE:
        cv.polyline(d, _bezier((-0.12, 0.02), (-0.1, 0.2), (-0.06, 0.42), n=10), width=1.3, amp=amp)
    if f.variant & PACEMAKER:
        sl = cv.ellipse_window(-0.3, 0.2, 0.07, 0.03)
        d[sl] += 1.2 * cv.ellipse(sl, -0.3, 0.2, 0.05, 0.016, edge=1.2)
        cv.polyline(d, _bezier((-0.28, 0.2), (-0.1, 0.3), (-0.12, 0.62), n=12), width=1.2, amp=amp)
    if f.variant & ECG_LEADS:
        for lu, lv in ((-0.38, 0.36), (-0.37, 0.56)):
            sl = cv.ellipse_window(lu, lv, 0.02, 0.02)
            d[sl] += 0.8 * cv.ellipse(sl, lu, lv, 0.006, 0.014, edge=1.0)
    sc.done("Support Devices", frac=0.2)


_LATERAL_PAINTERS = {
    "Enlarged Cardiomediastinum": _lat_ecm,
    "Pneumothorax": _lat_pneumothorax,
    "Pleural Other": _lat_pleural_other,
    "Lung Opacity": _lat_lung_opacity,
    "Consolidation": _lat_consolidation,
    "Pneumonia": _lat_pneumonia,
    "Lung Lesion": _lat_lung_lesion,
    "Edema": _lat_edema,
    "Atelectasis": _lat_atelectasis,
    "Pleural Effusion": _lat_effusion,
    "Support Devices": _lat_devices,
}


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
        sc = _render_frontal(anatomy, findings, size, projection, rng)
    elif view == "lateral":
        sc = _render_lateral(anatomy, findings, size, rng)
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


# --------------------------------------------------------------------------------------------------------------
# Writing the dataset


def image_size(view: str, height: int, seed: int) -> tuple[int, int]:
    """(height, width) of one image, drawn like CheXpert-v1.0-small's (at ``height`` 320).

    Frontal: 320 tall; 390 wide (two thirds of the real validation set), 357-389 wide (a quarter) or 320 (8%).
    Lateral: 320 wide and portrait, 330-401 tall (85%), or square. Other heights scale all sizes.
    """
    rng = np.random.default_rng([seed, 2])
    r = rng.random()
    if view == "frontal":
        long = 390 if r < 0.66 else int(rng.integers(357, 390)) if r < 0.92 else 320
        return height, max(height, round(long * height / 320))
    long = int(rng.integers(330, 402)) if r < 0.85 else 320
    return max(height, round(long * height / 320)), height


def image_path(split: str, patient: int, study: int, view_index: int, view: str) -> str:
    return f"{DATASET_DIR}/{split}/patient{patient:05d}/study{study}/view{view_index}_{view}.jpg"


def _view_seed(config: PhantomConfig, split: str, patient: int, study: int, view_index: int) -> int:
    ss = np.random.SeedSequence([config.seed, SPLIT_IDS[split], patient, study, view_index])
    return int(ss.generate_state(1)[0])


def encode_jpeg(image: np.ndarray, quality: int) -> bytes:
    """Baseline 8-bit grayscale JPEG bytes."""
    buf = io.BytesIO()
    Image.fromarray(image, mode="L").save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def _truth_rows(path: str, study: Study, rendered: Rendered) -> list[tuple[str, ...]]:
    rows = []
    no_finding = not any(name in study.findings for name in PATHOLOGIES)
    for name in OBSERVATIONS:
        f = study.findings.get(name)
        present = no_finding if name == "No Finding" else f is not None
        severity = f.severity if f is not None else 0.0
        box = rendered.boxes.get(name) if present else None
        visible = bool(present and rendered.visible.get(name, False))
        cells = tuple(str(c) for c in box) if box is not None and visible else ("", "", "", "")
        rows.append((path, name, str(int(present)), f"{severity:.3f}", str(int(visible)), *cells))
    return rows


def _make_patient(job: tuple[PhantomConfig, str, int, str]) -> tuple[list[tuple[str, ...]], list[tuple[str, ...]]]:
    """Render and write one patient's images under ``root``; return its CSV rows and truth rows."""
    config, split, index, root = job
    patient = plan_patient(config, split, index)
    csv_rows, truth_rows = [], []
    for study in patient.studies:
        for k, view in enumerate(study.views, start=1):
            path = image_path(split, patient.number, study.study, k, view)
            projection = study.projection if view == "frontal" else ""
            seed = _view_seed(config, split, patient.number, study.study, k)
            size = image_size(view, config.height, seed)
            rendered = render(patient.anatomy, study.findings, view, size, projection or "PA", seed)
            file = Path(root, path)
            file.parent.mkdir(parents=True, exist_ok=True)
            file.write_bytes(encode_jpeg(rendered.image, config.jpeg_quality))
            meta = (path, patient.sex, str(study.age), view.capitalize(), projection)
            csv_rows.append(meta + study.labels)
            truth_rows.extend(_truth_rows(path, study, rendered))
    return csv_rows, truth_rows


def _write_table(path: Path, columns: Sequence[str], rows: list[tuple[str, ...]]) -> None:
    import pandas as pd

    write_csv(path, pd.DataFrame(rows, columns=list(columns), dtype=str))


def _summary(config: PhantomConfig, rows: dict[str, list[tuple[str, ...]]], truth: list[tuple[str, ...]]) -> dict:
    out: dict = {"seed": config.seed}
    first_view = {}
    for r in truth:
        study = r[0].rsplit("/", 1)[0]
        first_view.setdefault(study, r[0])
    for split in SPLITS:
        split_rows = rows[split]
        studies = {r[0].rsplit("/", 1)[0] for r in split_rows}
        labels = {o: {"1.0": 0, "0.0": 0, "-1.0": 0, "": 0} for o in OBSERVATIONS}
        for r in split_rows:
            for o, cell in zip(OBSERVATIONS, r[len(META_COLUMNS) :], strict=True):
                labels[o][cell] += 1
        present = dict.fromkeys(OBSERVATIONS, 0)
        for r in truth:
            study = r[0].rsplit("/", 1)[0]
            if r[0] == first_view[study] and study in studies and r[2] == "1":
                present[r[1]] += 1
        out[split] = {
            "patients": len({r[0].split("/")[2] for r in split_rows}),
            "studies": len(studies),
            "images": len(split_rows),
            "frontal": sum(r[3] == "Frontal" for r in split_rows),
            "lateral": sum(r[3] == "Lateral" for r in split_rows),
            "positive_images": {o: labels[o]["1.0"] for o in OBSERVATIONS},
            "uncertain_images": {o: labels[o]["-1.0"] for o in OBSERVATIONS},
            "present_studies": present,
        }
    return out


def generate(out_dir: str | os.PathLike, config: PhantomConfig, workers: int = 1) -> dict:
    """Write out_dir/CheXpert-v1.0-small/{train.csv,valid.csv,train/...,valid/...} and out_dir/phantom_truth.csv.

    Everything is built in a temporary folder inside ``out_dir`` and moved into place at the end (replacing any
    previous phantom), so a crash leaves no partial dataset. The output is byte-identical for any ``workers``.
    Returns a summary: patients, studies, images (frontal/lateral), labelled positives and true positives per split.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".phantom-", dir=out))
    try:
        counts = {"train": config.train_patients, "valid": config.valid_patients}
        jobs = [(config, split, i, str(tmp)) for split in SPLITS for i in range(1, counts[split] + 1)]
        if workers > 1 and len(jobs) > 1:
            with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
                results = list(pool.map(_make_patient, jobs, chunksize=max(1, min(16, len(jobs) // (4 * workers)))))
        else:
            results = [_make_patient(job) for job in jobs]
        rows: dict[str, list] = {split: [] for split in SPLITS}
        truth: list[tuple[str, ...]] = []
        for (_, split, _, _), (csv_rows, truth_rows) in zip(jobs, results, strict=True):
            rows[split].extend(csv_rows)
            truth.extend(truth_rows)
        for split in SPLITS:
            (tmp / DATASET_DIR / split).mkdir(parents=True, exist_ok=True)
            _write_table(tmp / DATASET_DIR / f"{split}.csv", CSV_COLUMNS, rows[split])
        _write_table(tmp / TRUTH_FILE, TRUTH_COLUMNS, truth)
        final = out / DATASET_DIR
        if final.exists():
            os.replace(final, tmp / "previous")
        os.replace(tmp / DATASET_DIR, final)
        os.replace(tmp / TRUTH_FILE, out / TRUTH_FILE)
        return _summary(config, rows, truth)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

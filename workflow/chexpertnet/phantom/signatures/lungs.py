"""Signatures in the lung parenchyma, frontal and lateral side by side: Lung Opacity, Consolidation, Pneumonia,
Lung Lesion, Edema, Atelectasis (its band; the lift of the hemidiaphragm is drawn with the anatomy)."""

from __future__ import annotations

import math

import numpy as np

from chexpertnet.phantom.canvas import AIR, Scene, Window, smooth_noise, soft
from chexpertnet.phantom.findings import LESION_AMP, LESION_RADIUS, Finding
from chexpertnet.phantom.geometry import LAT_HILUM, RETROCARDIAC, dome_lift


def _lung_blob(sc: Scene, f: Finding, radius: float, spread: float = 3.0) -> tuple[Window, np.ndarray, float, float]:
    """Window and normalised squared radius around a finding's frame point."""
    cv = sc.cv
    pu, pv = sc.geo.point(f.side, f.lateral, f.vertical)
    rv = radius * cv.ux / cv.vy
    sl = cv.window(pu - spread * radius, pu + spread * radius, pv - spread * rv, pv + spread * rv)
    du, dv = (cv.u[sl] - pu) / radius, (cv.v[sl] - pv) / rv
    return sl, du * du + dv * dv, pu, pv


def _lat_blob(sc: Scene, f: Finding, radius: float, spread: float = 3.0) -> tuple[Window, np.ndarray]:
    cv = sc.cv
    pu, pv = sc.geo.point(f.depth, f.vertical)
    rv = radius * cv.ux / cv.vy
    sl = cv.window(pu - spread * radius, pu + spread * radius, pv - spread * rv, pv + spread * rv)
    du, dv = (cv.u[sl] - pu) / radius, (cv.v[sl] - pv) / rv
    return sl, du * du + dv * dv


def lung_opacity_frontal(sc: Scene, f: Finding) -> None:
    rng = np.random.default_rng(f.seed)
    sl, r2, _, _ = _lung_blob(sc, f, 0.06 + 0.05 * f.severity)
    haze = np.exp(-0.5 * r2) * (1 + 0.3 * smooth_noise(rng, r2.shape, (6, 6)))
    sc.layer("Lung Opacity")[sl] += AIR * (0.2 + 0.35 * f.severity) * haze * sc.air[sl]
    sc.done("Lung Opacity")


def lung_opacity_lateral(sc: Scene, f: Finding) -> None:
    sl, r2 = _lat_blob(sc, f, 0.06 + 0.05 * f.severity)
    sc.layer("Lung Opacity")[sl] += AIR * (0.18 + 0.3 * f.severity) * np.exp(-0.5 * r2) * sc.air[sl]
    sc.done("Lung Opacity")


def consolidation_frontal(sc: Scene, f: Finding) -> None:
    rng = np.random.default_rng(f.seed)
    radius = 0.06 + 0.045 * f.severity
    sl, r2, pu, pv = _lung_blob(sc, f, radius, spread=1.8)
    r = np.sqrt(r2) + 0.3 * smooth_noise(rng, r2.shape, (5, 5))
    patch = soft((1.0 - r) * 8.0)
    bronchi = np.zeros(sc.cv.shape, dtype=np.float32)
    for _ in range(3):  # air bronchograms: dark branching lines inside the dense patch
        ang = rng.uniform(0, 2 * math.pi)
        pts = [(pu, pv), (pu + 0.8 * radius * math.cos(ang), pv + 0.8 * radius * math.sin(ang))]
        sc.cv.polyline(bronchi, pts, width=1.3, amp=1.0)
    dense = patch * (1 - 0.45 * np.clip(bronchi[sl], 0, 1))
    sc.layer("Consolidation")[sl] += AIR * (0.5 + 0.45 * f.severity) * dense * sc.air[sl]
    sc.done("Consolidation")


def consolidation_lateral(sc: Scene, f: Finding) -> None:
    rng = np.random.default_rng(f.seed + 1)
    sl, r2 = _lat_blob(sc, f, 0.06 + 0.04 * f.severity, spread=1.8)
    r = np.sqrt(r2) + 0.3 * smooth_noise(rng, r2.shape, (5, 5))
    sc.layer("Consolidation")[sl] += AIR * (0.45 + 0.4 * f.severity) * soft((1.0 - r) * 8.0) * sc.air[sl]
    sc.done("Consolidation")


def pneumonia_frontal(sc: Scene, f: Finding) -> None:
    rng = np.random.default_rng(f.seed)
    sl, r2, _, _ = _lung_blob(sc, f, 0.07 + 0.045 * f.severity, spread=2.4)
    shape = r2.shape
    mottle = smooth_noise(rng, shape, (max(3, shape[0] // 9), max(3, shape[1] // 9)))
    spots = soft((mottle - 0.1) * 3.0)
    amp = AIR * (0.45 + 0.45 * f.severity)
    sc.layer("Pneumonia")[sl] += amp * spots * np.exp(-0.5 * r2) * sc.air[sl]
    sc.done("Pneumonia")


def pneumonia_lateral(sc: Scene, f: Finding) -> None:
    rng = np.random.default_rng(f.seed + 1)
    sl, r2 = _lat_blob(sc, f, 0.065 + 0.04 * f.severity, spread=2.4)
    shape = r2.shape
    spots = soft((smooth_noise(rng, shape, (max(3, shape[0] // 9), max(3, shape[1] // 9))) - 0.1) * 3.0)
    sc.layer("Pneumonia")[sl] += AIR * (0.3 + 0.4 * f.severity) * spots * np.exp(-0.5 * r2) * sc.air[sl]
    sc.done("Pneumonia")


def lung_lesion_frontal(sc: Scene, f: Finding) -> None:
    if f.variant == 1:  # retrocardiac: hidden by the heart on the frontal view
        sc.hidden("Lung Lesion")
        return
    _nodule(sc, f, *sc.geo.point(f.side, f.lateral, f.vertical))


def lung_lesion_lateral(sc: Scene, f: Finding) -> None:
    pu, pv = sc.geo.point(f.depth, f.vertical)
    if f.variant == 1:  # retrocardiac space: behind the heart, in front of the spine
        pu, pv = RETROCARDIAC[0] + 0.15 * (f.depth - 0.62), RETROCARDIAC[1] + 0.25 * (f.vertical - 0.73)
    _nodule(sc, f, pu, pv)


def _nodule(sc: Scene, f: Finding, pu: float, pv: float) -> None:
    """A round dense nodule at frame point (pu, pv), its size and density growing with the severity."""
    cv = sc.cv
    rad = LESION_RADIUS[0] + LESION_RADIUS[1] * f.severity
    rv = rad * cv.ux / cv.vy
    sl = cv.ellipse_window(pu, pv, rad, rv)
    amp = LESION_AMP[0] + LESION_AMP[1] * f.severity
    sc.layer("Lung Lesion")[sl] += amp * cv.ellipse(sl, pu, pv, rad, rv, edge=1.2, profile=True)
    sc.done("Lung Lesion")


def edema_frontal(sc: Scene, f: Finding) -> None:
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
        haze = np.exp(-0.5 * (du * du + dv * dv)) * (1 + 0.35 * smooth_noise(rng, du.shape, (8, 8)))
        d[sl] += amp * haze * sc.air[sl]
        for _ in range(int(3 + 4 * f.severity)):
            lu, lv = geo.point(side, rng.uniform(0.8, 0.95), rng.uniform(0.7, 0.92))
            cv.polyline(d, [(lu - side * 0.035, lv), (lu, lv)], width=0.9, amp=0.1 + 0.1 * f.severity, clip=sc.lung)
    sc.done("Edema", frac=0.2)


def edema_lateral(sc: Scene, f: Finding) -> None:
    cv = sc.cv
    rng = np.random.default_rng(f.seed + 1)
    hx, hy = LAT_HILUM
    sl = cv.window(hx - 0.4, hx + 0.4, hy - 0.45, hy + 0.45)
    du, dv = (cv.u[sl] - hx) / 0.13, (cv.v[sl] - hy - 0.03) / 0.16
    haze = np.exp(-0.5 * (du * du + dv * dv)) * (1 + 0.35 * smooth_noise(rng, du.shape, (10, 10)))
    sc.layer("Edema")[sl] += AIR * (0.08 + 0.28 * f.severity) * haze * sc.air[sl]
    sc.done("Edema", frac=0.2)


def atelectasis_frontal(sc: Scene, f: Finding) -> None:
    """A plate-like band above the (lifted) hemidiaphragm; the lift itself is painted with the lungs. A retrocardiac
    collapse (variant 1) is hidden by the heart on the frontal view."""
    if f.variant == 1:
        sc.hidden("Atelectasis")
        return
    cv, geo = sc.cv, sc.geo
    au = geo.lungs[f.side][2]
    pu, pv = geo.point(f.side, f.lateral, f.vertical)
    pv = min(pv, geo.domes[f.side] - dome_lift(sc.findings)[f.side] - 0.05)
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


def atelectasis_lateral(sc: Scene, f: Finding) -> None:
    """A band above the diaphragm; a retrocardiac collapse (variant 1) is a denser wedge over the lower spine."""
    pu, pv = sc.geo.point(f.depth, f.vertical)
    pv = min(pv, sc.geo.dome - 0.04)
    pts = [(pu - 0.12, pv - 0.03), (pu + 0.12, pv + 0.03)]
    retro = f.variant == 1
    sc.cv.polyline(
        sc.layer("Atelectasis"),
        pts,
        width=(4.0 if retro else 1.8) + (3.0 if retro else 2.0) * f.severity,
        amp=(0.35 if retro else 0.2) + (0.3 if retro else 0.25) * f.severity,
        clip=np.clip(sc.air * 1.6, 0.0, 1.0),
    )
    sc.done("Atelectasis")

"""The frontal view's anatomy: soft tissue, heart and mediastinum, lungs, vessels, ribs, clavicles and spine.

Findings that change the anatomy are drawn with it (a bigger heart, a wider mediastinum, a lifted hemidiaphragm, the
vessel markings a pneumothorax hides, a broken rib); the others are painted last by the FRONTAL_PAINTERS registry.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from chexpertnet.phantom.anatomy import Anatomy
from chexpertnet.phantom.canvas import AIR, Canvas, Scene, Window, bezier, ray_table, smooth_noise, soft
from chexpertnet.phantom.findings import Finding
from chexpertnet.phantom.geometry import (
    FRONTAL_FRAME,
    FrontalGeometry,
    dome_lift,
    frontal_geometry,
    rib_band,
    rib_phase,
)
from chexpertnet.phantom.signatures import FRONTAL_PAINTERS
from chexpertnet.phantom.signatures.fracture import fracture_frontal
from chexpertnet.phantom.signatures.heart import (
    cardiomegaly_frontal,
    cardiomegaly_frontal_cover,
    enlarged_cardiomediastinum_frontal,
    enlarged_cardiomediastinum_frontal_cover,
)
from chexpertnet.phantom.signatures.pleura import pneumothorax_frontal

_HEART = (0.07, 0.565, 0.19, 0.12, 20.0)  # centre u, v, semi-axes, tilt (degrees; apex down to image right)


def _lung_masks(
    cv: Canvas, geo: FrontalGeometry, side: int, lift: float = 0.0
) -> tuple[Window, np.ndarray, np.ndarray]:
    """One lung's window, soft mask and depth (thickest centrally)."""
    cu, cvv, au, av = geo.lungs[side]
    sl = cv.window(cu - au, cu + au, cvv - av, geo.domes[side] + 0.12, margin=4)
    u, v = cv.u[sl], cv.v[sl]
    du, dv = (u - cu) / au, (v - cvv) / av
    r2 = du * du + dv * dv
    edge = min(au * cv.ux, av * cv.vy) / 2.5
    mask = soft((1.0 - np.sqrt(r2)) * edge) * soft((geo.dome(side, u, lift) - v) * (cv.vy / 2.0))
    depth = mask * np.sqrt(np.clip(1.0 - 0.75 * (0.6 * du * du + dv * dv), 0.1, 1.0))
    return sl, mask, depth


def render_frontal(
    a: Anatomy, findings: Mapping[str, Finding], size: tuple[int, int], projection: str, rng: np.random.Generator
) -> Scene:
    """The frontal view as a Scene: the anatomy's density (``base``), with the findings' layers (``density``)."""
    ap = projection == "AP"
    cv = Canvas(
        size,
        (size[0] * FRONTAL_FRAME[0], size[0] * FRONTAL_FRAME[1]),
        a.scale * (1.02 if ap else 1.0),
        a.aspect,
        a.dx + rng.normal(0, 0.01),
        a.dy + rng.normal(0, 0.01),
        a.rotation + rng.normal(0, 1.2),
    )
    sc = Scene(cv, a, findings)
    u, v = cv.u, cv.v
    inspiration = float(np.clip(rng.normal(0.95 if ap else 1.0, 0.03), 0.86, 1.06))
    geo = frontal_geometry(a, inspiration)
    sc.geo = geo

    # Soft tissue: neck, shoulders, chest wall; thickest in the middle.
    shoulder = np.clip((v + 0.03) / 0.17, 0.0, 1.0)
    half = 0.1 + 0.37 * shoulder * shoulder * (3 - 2 * shoulder) - 0.12 * (v - 0.4) ** 2
    au_ = np.abs(u)
    density = (0.25 + 0.6 * np.sqrt(np.clip(1.0 - (u / half) ** 2, 0.0, 1.0))) * soft((half - au_) * (cv.ux / 3.0))
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
    med[msl] = soft((med_w + 0.04 * mv - np.abs(mu - 0.008)) * (cv.ux / 2.5)) * soft((0.58 - mv) * (cv.vy / 6.0))
    ksl = cv.ellipse_window(0.06, 0.29, 0.04, 0.03)
    med[ksl] = np.maximum(med[ksl], cv.ellipse(ksl, 0.055, 0.29, 0.038, 0.028, edge=2.0))
    cover = np.clip(0.75 * heart_mask + 0.9 * med, 0.0, 1.0)
    density += 0.12 * heart + 0.08 * med
    if "Cardiomegaly" in findings:
        cardiomegaly_frontal(sc, findings["Cardiomegaly"], (hu, hv, hau, hav, tilt), heart)
    if "Enlarged Cardiomediastinum" in findings:
        enlarged_cardiomediastinum_frontal(sc, findings["Enlarged Cardiomediastinum"], msl, med, med_w)

    # Lungs: air, less where heart and mediastinum lie in front; atelectasis lifts one hemidiaphragm.
    lift = dome_lift(findings)
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
        cardiomegaly_frontal_cover(sc, heart_mask)
    if "Enlarged Cardiomediastinum" in findings:
        enlarged_cardiomediastinum_frontal_cover(sc)
    tsl = cv.window(-0.05, 0.05, -0.05, 0.36)
    tu, tv = u[tsl], v[tsl]
    trachea = soft((0.018 - np.abs(tu - 0.004 - 0.01 * tv)) * (cv.ux / 1.5)) * soft((0.31 - tv) * (cv.vy / 3.0))
    density -= AIR * sc.air
    density[tsl] -= 0.18 * trachea
    if a.gastric_bubble:
        bu, bv = 0.2, geo.domes[1] + 0.075
        bsl = cv.ellipse_window(bu, bv, 0.07, 0.04)
        density[bsl] -= 0.3 * a.gastric_bubble * cv.ellipse(bsl, bu, bv, 0.065, 0.035, edge=4, profile=True)

    # Lung markings: vessels branching out of the hila.
    vessels = _vessels(cv, geo, a.vessel_seed)
    if "Pneumothorax" in findings:
        pneumothorax_frontal(sc, findings["Pneumothorax"], vessels)
    density += (0.13 * vessels) * sc.lung * (1 - cover)

    # Bones: ribs, clavicles, spine.
    density += _ribs(sc, geo, ap)
    for side in (-1, 1):
        pts = bezier((side * 0.035, 0.14), (side * 0.19, 0.125), (side * 0.36, 0.075), n=8)
        cv.polyline(density, pts, width=0.018 * cv.ux, amp=0.18)
    ssl = cv.window(-0.08, 0.08, -0.1, 1.1)
    su, svv = u[ssl], v[ssl]
    seg = 0.8 + 0.2 * soft((np.cos(svv * (2 * math.pi / 0.043)) + 0.3) * 4.0)
    density[ssl] += 0.1 * soft((0.034 - np.abs(su)) * (cv.ux / 2.0)) * seg

    return sc.paint(density, FRONTAL_PAINTERS)


def _vessels(cv: Canvas, geo: FrontalGeometry, seed: int) -> np.ndarray:
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
        wobble = smooth_noise(rng, shape, (shape[0] // 24, shape[1] // 24))
        table = ray_table(rng)
        n = len(table)
        idx = (theta * (n / (2 * math.pi)) + wobble * 6.0 + r * 0.03).astype(np.int32) % n
        breaks = soft((smooth_noise(rng, shape, (shape[0] // 12, shape[1] // 12)) + 0.6) * 3.0)
        out[sl] = table[idx] * np.exp(r * (-1.0 / (0.22 * cv.vy))) * soft((r - 6.0) * 0.5) * breaks
    return out


def _ribs(sc: Scene, geo: FrontalGeometry, ap: bool) -> np.ndarray:
    """Posterior ribs (curving down laterally) and fainter anterior ribs; a fracture breaks one rib."""
    cv, a = sc.cv, sc.a
    sl = cv.window(-0.45, 0.45, 0.05, 0.8)
    u, v = cv.u[sl], cv.v[sl]
    spacing = 0.054 * a.rib_spacing * (0.97 if ap else 1.0)
    offset = 0.075 + a.rib_phase * spacing
    phase = rib_phase(u, v, spacing, offset)
    frac = phase - np.floor(phase)
    au = np.abs(u)
    cage = soft((0.435 - au) * (cv.ux / 4.0)) * soft((au - 0.035) * (cv.ux / 3.0))
    cage *= soft((phase - 0.0) * 6.0) * soft((0.74 - v) * (cv.vy / 10.0))
    weight = cage * (0.15 + 0.85 * np.clip(sc.air[sl] * 1.5, 0.0, 1.0))
    rib_amp = np.random.default_rng(a.vessel_seed + 7).uniform(0.75, 1.2, 32).astype(np.float32)
    out = np.zeros(cv.shape, dtype=np.float32)
    out[sl] = 0.14 * rib_band(frac) * weight * rib_amp[np.clip(phase, 0, 31).astype(np.int32)]
    ant = (v + 0.38 * (au - 0.44) - 0.02) / (spacing * 1.15)
    af = ant - np.floor(ant)
    out[sl] += 0.05 * np.clip((0.2 - np.abs(af - 0.3)) * 8.0, 0.0, 1.0) * weight * np.clip((au - 0.16) * 30.0, 0, 1)
    if "Fracture" in sc.findings:
        fracture_frontal(sc, sc.findings["Fracture"], geo, spacing, offset, weight, sl)
    return out

"""Signatures in the pleura, frontal and lateral side by side: Pneumothorax, Pleural Effusion, Pleural Other."""

from __future__ import annotations

import numpy as np

from chexpertnet.phantom.canvas import AIR, Scene, soft
from chexpertnet.phantom.findings import EFFUSION_FRONTAL_SEVERITY, Finding
from chexpertnet.phantom.geometry import dome_lift


def pneumothorax_frontal(sc: Scene, f: Finding, vessels: np.ndarray) -> None:
    """Air between the chest wall and the collapsed lung at the apex/lateral edge: dark, no markings, pleural line.
    An anterior pneumothorax (variant 1) lies in front of the lung: no edge to see on the frontal view."""
    if f.variant == 1:
        sc.hidden("Pneumothorax")
        return
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
    inner = soft((1.0 - rr) * (min(su * cv.ux, sv * cv.vy) / 1.0))
    upper = soft((cvv - 0.15 * av - v) * (cv.vy / 6.0))  # apical and upper lateral only
    space = np.clip(sc.lung[sl] - inner, 0.0, 1.0) * upper
    line = (
        np.exp(-(((rr - 1.0) * min(su * cv.ux, sv * cv.vy)) ** 2) * (1 / 2.5))
        * upper
        * np.clip(sc.lung[sl] * 1.5, 0, 1)
    )
    d = sc.layer("Pneumothorax")
    d[sl] += -(0.14 + 0.08 * f.severity) * space - 0.13 * vessels[sl] * space * np.clip(sc.lung[sl], 0, 1) + 0.2 * line
    sc.done("Pneumothorax", frac=0.2)


def pneumothorax_lateral(sc: Scene, f: Finding) -> None:
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
    inner = soft((1.0 - rr) * scale)
    zone = soft((cvv + 0.05 - v) * (cv.vy / 8.0)) * soft((cu + 0.45 * au - u) * (cv.ux / 8.0))  # apical, anterior
    space = np.clip(sc.lung[sl] - inner, 0.0, 1.0) * zone
    line = np.exp(-(((rr - 1.0) * scale) ** 2) * (1 / 2.0)) * zone * np.clip(sc.lung[sl] * 1.5, 0, 1)
    vsl, vessels = sc.extra["vessels"]
    d = sc.layer("Pneumothorax")
    d[sl] += -(0.16 + 0.1 * f.severity) * space + 0.2 * line
    d[vsl] -= vessels * np.clip(d[vsl] * -10.0, 0.0, 1.0)  # no lung markings in the air
    sc.done("Pneumothorax", frac=0.2)


def effusion_frontal(sc: Scene, f: Finding) -> None:
    """Fluid at the base with a meniscus rising laterally; only effusions above a size show on the frontal view."""
    if f.severity <= EFFUSION_FRONTAL_SEVERITY:
        sc.hidden("Pleural Effusion")
        return
    cv, geo = sc.cv, sc.geo
    d = sc.layer("Pleural Effusion")
    lift = dome_lift(sc.findings)
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
        inside = soft((1.0 - np.sqrt(du * du + dv * dv)) * (au * cv.ux / 2.5))
        fluid = soft((v - level) * (cv.vy / 2.5)) * inside * soft((top + 0.13 - v) * (cv.vy / 4.0))
        d[sl] += fluid * (0.3 + AIR * sc.air[sl] / np.maximum(sc.lung[sl], 0.3))
    sc.done("Pleural Effusion", frac=0.1)


def effusion_lateral(sc: Scene, f: Finding) -> None:
    """Fluid in the posterior costophrenic recess, a meniscus rising posteriorly; seen from the smallest effusion."""
    cv, geo = sc.cv, sc.geo
    cu, cvv, au, av = geo.lung
    sev = min(1.0, f.severity * (1.15 if f.variant else 1.0))
    sl = cv.window(cu - au, cu + au * 1.1, geo.dome - 0.35, geo.dome + 0.25)
    u, v = cv.u[sl], cv.v[sl]
    h = 0.22 + 0.3 * sev  # even the smallest effusion fills the posterior recess well above the dome
    post = np.clip((u - cu) / au, -1.0, 1.0)
    level = geo.dome + 0.1 - h * (0.25 + 0.75 * ((post + 1) / 2) ** 3)
    du, dv = (u - cu) / (au * 1.03), (v - cvv) / (av * 1.06)
    inside = soft((1.0 - np.sqrt(du * du + dv * dv)) * (au * cv.ux / 3.0))
    fluid = soft((v - level) * (cv.vy / 2.5)) * inside * soft((u - cu + 0.12) * (cv.ux / 6.0))
    fluid *= soft((geo.dome + 0.2 - v) * (cv.vy / 4.0))
    sc.layer("Pleural Effusion")[sl] += fluid * (0.3 + AIR * sc.air[sl] / np.maximum(sc.lung[sl], 0.3))
    sc.done("Pleural Effusion", frac=0.1)


def pleural_other_frontal(sc: Scene, f: Finding) -> None:
    """Pleural thickening: a smooth band along the lateral chest wall, mid-zone."""
    cv, geo = sc.cv, sc.geo
    cu, cvv, au, av = geo.lungs[f.side]
    _, pv = geo.point(f.side, 0.5, f.vertical)
    sl = cv.window(cu - au, cu + au, pv - 0.25, pv + 0.25)
    u, v = cv.u[sl], cv.v[sl]
    r = np.sqrt(((u - cu) / au) ** 2 + ((v - cvv) / av) ** 2)
    depth_px = (1.0 - r) * au * cv.ux
    band = soft((6.0 + 10.0 * f.severity - depth_px) / 1.2) * np.clip(sc.lung[sl], 0, 1)
    band *= soft((f.side * (u - cu) / au - 0.4) * 12.0) * np.exp(-(((v - pv) / (0.12 + 0.08 * f.severity)) ** 4))
    sc.layer("Pleural Other")[sl] += (0.45 + 0.3 * f.severity) * band
    sc.done("Pleural Other", frac=0.2)


def pleural_other_lateral(sc: Scene, f: Finding) -> None:
    """Pleural thickening: a smooth band along the posterior chest wall, mid-zone."""
    cv, geo = sc.cv, sc.geo
    cu, cvv, au, av = geo.lung
    _, pv = geo.point(0.5, f.vertical)
    sl = cv.window(cu, cu + au, pv - 0.25, pv + 0.25)
    u, v = cv.u[sl], cv.v[sl]
    r = np.sqrt(((u - cu) / au) ** 2 + ((v - cvv) / av) ** 2)
    depth_px = (1.0 - r) * au * cv.ux
    band = soft((11.0 + 14.0 * f.severity - depth_px) / 1.2) * np.clip(sc.lung[sl] * 1.2, 0, 1)
    band *= soft(((u - cu) / au - 0.3) * 12.0) * np.exp(-(((v - pv) / (0.1 + 0.08 * f.severity)) ** 4))
    sc.layer("Pleural Other")[sl] += (0.5 + 0.3 * f.severity) * band + AIR * band * sc.air[sl]
    sc.done("Pleural Other", frac=0.2)

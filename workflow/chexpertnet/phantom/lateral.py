"""The lateral view's anatomy (patient facing image left): body, heart, spine, sternum, the lung field, ribs, vessels.

The heart's growth (Cardiomegaly) and the lifted diaphragm (Atelectasis) are drawn with the anatomy; the other
findings are painted last by the LATERAL_PAINTERS registry.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from chexpertnet.phantom.anatomy import Anatomy
from chexpertnet.phantom.canvas import AIR, Canvas, Scene, ray_table, smooth_noise, soft
from chexpertnet.phantom.findings import Finding
from chexpertnet.phantom.geometry import LAT_HILUM, dome_lift, lateral_geometry
from chexpertnet.phantom.signatures import LATERAL_PAINTERS
from chexpertnet.phantom.signatures.heart import cardiomegaly_lateral, cardiomegaly_lateral_cover

_LAT_HEART = (-0.19, 0.67, 0.19, 0.15, 35.0)


def render_lateral(
    a: Anatomy, findings: Mapping[str, Finding], size: tuple[int, int], rng: np.random.Generator
) -> Scene:
    """The lateral view as a Scene: the anatomy's density (``base``), with the findings' layers (``density``)."""
    cv = Canvas(
        size,
        (size[1], size[1]),
        a.scale * 0.98,
        a.aspect,
        0.5 * a.dx + rng.normal(0, 0.012),
        a.dy + rng.normal(0, 0.012),
        0.5 * a.rotation + rng.normal(0, 2.0),
    )
    sc = Scene(cv, a, findings)
    u, v = cv.u, cv.v
    inspiration = float(np.clip(rng.normal(1.0, 0.03), 0.88, 1.06))
    geo = lateral_geometry(a, inspiration)
    sc.geo = geo

    # Body seen from the side; shoulders and raised arms thicken the top.
    du, dv = u / 0.43, (v - 0.6) / 0.72
    r2 = du * du + dv * dv
    body = soft((1.0 - np.sqrt(r2)) * (0.43 * cv.ux / 4.0))
    density = (0.45 + 0.45 * np.sqrt(np.clip(1.0 - r2, 0.0, 1.0))) * a.soft_tissue * body
    top = cv.window(-0.5, 0.5, -0.1, 0.45)
    density[top] += 0.3 * soft((0.22 - v[top]) * (cv.vy / 20.0)) * body[top]

    # Heart (anterior, resting on the diaphragm), spine (posterior), sternum (anterior).
    hu, hv, hau, hav, tilt = _LAT_HEART
    hau, hav = hau * a.heart, hav * (0.5 + 0.5 * a.heart)
    hsl = cv.ellipse_window(hu, hv, hau * 1.5, hav * 1.5)
    heart = np.zeros(cv.shape, dtype=np.float32)
    heart_mask = np.zeros(cv.shape, dtype=np.float32)
    heart[hsl] = cv.ellipse(hsl, hu, hv, hau, hav, edge=4.0, angle=tilt, profile=True)
    heart_mask[hsl] = cv.ellipse(hsl, hu, hv, hau, hav, edge=4.0, angle=tilt)
    density += 0.1 * heart
    if "Cardiomegaly" in findings:
        cardiomegaly_lateral(sc, findings["Cardiomegaly"], (hu, hv, hau, hav, tilt), heart)
    ssl = cv.window(0.12, 0.58, -0.1, 1.1)
    su, sv = u[ssl], v[ssl]
    spine_u = 0.335 - 0.06 * sv + 0.12 * (sv - 0.45) ** 2
    spine = np.zeros(cv.shape, dtype=np.float32)
    spine[ssl] = soft((0.05 - np.abs(su - spine_u)) * (cv.ux / 2.0))
    discs = 0.6 + 0.4 * soft((np.cos(sv * (2 * math.pi / 0.05)) + 0.75) * 8.0)
    density[ssl] += 0.2 * spine[ssl] * discs + 0.12 * soft((0.09 - np.abs(su - spine_u - 0.1)) * (cv.ux / 6.0))
    tsl = cv.window(-0.45, -0.2, 0.1, 0.7)
    tu, tv = u[tsl], v[tsl]
    sternum = soft((0.012 - np.abs(tu + 0.36 - 0.1 * tv)) * (cv.ux / 1.5)) * soft((tv - 0.2) * (cv.vy / 3.0))
    density[tsl] += 0.1 * sternum * soft((0.6 - tv) * (cv.vy / 3.0))

    # Lung field (both lungs superimposed), in its window.
    lift = 0.5 * dome_lift(findings, frontal=False)[-1] + 0.5 * dome_lift(findings, frontal=False)[1]
    cu, cvv, au, av = geo.lung
    lsl = cv.window(cu - au, cu + au, cvv - av, geo.dome + 0.12, margin=4)
    lu, lv = u[lsl], v[lsl]
    du, dv = (lu - cu) / au, (lv - cvv) / av
    r2 = du * du + dv * dv
    shape = soft((1.0 - np.sqrt(r2)) * (min(au * cv.ux, av * cv.vy) / 3.0))
    depth = np.sqrt(np.clip(1.0 - 0.6 * r2, 0.1, 1.0))
    sc.lung[lsl] = shape * soft((geo.diaphragm(lu) - lv) * (cv.vy / 2.5))
    if lift:
        lifted = shape * soft((geo.diaphragm(lu, lift) - lv) * (cv.vy / 2.5))
        sc.layer("Atelectasis")[lsl] += AIR * (sc.lung[lsl] - lifted) * depth
    cover = np.clip(0.6 * heart_mask[lsl] + 0.5 * spine[lsl], 0.0, 1.0)
    sc.air[lsl] = sc.lung[lsl] * depth * (1 - cover)
    if "Cardiomegaly" in findings:
        cardiomegaly_lateral_cover(sc, heart_mask)
    trsl = cv.window(-0.1, 0.12, -0.1, 0.45)
    trachea = soft((0.02 - np.abs(u[trsl] - (-0.03 + 0.14 * v[trsl]))) * (cv.ux / 1.5))
    density[trsl] -= 0.08 * trachea * soft((0.4 - v[trsl]) * (cv.vy / 3.0))
    density -= AIR * sc.air

    # Faint oblique posterior ribs and vessels around the hilum.
    air = sc.air[lsl]
    rib = np.cos((lv - 0.5 * lu) * (2 * math.pi / 0.06))
    density[lsl] += 0.05 * soft((rib - 0.2) * 5.0) * sc.lung[lsl] * soft((lu - 0.05) * 20.0)
    rng_v = np.random.default_rng(a.vessel_seed + 1)
    hx, hy = LAT_HILUM
    du, dv = (lu - hx) * cv.ux, (lv - hy) * cv.vy
    rr = np.sqrt(du * du + dv * dv)
    table = ray_table(rng_v)
    idx = (np.arctan2(dv, du) * (len(table) / (2 * math.pi)) + rr * 0.03).astype(np.int32) % len(table)
    breaks = soft((smooth_noise(rng_v, air.shape, (air.shape[0] // 12, air.shape[1] // 12)) + 0.6) * 3.0)
    vessels = 0.06 * table[idx] * np.exp(rr * (-1.0 / (0.18 * cv.vy))) * soft((rr - 5.0) * 0.5) * breaks * air
    density[lsl] += vessels
    sc.extra["vessels"] = (lsl, vessels)

    return sc.paint(density, LATERAL_PAINTERS)

"""The heart and mediastinum, frontal and lateral: Cardiomegaly, Enlarged Cardiomediastinum.

A bigger heart or a wider mediastinum is drawn with the anatomy (frontal.py, lateral.py call these): first the
organ's growth, once the normal heart is drawn, then (``*_cover``) the lung it covers, once the lung's air is known.
"""

from __future__ import annotations

import numpy as np

from chexpertnet.phantom.canvas import AIR, Scene, Window, bbox, soft
from chexpertnet.phantom.findings import Finding


def cardiomegaly_frontal(
    sc: Scene, f: Finding, heart_shape: tuple[float, float, float, float, float], heart: np.ndarray
) -> None:
    """The heart grows, mostly to the left (``heart_shape``: the normal heart's centre, semi-axes and tilt)."""
    cv = sc.cv
    hu, hv, hau, hav, tilt = heart_shape
    s = f.severity
    gu, gv = 1.12 + 0.45 * s, 1.02 + 0.12 * s
    bu, bv = hu + 0.45 * (gu - 1) * hau, hv + 0.3 * (gv - 1) * hav
    bsl = cv.ellipse_window(bu, bv, hau * gu * 1.5, hav * gv * 1.5)
    big = cv.ellipse(bsl, bu, bv, hau * gu, hav * gv, edge=2.0, angle=tilt, profile=True)
    big_mask = cv.ellipse(bsl, bu, bv, hau * gu, hav * gv, edge=2.0, angle=tilt)
    sc.extra["heart"] = (bsl, big_mask)
    sc.layer("Cardiomegaly")[bsl] += 0.12 * (big - heart[bsl])
    sc.done("Cardiomegaly", box=bbox(big_mask, frac=0.5, origin=(bsl[0].start, bsl[1].start)))


def cardiomegaly_frontal_cover(sc: Scene, heart_mask: np.ndarray) -> None:
    """The big heart covers more lung (after the lungs' air is known)."""
    bsl, big_mask = sc.extra["heart"]
    more = np.clip(big_mask - heart_mask[bsl], 0.0, 1.0) * 0.75
    sc.layer("Cardiomegaly")[bsl] += AIR * more * sc.air[bsl]


def cardiomegaly_lateral(
    sc: Scene, f: Finding, heart_shape: tuple[float, float, float, float, float], heart: np.ndarray
) -> None:
    """The heart grows back into the retrocardiac space and up (``heart_shape`` as in cardiomegaly_frontal)."""
    cv = sc.cv
    hu, hv, hau, hav, tilt = heart_shape
    s = f.severity
    gu, gv = 1.15 + 0.45 * s, 1.08 + 0.2 * s
    bu, bv = hu + 0.55 * (gu - 1) * hau, hv - 0.3 * (gv - 1) * hav
    bsl = cv.ellipse_window(bu, bv, hau * gu * 1.5, hav * gv * 1.5)
    big = cv.ellipse(bsl, bu, bv, hau * gu, hav * gv, edge=3.0, angle=tilt, profile=True)
    big_mask = cv.ellipse(bsl, bu, bv, hau * gu, hav * gv, edge=3.0, angle=tilt)
    sc.extra["heart"] = (bsl, big_mask)
    sc.layer("Cardiomegaly")[bsl] += 0.12 * np.clip(big - heart[bsl], 0.0, None)
    sc.done("Cardiomegaly", box=bbox(big_mask, frac=0.5, origin=(bsl[0].start, bsl[1].start)))


def cardiomegaly_lateral_cover(sc: Scene, heart_mask: np.ndarray) -> None:
    """The big heart covers more of the lung field (after its air is known)."""
    bsl, big_mask = sc.extra["heart"]
    sc.layer("Cardiomegaly")[bsl] += AIR * 0.8 * np.clip(big_mask - heart_mask[bsl], 0, 1) * sc.air[bsl]


def enlarged_cardiomediastinum_frontal(sc: Scene, f: Finding, msl: Window, med: np.ndarray, med_w: float) -> None:
    """The upper mediastinum widens (``med`` the normal mediastinum in window ``msl``, ``med_w`` its half-width)."""
    cv = sc.cv
    mu, mv = cv.u[msl], cv.v[msl]
    s = f.severity
    wide_w = med_w * (1.25 + 1.0 * s)
    wide = soft((wide_w + 0.04 * mv - np.abs(mu - 0.01)) * (cv.ux / 3.0))
    wide *= soft((mv - 0.1) * (cv.vy / 8.0)) * soft((0.52 - mv) * (cv.vy / 8.0))
    extra = np.clip(wide - med[msl], 0.0, 1.0)
    sc.layer("Enlarged Cardiomediastinum")[msl] += 0.35 * extra
    sc.extra["mediastinum"] = (msl, extra)
    sc.done("Enlarged Cardiomediastinum", frac=0.2)


def enlarged_cardiomediastinum_frontal_cover(sc: Scene) -> None:
    """The wide mediastinum covers more lung (after the lungs' air is known)."""
    msl_, extra = sc.extra["mediastinum"]
    sc.layer("Enlarged Cardiomediastinum")[msl_] += AIR * 0.9 * extra * sc.air[msl_]


def enlarged_cardiomediastinum_lateral(sc: Scene, f: Finding) -> None:
    """A widened upper mediastinum: soft tissue fills the retrosternal clear space from the sternum back."""
    cv = sc.cv
    sl = cv.window(-0.42, 0.1, 0.08, 0.6)
    u, v = cv.u[sl], cv.v[sl]
    front = -0.36 + 0.1 * v  # the sternum's line
    reach = 0.1 + 0.14 * f.severity  # how far back from the sternum the mass reaches
    mass = soft((front + reach - u) * (cv.ux / 5.0)) * soft((u - front + 0.02) * (cv.ux / 3.0))
    mass *= soft((v - 0.17) * (cv.vy / 6.0)) * soft((0.5 - v) * (cv.vy / 8.0))
    fill = mass * sc.lung[sl]
    sc.layer("Enlarged Cardiomediastinum")[sl] += (0.12 + 0.12 * f.severity) * fill + AIR * 0.85 * fill * sc.air[sl]
    sc.done("Enlarged Cardiomediastinum", frac=0.2)

"""Fracture: a broken rib on the frontal view (drawn while the ribs are: frontal.py), not seen on the lateral."""

from __future__ import annotations

import math

import numpy as np

from chexpertnet.phantom.canvas import Scene, Window, soft
from chexpertnet.phantom.findings import Finding
from chexpertnet.phantom.geometry import FrontalGeometry, rib_band, rib_phase


def fracture_frontal(
    sc: Scene, f: Finding, geo: FrontalGeometry, spacing: float, offset: float, weight: np.ndarray, rsl: Window
) -> None:
    """A rib broken across, its lateral fragment displaced along the rib's normal, with a little callus."""
    cv = sc.cv
    fu, fv = geo.point(f.side, f.lateral, f.vertical)
    k = math.floor(float(rib_phase(np.float32(fu), np.float32(fv), spacing, offset)))
    kv = offset + (k + 0.275) * spacing + 1.05 * fu * fu - 0.1 * abs(fu)  # rib k's centre line at fu
    sl = cv.window(fu - 0.07, fu + 0.07, kv - 1.2 * spacing, kv + 1.2 * spacing)
    y0, x0 = sl[0].start - rsl[0].start, sl[1].start - rsl[1].start
    w = weight[y0 : y0 + sl[0].stop - sl[0].start, x0 : x0 + sl[1].stop - sl[1].start]
    lp = rib_phase(cv.u[sl], cv.v[sl], spacing, offset) - k
    along = (cv.u[sl] - fu) * (f.side * cv.ux)  # pixels along the rib from the break, lateral positive
    reach = 0.055 * cv.ux
    shift = (0.25 + 0.4 * f.severity) * soft(along * 2.0) * np.clip(1.0 - along / reach, 0.0, 1.0)
    near = soft((lp + 0.25) * 10.0) * soft((1.25 - lp) * 10.0)
    gap = 1.0 - 0.9 * np.exp(-((along / (1.2 + 1.5 * f.severity)) ** 2))
    moved = rib_band(np.clip(lp - shift, -1, 2)) * gap
    orig = rib_band(np.clip(lp, -1, 2))
    callus = 0.08 * f.severity * np.exp(-((along / 4.0) ** 2)) * np.exp(-(((lp - 0.275) / 0.4) ** 2))
    sc.layer("Fracture")[sl] += (0.16 * (moved - orig) * near + callus) * w
    sc.done("Fracture", frac=0.2)


def fracture_lateral(sc: Scene, f: Finding) -> None:
    """A rib fracture is not seen on this phantom's lateral view."""
    sc.hidden("Fracture")

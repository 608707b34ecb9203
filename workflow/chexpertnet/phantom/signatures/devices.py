"""Support Devices, frontal and lateral: tubes, lines, a pacemaker, ECG leads (the bits of ``Finding.variant``)."""

from __future__ import annotations

import numpy as np

from chexpertnet.phantom.canvas import Scene, bezier
from chexpertnet.phantom.findings import CENTRAL_LINE, ECG_LEADS, ET_TUBE, NG_TUBE, PACEMAKER, Finding


def devices_frontal(sc: Scene, f: Finding) -> None:
    """Tubes and lines (thin bright curves), a pacemaker (small bright block) with its leads, ECG electrodes."""
    cv = sc.cv
    d = sc.layer("Support Devices")
    rng = np.random.default_rng(f.seed)
    amp = 0.45 + 0.45 * f.severity
    if f.variant & ET_TUBE:
        cv.polyline(d, [(0.006, -0.05), (0.006, 0.22 + rng.uniform(-0.03, 0.03))], width=1.7, amp=amp)
    if f.variant & NG_TUBE:
        pts = [
            *bezier((-0.012, -0.05), (-0.005, 0.5), (0.04, 0.64), n=10),
            *bezier((0.04, 0.64), (0.1, 0.8), (0.2, 0.8), n=8)[1:],
        ]
        cv.polyline(d, pts, width=1.4, amp=amp)
    if f.variant & CENTRAL_LINE:
        s = -1 if rng.random() < 0.7 else 1
        cv.polyline(d, bezier((s * 0.36, 0.05), (s * 0.12, 0.17), (-0.035, 0.42), n=12), width=1.3, amp=amp)
    if f.variant & PACEMAKER:
        pu, pv = 0.25 + rng.uniform(-0.02, 0.02), 0.15 + rng.uniform(-0.02, 0.02)
        sl = cv.ellipse_window(pu, pv, 0.06, 0.045)
        d[sl] += 1.2 * cv.ellipse(sl, pu, pv, 0.05, 0.032, edge=1.2)
        cv.polyline(d, bezier((pu - 0.02, pv), (0.0, 0.3), (0.03, 0.62), n=12), width=1.2, amp=amp)
    if f.variant & ECG_LEADS:
        for _ in range(3):
            lu, lv = rng.uniform(-0.38, 0.38), rng.uniform(0.1, 0.75)
            sl = cv.ellipse_window(lu, lv, 0.015, 0.015)
            d[sl] += 0.8 * cv.ellipse(sl, lu, lv, 0.011, 0.011 * cv.ux / cv.vy, edge=1.0)
            end = (lu + rng.uniform(-0.3, 0.3), -0.1 if rng.random() < 0.5 else 1.1)
            cv.polyline(
                d, bezier((lu, lv), ((lu + end[0]) / 2 + 0.05, (lv + end[1]) / 2), end, n=8), width=0.9, amp=0.3
            )
    sc.done("Support Devices", frac=0.2)


def devices_lateral(sc: Scene, f: Finding) -> None:
    cv = sc.cv
    d = sc.layer("Support Devices")
    amp = 0.45 + 0.45 * f.severity
    if f.variant & ET_TUBE:
        cv.polyline(d, [(-0.1, -0.05), (-0.03 + 0.14 * 0.28, 0.28)], width=1.7, amp=amp)
    if f.variant & NG_TUBE:
        cv.polyline(d, bezier((-0.06, -0.05), (0.12, 0.45), (0.0, 0.86), n=12), width=1.4, amp=amp)
    if f.variant & CENTRAL_LINE:
        cv.polyline(d, bezier((-0.12, 0.02), (-0.1, 0.2), (-0.06, 0.42), n=10), width=1.3, amp=amp)
    if f.variant & PACEMAKER:
        sl = cv.ellipse_window(-0.3, 0.2, 0.07, 0.03)
        d[sl] += 1.2 * cv.ellipse(sl, -0.3, 0.2, 0.05, 0.016, edge=1.2)
        cv.polyline(d, bezier((-0.28, 0.2), (-0.1, 0.3), (-0.12, 0.62), n=12), width=1.2, amp=amp)
    if f.variant & ECG_LEADS:
        for lu, lv in ((-0.38, 0.36), (-0.37, 0.56)):
            sl = cv.ellipse_window(lu, lv, 0.02, 0.02)
            d[sl] += 0.8 * cv.ellipse(sl, lu, lv, 0.006, 0.014, edge=1.0)
    sc.done("Support Devices", frac=0.2)

"""Drawing: the pixel grid in the patient's frame (Canvas), soft shapes and lines, textures, and the Scene that
the anatomy and the finding signatures of one view paint into (a density map: bright = dense)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from functools import lru_cache

import numpy as np
from PIL import Image

from chexpertnet.phantom.anatomy import Anatomy
from chexpertnet.phantom.findings import Finding


@lru_cache(maxsize=8)
def _grid(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    ys = np.arange(height, dtype=np.float32)[:, None] + 0.5
    xs = np.arange(width, dtype=np.float32)[None, :] + 0.5
    return ys, xs


def soft(x: np.ndarray | float) -> np.ndarray:
    """Logistic step (0 -> 0.5); ``x`` in units of the edge width."""
    return 0.5 + 0.5 * np.tanh(0.5 * x)


Box = tuple[int, int, int, int]
AIR = 0.72  # density that a lung's full aerated depth removes
Window = tuple[slice, slice]


class Canvas:
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
        mask = soft((1.0 - np.sqrt(r2)) * (min(a, b) / edge))
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


def bezier(
    p0: tuple[float, float], p1: tuple[float, float], p2: tuple[float, float], n: int = 12
) -> list[tuple[float, float]]:
    out = []
    for s in np.linspace(0.0, 1.0, n):
        a, b, c = (1 - s) ** 2, 2 * (1 - s) * s, s * s
        out.append((float(a * p0[0] + b * p1[0] + c * p2[0]), float(a * p0[1] + b * p1[1] + c * p2[1])))
    return out


def smooth_noise(rng: np.random.Generator, shape: tuple[int, int], cells: tuple[int, int]) -> np.ndarray:
    """Band-limited noise of about unit amplitude: a coarse random grid upsampled bicubically to ``shape``."""
    coarse = rng.standard_normal((max(2, cells[0]), max(2, cells[1]))).astype(np.float32)
    img = Image.fromarray(coarse, mode="F").resize((max(1, shape[1]), max(1, shape[0])), Image.Resampling.BICUBIC)
    return np.asarray(img, dtype=np.float32)


def bbox(delta: np.ndarray, frac: float = 0.15, floor: float = 0.01, origin: tuple[int, int] = (0, 0)) -> Box | None:
    """Box (x0, y0, x1, y1), x1/y1 exclusive, where |delta| exceeds ``frac`` of its peak (and ``floor``)."""
    a = np.abs(delta)
    peak = float(a.max()) if a.size else 0.0
    if peak <= floor:
        return None
    hot = a > max(frac * peak, floor)
    rows, cols = np.flatnonzero(hot.any(axis=1)), np.flatnonzero(hot.any(axis=0))
    y, x = origin
    return x + int(cols[0]), y + int(rows[0]), x + int(cols[-1]) + 1, y + int(rows[-1]) + 1


class Scene:
    """What the finding painters share: the canvas, the anatomy, and per-finding density layers."""

    def __init__(self, cv: Canvas, anatomy: Anatomy, findings: Mapping[str, Finding]):
        self.cv, self.a, self.findings = cv, anatomy, findings
        self.layers: dict[str, np.ndarray] = {}
        self.visible: dict[str, bool] = {}
        self.boxes: dict[str, Box | None] = {}
        self.lung = np.zeros(cv.shape, dtype=np.float32)  # soft lung mask
        self.air = np.zeros(cv.shape, dtype=np.float32)  # aerated lung depth not covered by heart/mediastinum
        self.geo = None  # FrontalGeometry or LateralGeometry
        self.extra: dict[str, tuple[Window, np.ndarray]] = {}  # shapes shared between anatomy steps
        self.base: np.ndarray | None = None  # density of the anatomy alone
        self.density: np.ndarray | None = None  # anatomy plus findings

    def layer(self, name: str) -> np.ndarray:
        if name not in self.layers:
            self.layers[name] = np.zeros(self.cv.shape, dtype=np.float32)
        return self.layers[name]

    def done(self, name: str, frac: float = 0.15, box: Box | None = None) -> None:
        """Mark ``name`` as shown in this view (if anything was painted), its box from its layer unless given."""
        self.boxes[name] = box if box is not None else bbox(self.layer(name), frac)
        self.visible[name] = self.boxes[name] is not None

    def hidden(self, name: str) -> None:
        self.visible[name] = False
        self.boxes[name] = None

    def paint(self, density: np.ndarray, painters: Mapping) -> Scene:
        """Run the painters of the findings present, keep the anatomy alone as ``base`` and add every layer."""
        for name, painter in painters.items():
            if name in self.findings:
                painter(self, self.findings[name])
        self.base = density.copy()
        for layer in self.layers.values():
            density += layer
        self.density = density
        return self


def ray_table(rng: np.random.Generator, n: int = 720) -> np.ndarray:
    """Angular profile of vessel rays: ~50 thin rays of varied strength around a hilum."""
    x = np.arange(n, dtype=np.float32)[None, :]
    c, w, h = (rng.uniform(lo, hi, (50, 1)).astype(np.float32) for lo, hi in ((0, n), (0.8, 2.2), (0.4, 1.0)))
    d = np.abs(x - c)
    d = np.minimum(d, n - d)
    return np.clip((h * np.exp(-((d / w) ** 2))).sum(axis=0), 0.0, 1.2)

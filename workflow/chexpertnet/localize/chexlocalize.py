"""CheXlocalize ground truth and metrics: reading its files, mapping them onto the images the
workflow reads, and the benchmark's saliency metrics. Pure functions (no file I/O): the callers read the JSON.

Formats (the public CheXlocalize repository):
- ``gt_segmentations_{val,test}.json``: ``{image_id: {pathology: {"size": [h, w], "counts": "<COCO RLE>"}}}``, every
  image with all 10 pathologies (empty masks included), encoded with pycocotools ``mask.encode`` of a Fortran-ordered
  uint8 array;
- ``gt_annotations_{val,test}.json``: ``{image_id: {"img_size": [h, w], pathology: [[[x, y], ...], ...]}}``, polygons
  of the positive pathologies only.
``image_id`` is the image's path below the split with ``/`` replaced by ``_`` (``patient64541_study1_view1_frontal``
is ``valid/patient64541/study1/view1_frontal.jpg``); coordinates are in the full-resolution CheXpert-v1.0 pixels
(``size`` [2320, 2828] for an image that CheXpert-v1.0-small stores 390 wide x 320 tall: the same factor on both axes).

Metrics, as the benchmark computes them: the saliency map is upsampled (bilinear) to the image, min-max normalized,
binarized by Otsu's threshold (or a given one); IoU with the true mask; the hit rate is whether the map's maximum
falls inside the mask; 95% CIs by bootstrap over images.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from PIL import Image, ImageDraw

from chexpertnet.localize.chexlocalize_ids import (  # noqa: F401  (re-exported: the format's names)
    PATHOLOGIES,
    LocalizeError,
    image_id,
    image_path,
    observation_of,
)


def decode_rle(entry: Mapping, image_id: str = "") -> np.ndarray:
    """A segmentation entry ``{"size": [h, w], "counts": str}`` -> (h, w) bool mask (pycocotools, the field's
    library)."""
    from pycocotools import mask as coco

    try:
        h, w = (int(v) for v in entry["size"])
        counts = entry["counts"]
        rle = {"size": [h, w], "counts": counts.encode() if isinstance(counts, str) else counts}
        return coco.decode(rle).astype(bool)
    except (KeyError, TypeError, ValueError) as exc:
        raise LocalizeError(
            f"{image_id}: not a COCO RLE entry ({exc}); expected {{'size': [h, w], 'counts': ...}}"
        ) from exc


def rasterize(polygons: Sequence[Sequence[Sequence[float]]], size_hw: Sequence[int]) -> np.ndarray:
    """Polygons ``[[[x, y], ...], ...]`` in pixel coordinates -> (h, w) bool mask (their union)."""
    h, w = (int(v) for v in size_hw)
    canvas = Image.new("L", (w, h), 0)
    draw = ImageDraw.Draw(canvas)
    for polygon in polygons:
        points = [(float(x), float(y)) for x, y in polygon]
        if len(points) >= 3:
            draw.polygon(points, fill=1, outline=1)
    return np.asarray(canvas, dtype=bool)


def map_to_image(mask: np.ndarray, image_hw: Sequence[int], image_id: str = "", tolerance: float = 0.02) -> np.ndarray:
    """A mask in CheXlocalize's pixels -> the mask on the image the workflow reads (nearest neighbour).

    The mask is the image's size, or a multiple of it with the same factor on both axes (the full-resolution image of
    a downscaled one, e.g. 7.25); any other size is an error naming the id.
    """
    h, w = (int(v) for v in image_hw)
    mh, mw = mask.shape
    if (mh, mw) == (h, w):
        return mask.astype(bool)
    fy, fx = mh / h, mw / w
    if abs(fy - fx) > tolerance * max(fy, fx):
        raise LocalizeError(
            f"{image_id}: mask size {mh}x{mw} (h x w) matches neither the image ({h}x{w}) nor a full-resolution "
            f"size with one factor on both axes ({fy:.3f} vs {fx:.3f}); check that the truth belongs to this dataset"
        )
    resized = Image.fromarray(mask.astype(np.uint8) * 255).resize((w, h), Image.Resampling.NEAREST)
    return np.asarray(resized) > 127


def normalize(saliency: np.ndarray) -> np.ndarray:
    """Min-max normalized to [0, 1] (a constant map becomes all zeros)."""
    s = np.asarray(saliency, dtype=np.float64)
    low, high = float(s.min()), float(s.max())
    return np.zeros_like(s) if high <= low else (s - low) / (high - low)


def otsu_threshold(values: np.ndarray, bins: int = 256) -> float:
    """Otsu's threshold of values in [0, 1]: the bin edge that maximizes the between-class variance."""
    hist, edges = np.histogram(np.asarray(values, dtype=np.float64).ravel(), bins=bins, range=(0.0, 1.0))
    p = hist.astype(np.float64) / max(1, hist.sum())
    centers = (edges[:-1] + edges[1:]) / 2
    w0 = np.cumsum(p)
    mu0 = np.cumsum(p * centers)
    total = mu0[-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        between = (total * w0 - mu0) ** 2 / (w0 * (1 - w0))
    between[~np.isfinite(between)] = -1.0
    k = int(np.argmax(between))
    return float(edges[k + 1])


def binarize(saliency: np.ndarray, threshold: float | None = None) -> np.ndarray:
    """The normalized map above ``threshold`` (Otsu's when None)."""
    s = normalize(saliency)
    t = otsu_threshold(s) if threshold is None else threshold
    return s >= t


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two masks (NaN when both are empty)."""
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else float("nan")


def hit(saliency: np.ndarray, mask: np.ndarray) -> bool:
    """Whether the map's maximum (the first, in row-major order, on ties) lies inside the mask."""
    y, x = np.unravel_index(int(np.argmax(saliency)), saliency.shape)
    return bool(mask[y, x])


#: An interval over fewer images than this is not given (a bootstrap of one or two images is its own value).
MIN_IMAGES = 10


def bootstrap_ci(values: Sequence[float], resamples: int = 1000, seed: int = 0, level: float = 0.95,
                 min_values: int = MIN_IMAGES) -> tuple:  # fmt: skip
    """(mean, low, high): the mean of ``values`` and its percentile bootstrap CI over the values (images); the CI is
    NaN with fewer than ``min_values`` values (NaN values do not count)."""
    v = np.asarray(values, dtype=np.float64)
    v = v[~np.isnan(v)]
    if not len(v):
        return float("nan"), float("nan"), float("nan")
    if len(v) < min_values:
        return float(v.mean()), float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = v[rng.integers(0, len(v), size=(resamples, len(v)))].mean(axis=1)
    tail = (1 - level) / 2 * 100
    return float(v.mean()), float(np.percentile(means, tail)), float(np.percentile(means, 100 - tail))


#: Thresholds tried when tuning one per pathology (CheXlocalize tunes on the validation set).
THRESHOLDS = np.round(np.arange(0.05, 1.0, 0.05), 2)


def score_map(saliency: np.ndarray, mask: np.ndarray, thresholds: np.ndarray = THRESHOLDS) -> dict:
    """One image and pathology: the map (already on the mask's grid) against its true mask. IoU after Otsu's
    threshold, the hit (the map's maximum inside the mask), and the IoU at each of ``thresholds`` (for tuning)."""
    if saliency.shape != mask.shape:
        raise ValueError(f"saliency {saliency.shape} and mask {mask.shape} differ in shape")
    s = normalize(saliency)
    return {
        "iou_otsu": iou(s >= otsu_threshold(s), mask),
        "hit": hit(s, mask),
        "iou_by_threshold": np.array([iou(s >= t, mask) for t in thresholds]),
    }


def summarize_scores(records: Sequence[Mapping], resamples: int = 1000, seed: int = 0,
                     thresholds: np.ndarray = THRESHOLDS) -> list[dict]:  # fmt: skip
    """Per pathology (CheXlocalize's order) and over all images: mIoU with Otsu's threshold, with the threshold that
    maximizes the pathology's mIoU on these images (tuned), and the hit rate, each with its bootstrap 95% CI over
    images. ``records``: dicts with pathology and :func:`score_map`'s keys."""
    rows, pooled = [], {"iou_otsu": [], "iou_tuned": [], "hit": []}
    for n, pathology in enumerate(PATHOLOGIES):
        part = [r for r in records if r["pathology"] == pathology]
        if not part:
            continue
        grid = np.stack([r["iou_by_threshold"] for r in part])
        best = int(np.argmax(np.nanmean(grid, axis=0)))
        values = {"iou_otsu": [r["iou_otsu"] for r in part], "iou_tuned": list(grid[:, best]),
                  "hit": [float(r["hit"]) for r in part]}  # fmt: skip
        row = {"pathology": pathology, "observation": PATHOLOGIES[pathology], "images": len(part),
               "threshold_tuned": float(thresholds[best])}  # fmt: skip
        for key, v in values.items():
            pooled[key] += v
            row.update(_with_ci(key, v, resamples, seed + n))
        rows.append(row)
    if rows:
        row = {"pathology": "all", "observation": "all", "images": len(pooled["hit"]), "threshold_tuned": float("nan")}
        for key, v in pooled.items():
            row.update(_with_ci(key, v, resamples, seed + len(PATHOLOGIES)))
        rows.append(row)
    return rows


def _with_ci(key: str, values: Sequence[float], resamples: int, seed: int) -> dict:
    name = {"iou_otsu": "miou_otsu", "iou_tuned": "miou_tuned", "hit": "hit_rate"}[key]
    mean, low, high = bootstrap_ci(values, resamples, seed)
    return {name: mean, f"{name}_low": low, f"{name}_high": high}

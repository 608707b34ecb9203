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

Metrics, exactly as the benchmark's code computes them (its ``heatmap_to_segmentation.py``, ``eval.py`` and
``tune_heatmap_threshold.py``):

- the saliency map (h x w) is upsampled bilinearly (``align_corners=False``) to the full-resolution image;
- segmentation: min-max normalized, then either Otsu's threshold (OpenCV's, on ``uint8(255 x)``) whose contours
  (``findContours``, ``RETR_TREE``) are drawn filled (PIL), so holes are filled, or a tuned threshold: ``x > t``;
- mIoU over the images whose true and predicted segmentations are both non-empty (``true_pos_only``), whatever the
  model's probability; the hit rate over the images whose true segmentation is non-empty: the upsampled map's
  maximum lies inside it; one result per pathology (no pooled row);
- thresholds tuned per pathology on the validation set over ``np.arange(0.2, 0.8, 0.1)`` (0.2 to 0.8) and applied
  to the test set;
- 95% CIs from 1,000 bootstrap replicates of the images, one resample shared by all pathologies, drawn by
  ``np.random.seed(0); np.random.choice`` and read at the 25th and 975th of the sorted replicates.
"""

from __future__ import annotations

import warnings
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


def decode_rle(entry: Mapping, image: str = "") -> np.ndarray:
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
            f"{image}: not a COCO RLE entry ({exc}); expected {{'size': [h, w], 'counts': ...}}"
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


def map_to_image(mask: np.ndarray, image_hw: Sequence[int], image: str = "", tolerance: float = 0.02) -> np.ndarray:
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
            f"{image}: mask size {mh}x{mw} (h x w) matches neither the image ({h}x{w}) nor a full-resolution "
            f"size with one factor on both axes ({fy:.3f} vs {fx:.3f}); check that the truth belongs to this dataset"
        )
    resized = Image.fromarray(mask.astype(np.uint8) * 255).resize((w, h), Image.Resampling.NEAREST)
    return np.asarray(resized) > 127


#: The thresholds CheXlocalize tunes over: np.arange(0.2, .8, .1) in tune_heatmap_threshold.py, which in floating
#: point is 0.2, 0.3, ..., 0.8 (seven values).
THRESHOLDS = np.round(np.arange(0.2, 0.8, 0.1), 1)
REPLICATES = 1000
#: Which map is scored: the paper's CAM (signed), or the CAM with its negative part set to 0, which for a
#: global-average-pooled linear head is what Grad-CAM gives on the features it pools (the benchmark's maps).
SALIENCY = ("cam", "gradcam")


def saliency(cam: np.ndarray, kind: str = "cam") -> np.ndarray:
    if kind not in SALIENCY:
        raise ValueError(f"saliency {kind!r} is not one of {SALIENCY}")
    cam = np.asarray(cam, dtype=np.float32)
    return np.maximum(cam, 0) if kind == "gradcam" else cam


def full_resolution(saliency_map: np.ndarray, size_hw: Sequence[int]) -> np.ndarray:
    """An (h, w) map -> (H, W) float32, upsampled as the benchmark does (torch, bilinear, align_corners=False)."""
    import torch
    import torch.nn.functional as F

    t = torch.as_tensor(np.asarray(saliency_map, dtype=np.float32)).reshape(1, 1, *np.shape(saliency_map)[-2:])
    h, w = (int(v) for v in size_hw)
    return F.interpolate(t, size=(h, w), mode="bilinear", align_corners=False)[0, 0].numpy()


def _normalized(full: np.ndarray) -> np.ndarray | None:
    """(x - min) / max(x - min) in float32, as the benchmark; None for a constant map (no salient region)."""
    x = np.asarray(full, dtype=np.float32)
    x = x - x.min()
    peak = x.max()
    return None if peak <= 0 else x / peak


def segment(full: np.ndarray, threshold: float | None = None) -> np.ndarray:
    """The benchmark's segmentation of a full-resolution map (bool, H x W): Otsu's threshold with filled contours,
    or ``x > threshold`` on the normalized map. A constant map segments to nothing."""
    import cv2

    x = _normalized(full)
    if x is None:
        return np.zeros(np.shape(full), dtype=bool)
    if threshold is not None:
        return x > threshold
    levels = np.uint8(255 * x)
    binary = cv2.threshold(levels, 0, int(levels.max()), cv2.THRESH_OTSU)[1]
    contours = cv2.findContours(binary, cv2.RETR_TREE, cv2.CHAIN_APPROX_SIMPLE)[-2]
    canvas = Image.new("1", (levels.shape[1], levels.shape[0]))
    draw = ImageDraw.Draw(canvas)
    for contour in contours:
        if len(contour) > 1:
            draw.polygon([(int(p[0][0]), int(p[0][1])) for p in contour], outline=1, fill=1)
    return np.asarray(canvas, dtype=bool)


def iou(predicted: np.ndarray, truth: np.ndarray) -> float:
    """IoU on the benchmark's true-positive slice: NaN unless both segmentations are non-empty."""
    p, t = np.asarray(predicted, dtype=bool), np.asarray(truth, dtype=bool)
    if not p.any() or not t.any():
        return float("nan")
    return float(np.logical_and(p, t).sum() / np.logical_or(p, t).sum())


def hit(full: np.ndarray, truth: np.ndarray) -> float:
    """1.0 when the full-resolution map's maximum (the first, row-major) lies inside the truth, 0.0 when not, NaN
    when the truth is empty (the image does not count)."""
    t = np.asarray(truth, dtype=bool)
    if not t.any():
        return float("nan")
    y, x = np.unravel_index(int(np.argmax(full)), np.shape(full))
    return float(t[y, x])


def score_map(saliency_map: np.ndarray, truth: np.ndarray, thresholds: np.ndarray = THRESHOLDS) -> dict:
    """One image and pathology: the map (model resolution) against the full-resolution truth: IoU after Otsu (with
    filled contours), the hit, and the IoU at each of ``thresholds`` (for tuning and for a tuned threshold)."""
    truth = np.asarray(truth, dtype=bool)
    full = full_resolution(saliency_map, truth.shape)
    return {
        "iou_otsu": iou(segment(full), truth),
        "hit": hit(full, truth),
        "iou_by_threshold": np.array([iou(segment(full, float(t)), truth) for t in thresholds]),
        "positive": bool(truth.any()),
    }


def tune_thresholds(records: Sequence[Mapping], grid: Sequence[float] = THRESHOLDS) -> dict[str, float]:
    """Per pathology, the threshold of CheXlocalize's grid (THRESHOLDS) whose mIoU over the images where it is
    defined is highest (the first on ties), as tune_heatmap_threshold.py picks it. ``grid``: the thresholds of the
    records' ``iou_by_threshold`` (THRESHOLDS, or a superset)."""
    grid = [round(float(t), 1) for t in grid]
    columns = [grid.index(round(float(t), 1)) for t in THRESHOLDS]
    best = {}
    for pathology in PATHOLOGIES:
        part = [np.asarray(r["iou_by_threshold"])[columns] for r in records if r["pathology"] == pathology]
        if not part:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            mious = np.nanmean(np.stack(part), axis=0)
        if not np.isnan(mious).all():
            best[pathology] = float(THRESHOLDS[int(np.nanargmax(mious))])
    return best


def bootstrap_indices(n: int, replicates: int = REPLICATES, seed: int = 0) -> np.ndarray:
    """(replicates, n) resampled image rows, as eval.py draws them: np.random.seed(seed), then one
    np.random.choice(n, n, replace=True) per replicate (the legacy generator), shared by every pathology."""
    rng = np.random.RandomState(seed)
    if not n:
        return np.zeros((replicates, 0), dtype=int)
    return np.stack([rng.choice(n, size=n, replace=True) for _ in range(replicates)])


def replicate_ci(values: np.ndarray, indices: np.ndarray) -> tuple[float, float, float]:
    """(mean, low, high) of one metric over images (NaN: the image does not count), with eval.py's CI: the mean of
    each replicate's rows (NaN skipped), sorted (NaN last), the 25th and 975th of 1,000 (index int(0.025 B) - 1 and
    int(0.975 B) - 1)."""
    v = np.asarray(values, dtype=np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = float(np.nanmean(v)) if len(v) else float("nan")
        replicate = np.nanmean(v[indices], axis=1) if len(v) else np.full(len(indices), np.nan)
    ordered = np.sort(replicate)  # NaN last, as pandas' sort_values
    b = len(ordered)
    return mean, float(ordered[int(0.025 * b) - 1]), float(ordered[int(0.975 * b) - 1])


def summarize_scores(records: Sequence[Mapping], image_ids: Sequence[str], thresholds: Mapping[str, float],
                     replicates: int = REPLICATES, seed: int = 0,
                     grid: np.ndarray = THRESHOLDS) -> list[dict]:  # fmt: skip
    """Per pathology (CheXlocalize's order), on the benchmark's population: every image of ``image_ids`` (the
    ground-truth file's, sorted) with a scored map. mIoU (Otsu) over the images where both segmentations are
    non-empty; mIoU at the pathology's ``thresholds`` entry (tuned on the validation set); the hit rate over the
    images whose truth is non-empty; each with eval.py's bootstrap CI (one resample of the images for every
    pathology and metric). ``records``: dicts with image, pathology and :func:`score_map`'s keys."""
    ids = sorted(image_ids)
    row_of = {image: i for i, image in enumerate(ids)}
    indices = bootstrap_indices(len(ids), replicates, seed)
    grid = [round(float(t), 1) for t in grid]
    rows = []
    for pathology in PATHOLOGIES:
        part = [r for r in records if r["pathology"] == pathology]
        if not part:
            continue
        columns = {key: np.full(len(ids), np.nan) for key in ("iou_otsu", "iou_tuned", "hit")}
        threshold = thresholds.get(pathology)
        k = grid.index(round(threshold, 1)) if threshold is not None and round(threshold, 1) in grid else None
        for r in part:
            i = row_of[r["image_id"]]
            columns["iou_otsu"][i] = r["iou_otsu"]
            columns["hit"][i] = r["hit"]
            if k is not None:
                columns["iou_tuned"][i] = r["iou_by_threshold"][k]
        row = {"pathology": pathology, "observation": PATHOLOGIES[pathology], "images": len(part),
               "positive_images": int(sum(r["positive"] for r in part)),
               "miou_images": int(np.isfinite(columns["iou_otsu"]).sum()),
               "threshold_tuned": float("nan") if threshold is None else float(threshold)}  # fmt: skip
        for key, name in (("iou_otsu", "miou_otsu"), ("iou_tuned", "miou_tuned"), ("hit", "hit_rate")):
            mean, low, high = replicate_ci(columns[key], indices)
            row.update({name: mean, f"{name}_low": low, f"{name}_high": high})
        rows.append(row)
    return rows


def truth_mask(entry: Mapping, pathology: str, image: str = "") -> np.ndarray:
    """The full-resolution true segmentation of one image and pathology from a ground-truth file's entry: COCO RLE
    (``gt_segmentations_*.json``) or polygons (``gt_annotations_*.json``, absent pathology: empty)."""
    if "img_size" in entry:
        return rasterize(entry.get(pathology, []), entry["img_size"])
    if pathology not in entry:
        raise LocalizeError(f"{image}: no {pathology!r} in the ground-truth segmentations (every image lists all "
                            f"10 pathologies in CheXlocalize's gt_segmentations_*.json)")  # fmt: skip
    return decode_rle(entry[pathology], image)


def truth_size(entry: Mapping, image: str = "") -> tuple[int, int]:
    """(height, width) of the full-resolution image of a ground-truth entry."""
    if "img_size" in entry:
        h, w = entry["img_size"]
    else:
        sizes = {tuple(v["size"]) for v in entry.values() if isinstance(v, Mapping) and "size" in v}
        if len(sizes) != 1:
            raise LocalizeError(f"{image}: its segmentations disagree on the image size ({sorted(sizes)})")
        h, w = sizes.pop()
    return int(h), int(w)


def evaluate(maps, truth: Mapping, thresholds: Mapping[str, float] | None = None, replicates: int = REPLICATES,
             seed: int = 0) -> tuple[list[dict], dict[str, float], list[dict]]:  # fmt: skip
    """Score saliency maps against a ground-truth file as the benchmark does.

    ``maps``: (image id, pathology, (h, w) map) for any images and pathologies; ``truth``: the parsed
    ``gt_segmentations_*.json`` or ``gt_annotations_*.json``; ``thresholds``: per pathology, tuned elsewhere (the
    validation set's, to score a test set), or None to tune them here. Returns (per-pathology rows, the thresholds
    used, per-map records). A map of an image not in the truth is not scored (as the benchmark skips it; callers name
    such maps); one with a NaN or infinite value is an error; an image of the truth without a map counts as an empty
    prediction (NaN IoU), as in eval.py."""
    given = dict(thresholds or {})
    unknown = sorted(set(given) - set(PATHOLOGIES))
    if unknown:
        raise LocalizeError(f"thresholds for {unknown}: not CheXlocalize pathologies ({', '.join(PATHOLOGIES)})")
    grid = np.array(sorted({*(round(float(t), 1) for t in THRESHOLDS), *(float(t) for t in given.values())}))
    records = []
    for image, pathology, saliency_map in maps:
        if image not in truth:
            continue
        if not np.isfinite(saliency_map).all():  # scored, NaN would count as a miss and an empty segmentation
            raise LocalizeError(f"{image}, {pathology}: the map holds NaN or infinite values; it cannot be scored")
        mask = truth_mask(truth[image], pathology, image)
        if mask.any():
            scored = score_map(saliency_map, mask, grid)
        else:  # no truth: neither IoU (true-positive slice) nor hit counts; nothing to compute
            scored = {"iou_otsu": float("nan"), "hit": float("nan"), "positive": False,
                      "iou_by_threshold": np.full(len(grid), np.nan)}  # fmt: skip
        records.append({"image_id": image, "pathology": pathology, **scored})
    used = given or tune_thresholds(records, grid)
    rows = summarize_scores(records, list(truth), used, replicates, seed, grid)
    return rows, used, records


def thresholds_from_table(frame, source: str = "thresholds") -> dict[str, float]:
    """Per-pathology thresholds from a table: the CAM step's chexlocalize.csv (pathology, threshold_tuned) or
    CheXlocalize's tuning_results.csv (threshold, task). ``source`` names the file in errors. A blank threshold (a
    pathology that was not tuned, having no true region on the validation images) is left out: no tuned mIoU."""
    columns = set(frame.columns)
    if {"pathology", "threshold_tuned"} <= columns:
        pairs = zip(frame["pathology"], frame["threshold_tuned"], strict=True)
    elif {"task", "threshold"} <= columns:
        pairs = zip(frame["task"], frame["threshold"], strict=True)
    else:
        raise LocalizeError(f"{source}: needs columns pathology and threshold_tuned (a chexlocalize.csv) or task and "
                            f"threshold (CheXlocalize's tuning_results.csv); it has {sorted(columns)}")  # fmt: skip
    out = {}
    for pathology, value in pairs:
        observation_of(str(pathology), source)
        if value is None or (isinstance(value, float) and np.isnan(value)) or str(value).strip() == "":
            continue  # not tuned (no true region of it on the validation images): no tuned mIoU for it
        try:
            t = float(value)
        except (TypeError, ValueError):
            t = float("nan")
        if not 0 <= t < 1:
            raise LocalizeError(f"{source}: the threshold of {pathology} is {value!r}; give a number in [0, 1)")
        out[str(pathology)] = t
    return out

"""The pointing game on the workflow's images: the true regions of a boxes table (the phantom's phantom_truth.csv,
or a user's file: a box in pixels of the original image, or a mask PNG), checked and mapped onto the crop the model
saw, and each true-positive image's CAM scored against its region (chexpertnet.localize.cam's metrics).

A boxes table: Path, observation and either x0, y0, x1, y1 or mask (a PNG the size of the image, nonzero inside,
relative to the table's folder), an optional `visible` column (0/1: only visible findings are scored)."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import pandas as pd

from chexpertnet.errors import DataError
from chexpertnet.localize import cam as C
from chexpertnet.localize.model_maps import CachedModel
from chexpertnet.observations import OBSERVATIONS

BOX = ["x0", "y0", "x1", "y1"]
RECORD_COLUMNS = ["Path", "observation", "hit", "tolerant_hit", "reachable", "iou", "chance", "pixel_share"]


def long_table(paths: Sequence[str], labels: pd.DataFrame, predictions: pd.DataFrame) -> pd.DataFrame:
    """One row per image and observation: Path, observation, label (NaN where blank), probability, frontal."""
    labels = labels[list(OBSERVATIONS)].apply(pd.to_numeric, errors="coerce")
    paths = list(paths)
    long = pd.concat([pd.DataFrame({"Path": paths, "observation": o, "label": labels.loc[paths, o].to_numpy(),
                                    "probability": predictions.loc[paths, o].to_numpy()})
                      for o in OBSERVATIONS], ignore_index=True)  # fmt: skip
    long["frontal"] = long["Path"].str.contains("frontal")
    return long


def read_boxes(file: str | os.PathLike, images: Sequence[str]) -> pd.DataFrame:
    """The table's visible regions of ``images``, with every box and mask column present (NaN where not given); an
    error naming the table when it has neither boxes nor masks."""
    boxes = pd.read_csv(file, dtype={"Path": str, "mask": str})
    has_box = set(BOX) <= set(boxes.columns)
    missing = sorted({"Path", "observation"} - set(boxes.columns))
    if missing or not (has_box or "mask" in boxes.columns):
        raise DataError(f"{file}: columns {missing or [*BOX, 'or mask']} are missing; give Path, observation and "
                        f"x0, y0, x1, y1 (a box) or mask (a PNG)")  # fmt: skip
    for column in [*BOX, "mask"]:
        if column not in boxes.columns:
            boxes[column] = np.nan
    if "visible" in boxes.columns:
        boxes = boxes[boxes["visible"] == 1]
    boxes = boxes[boxes[BOX].notna().all(axis=1) | boxes["mask"].notna()]
    return boxes[boxes["Path"].isin(set(images))]


class ImageSizes:
    """(width, height) of the original images under ``data_root``, each read once."""

    def __init__(self, data_root: str | os.PathLike):
        self.data_root = data_root
        self.sizes: dict[str, tuple[int, int]] = {}

    def __call__(self, path: str) -> tuple[int, int]:
        if path not in self.sizes:
            from chexpertnet.data.images import image_size

            self.sizes[path] = image_size(os.path.join(self.data_root, path))
        return self.sizes[path]


def figure_box(boxes: pd.DataFrame | None, path: str, observation: str, size_of: ImageSizes, resized: int,
               crop: int) -> tuple[float, float, float, float] | None:  # fmt: skip
    """The true box of an image's finding in the crop's pixels, for Figure 1 (None for none, or for a mask)."""
    if boxes is None:
        return None
    match = boxes[(boxes["Path"] == path) & (boxes["observation"] == observation)]
    if match.empty or pd.isna(match.iloc[0]["x0"]):
        return None
    b = match.iloc[0]
    return C.map_box((b["x0"], b["y0"], b["x1"], b["y1"]), size_of(path), resized, crop)


def read_mask(boxes_file: str | os.PathLike, mask: str, path: str, observation: str,
              size: tuple[int, int]) -> np.ndarray:  # fmt: skip
    """A region's mask PNG (relative to the boxes table's folder) as a boolean image the size of the original."""
    from PIL import Image

    mask_file = os.path.join(os.path.dirname(os.path.abspath(boxes_file)), mask)
    try:
        with Image.open(mask_file) as img:
            region = np.asarray(img.convert("L")) > 0
    except OSError as e:
        raise DataError(f"{boxes_file}: the mask of {path} ({observation}) cannot be read: {e}; give a PNG the size "
                        f"of the image") from None  # fmt: skip
    if region.shape[::-1] != size:
        raise DataError(f"{mask_file}: {region.shape[1]}x{region.shape[0]} px, but {path} is {size[0]}x{size[1]}; "
                        f"give a mask the size of the image")  # fmt: skip
    return region


def true_positive_records(long: pd.DataFrame, boxes: pd.DataFrame, boxes_file: str | os.PathLike,
                          cached: CachedModel, size_of: ImageSizes, tolerance: float,
                          threshold: float) -> pd.DataFrame:  # fmt: skip
    """The pointing game on every true-positive image (label 1, P >= 0.5) whose finding has a true region: one row
    per image and observation (RECORD_COLUMNS), a region that falls outside the crop left out."""
    records = []
    resized, crop = cached.array.shape[1], cached.crop
    tp = long[(long["label"] == 1) & (long["probability"] >= 0.5)]
    tp = tp.merge(boxes[["Path", "observation", *BOX, "mask"]], on=["Path", "observation"])
    tp = tp.sort_values(["observation", "Path"], kind="mergesort")
    maps = {p: m for part, _, ms in cached.cams(sorted(set(tp["Path"]))) for p, m in zip(part, ms, strict=True)}
    for _, r in tp.iterrows():
        cam = maps[r["Path"]][OBSERVATIONS.index(r["observation"])].numpy()
        if isinstance(r["mask"], str) and r["mask"]:
            region = C.map_mask(read_mask(boxes_file, r["mask"], r["Path"], r["observation"], size_of(r["Path"])),
                                resized, crop)  # fmt: skip
            if not region.any():
                continue
            result = C.localize_mask(cam, region, tolerance, threshold)
        else:
            box = C.map_box((r["x0"], r["y0"], r["x1"], r["y1"]), size_of(r["Path"]), resized, crop)
            if box is None:
                continue
            result = C.localize(cam, box, (crop, crop), tolerance, threshold)
        records.append({"Path": r["Path"], "observation": r["observation"], **result.__dict__})
    return pd.DataFrame(records, columns=RECORD_COLUMNS)

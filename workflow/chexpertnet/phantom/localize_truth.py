"""The phantom's ground truth as CheXlocalize writes it: ``gt_segmentations_val.json``, so the default run scores its
CAMs through the same reader and metrics as the real CheXlocalize files (chexpertnet.localize.chexlocalize; the
names and ids from chexlocalize_ids, so the phantom does not go stale when a metric changes).

Every validation image gets all 10 CheXlocalize pathologies (empty masks included), each a COCO compressed RLE of a
Fortran-ordered uint8 mask (pycocotools ``mask.encode``, as CheXlocalize encodes), in a "full resolution" that is
``FULL_RESOLUTION`` times the phantom's image on both axes, as CheXlocalize's coordinates are ~7.25 times
CheXpert-v1.0-small's: the mapping onto the images the workflow reads runs in every default run. A finding's mask is
its true box where the finding is visible on that image (phantom_truth.csv's x0, y0, x1, y1), else empty.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np

from chexpertnet.localize.chexlocalize_ids import PATHOLOGIES, image_id

FILE = "gt_segmentations_val.json"
TEST_FILE = "gt_segmentations_test.json"  # with a test split
FULL_RESOLUTION = 2


def box_mask(size_hw: Sequence[int], box: Sequence[float] | None, factor: int) -> np.ndarray:
    """A (h*factor, w*factor) uint8 mask, 1 on the box's pixels at that scale (none when ``box`` is None)."""
    h, w = (int(v) * factor for v in size_hw)
    mask = np.zeros((h, w), dtype=np.uint8)
    if box is not None:
        x0, y0, x1, y1 = (float(v) * factor for v in box)
        mask[max(0, math.floor(y0)) : min(h, math.ceil(y1)), max(0, math.floor(x0)) : min(w, math.ceil(x1))] = 1
    return mask


def segmentations(truth_rows: Iterable[Sequence[str]], sizes: dict[str, tuple[int, int]], split: str = "valid",
                  factor: int = FULL_RESOLUTION) -> dict:  # fmt: skip
    """CheXlocalize's ``{image_id: {pathology: {"size": [H, W], "counts": RLE}}}`` for the images of ``split``, from
    phantom_truth rows (Path, observation, present, severity, visible, x0, y0, x1, y1) and image sizes (h, w)."""
    from pycocotools import mask as mask_utils

    boxes = {}
    for path, observation, _present, _severity, visible, *cells in truth_rows:
        if visible == "1" and all(cells):
            boxes[path, observation] = tuple(float(c) for c in cells)
    def encode(size_hw: tuple[int, int], box: tuple[float, ...] | None) -> dict:
        rle = mask_utils.encode(np.asfortranarray(box_mask(size_hw, box, factor)))
        return {"size": [size_hw[0] * factor, size_hw[1] * factor], "counts": rle["counts"].decode("ascii")}

    empty: dict[tuple[int, int], dict] = {}  # most masks are empty: encoded once per image size
    out = {}
    for path in sorted(p for p in sizes if p.split("/")[1] == split):
        size = tuple(int(v) for v in sizes[path])
        entry = {}
        for pathology, observation in PATHOLOGIES.items():
            box = boxes.get((path, observation))
            if box is None:
                if size not in empty:
                    empty[size] = encode(size, None)
                entry[pathology] = dict(empty[size])
            else:
                entry[pathology] = encode(size, box)
        out[image_id(path)] = entry
    return out

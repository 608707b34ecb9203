"""CheXlocalize's ground truth against the workflow's images: reading the truth file, finding its images among a
manifest's (by CheXlocalize's image ids), and each of them its saliency map per pathology as the benchmark scores
it (the map of the whole image, not of the crop)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping

import numpy as np

from chexpertnet.localize.chexlocalize_ids import PATHOLOGIES, LocalizeError, image_path
from chexpertnet.localize.model_maps import CachedModel


def read_truth(file: str | os.PathLike) -> dict:
    """CheXlocalize's gt_segmentations_*.json or gt_annotations_*.json, or an error naming the file."""
    try:
        with open(file) as f:
            truth = json.load(f)
    except (OSError, json.JSONDecodeError) as exc:
        raise LocalizeError(f"{file}: cannot be read as JSON ({exc}); give CheXlocalize's gt_segmentations_*.json "
                            f"or gt_annotations_*.json") from None  # fmt: skip
    if not isinstance(truth, dict):
        raise LocalizeError(f"{file}: not CheXlocalize's ground truth (a JSON object of image ids)")
    return truth


def images_of_truth(truth: Mapping, split: str, rows: Mapping[str, int], source: str, manifest: str) -> dict[str, str]:
    """{image id: path} of the truth's images that are among ``rows`` (a manifest's images), sorted by id; an
    error when none is (the file belongs to another split or dataset)."""
    folder = next(iter(rows)).split("/")[0] if rows else "CheXpert-v1.0-small"
    path_of = {i: image_path(i, split, folder) for i in truth}
    mapped = {i: path_of[i] for i in sorted(path_of) if path_of[i] in rows}
    if not mapped:
        raise LocalizeError(f"{source}: none of its {len(truth)} images is in {manifest} (as {split} images under "
                            f"{folder}/); check the split and that the file belongs to this dataset")  # fmt: skip
    return mapped


def saliency_maps(cached: CachedModel, mapped: Mapping[str, str], kind: str = "cam"
                  ) -> Iterator[tuple[str, str, np.ndarray, np.ndarray]]:  # fmt: skip
    """(image id, pathology, saliency map, the whole image) for each image of ``mapped`` and CheXlocalize pathology:
    the map of the whole cached image (``kind``: cam or gradcam, chexlocalize.saliency)."""
    from chexpertnet.localize.chexlocalize import saliency
    from chexpertnet.observations import OBSERVATIONS

    columns = {pathology: OBSERVATIONS.index(o) for pathology, o in PATHOLOGIES.items()}
    ids = list(mapped)
    for start in range(0, len(ids), 16):
        chunk = ids[start : start + 16]
        (_, images, cams), = cached.cams([mapped[i] for i in chunk], crop=False, chunk=len(chunk))
        for image_id, image, cam in zip(chunk, images.numpy(), cams.numpy(), strict=True):
            for pathology, j in columns.items():
                yield image_id, pathology, saliency(cam[j], kind), image


def score_model(cached: CachedModel, truth_file: str | os.PathLike, split: str, manifest: str,
                thresholds_file: str | None, kind: str, resamples: int) -> tuple[list[dict], bool]:  # fmt: skip
    """CheXlocalize's metrics per pathology of the model's maps of the truth's images (chexlocalize.evaluate, the
    bootstrap seeded 0 as the benchmark's), with the thresholds of ``thresholds_file`` or tuned on these images;
    and whether they were tuned here."""
    import pandas as pd

    from chexpertnet.localize import chexlocalize as L

    truth = read_truth(truth_file)
    mapped = images_of_truth(truth, split, cached.rows, str(truth_file), manifest)
    given = L.thresholds_from_table(pd.read_csv(thresholds_file), thresholds_file) if thresholds_file else None
    maps = [(image_id, pathology, saliency) for image_id, pathology, saliency, _ in saliency_maps(cached, mapped, kind)]
    rows, _, _ = L.evaluate(maps, truth, given, resamples, 0)
    return rows, given is None

"""Saliency maps in CheXlocalize's file format: one pickle per image and pathology, ``<image id>_<pathology>_map.pkl``,
a dict of ``map`` (torch tensor 1 x 1 x h x w), ``prob`` (the model's P(positive)), ``task`` (the pathology),
``gt`` (the image's 0/1 label), ``cxr_img`` (the image the model read, a uint8 tensor 1 x H x W) and ``cxr_dims``
((width, height) of the full-resolution image, to which the map is upsampled). CheXlocalize's own scripts read these
files unchanged (they unpickle them, as its ``CPU_Unpickler`` does).

Reading is safe: a restricted unpickler admits only what such a file holds (torch tensors, NumPy arrays, plain
types) and refuses any other object with an error naming the file; so is a map with a value that is not a number
(NaN or infinite), which would be scored as a miss or an empty segmentation.
"""

from __future__ import annotations

import io
import os
import pickle
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

import numpy as np

from chexpertnet.localize.chexlocalize_ids import PATHOLOGIES, LocalizeError

SUFFIX = "_map.pkl"
FIELDS = ("map", "prob", "task", "gt", "cxr_img", "cxr_dims")


def map_filename(image_id: str, pathology: str) -> str:
    return f"{image_id}_{pathology}{SUFFIX}"


def parse_filename(name: str) -> tuple[str, str]:
    """``<image id>_<pathology>_map.pkl`` -> (image id, pathology), split as CheXlocalize's scripts split it."""
    if not name.endswith(SUFFIX):
        raise LocalizeError(f"{name}: not a CheXlocalize map file (<image id>_<pathology>_map.pkl)")
    parts = name[: -len(".pkl")].split("_")
    pathology, image_id = parts[-2], "_".join(parts[:-2])
    if pathology not in PATHOLOGIES:
        raise LocalizeError(f"{name}: unknown pathology {pathology!r}; CheXlocalize's are {', '.join(PATHOLOGIES)}")
    return image_id, pathology


def write_map(folder: str | os.PathLike, image_id: str, pathology: str, saliency: np.ndarray, prob: float,
              gt: int, image: np.ndarray, full_size_wh: tuple[int, int]) -> Path:  # fmt: skip
    """One map as CheXlocalize's pickle (tensors and plain types only), written atomically."""
    import torch

    from chexpertnet.fileio import write_bytes

    if pathology not in PATHOLOGIES:
        raise LocalizeError(f"{pathology!r} is not a CheXlocalize pathology ({', '.join(PATHOLOGIES)})")
    item = {
        "map": torch.as_tensor(np.asarray(saliency, dtype=np.float32)).reshape(1, 1, *np.shape(saliency)[-2:]),
        "prob": float(prob),
        "task": pathology,
        "gt": int(gt),
        "cxr_img": torch.as_tensor(np.asarray(image, dtype=np.uint8)).reshape(1, *np.shape(image)[-2:]),
        "cxr_dims": (int(full_size_wh[0]), int(full_size_wh[1])),
    }
    path = Path(folder) / map_filename(image_id, pathology)
    write_bytes(path, pickle.dumps(item, protocol=4))
    return path


def _load_storage(data: bytes):
    import torch

    return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)


class _SafeUnpickler(pickle.Unpickler):
    """Admits the globals a CheXlocalize map pickle needs and nothing else."""

    def find_class(self, module: str, name: str):
        import torch._utils

        if (module, name) == ("torch.storage", "_load_from_bytes"):
            return _load_storage  # weights_only: tensors and storages, no code
        allowed = {
            ("torch._utils", "_rebuild_tensor_v2"): torch._utils._rebuild_tensor_v2,
            ("torch._utils", "_rebuild_tensor"): torch._utils._rebuild_tensor,
            ("collections", "OrderedDict"): __import__("collections").OrderedDict,
            ("numpy", "ndarray"): np.ndarray,
            ("numpy", "dtype"): np.dtype,
        }
        if (module, name) in allowed:
            return allowed[(module, name)]
        if module in ("numpy.core.multiarray", "numpy._core.multiarray") and name in ("_reconstruct", "scalar"):
            return getattr(np._core.multiarray, name)
        if module in ("numpy.dtypes",) and name.endswith("DType"):
            return getattr(np.dtypes, name)
        raise pickle.UnpicklingError(
            f"refuses to load {module}.{name}: a CheXlocalize map holds only tensors, arrays and plain types "
            f"({', '.join(FIELDS)})"
        )


def read_map(path: str | os.PathLike) -> dict:
    """A CheXlocalize map pickle, loaded safely and checked: its ``map`` as an (h, w) float32 array, ``cxr_dims``
    as (width, height). Errors name the file and what is wrong."""
    import torch

    path = Path(path)
    try:
        with path.open("rb") as f:
            item = _SafeUnpickler(f).load()
    except (pickle.UnpicklingError, EOFError, AttributeError, ValueError, RuntimeError) as exc:
        raise LocalizeError(f"{path}: cannot be read as a CheXlocalize map pickle ({exc})") from None
    if not isinstance(item, Mapping) or not {"map", "cxr_dims"} <= set(item):
        raise LocalizeError(f"{path}: a CheXlocalize map pickle is a dict with at least 'map' and 'cxr_dims'")
    saliency = item["map"]
    saliency = saliency.detach().float().numpy() if isinstance(saliency, torch.Tensor) else np.asarray(saliency)
    if saliency.ndim < 2 or any(d != 1 for d in saliency.shape[:-2]):
        raise LocalizeError(f"{path}: 'map' has shape {saliency.shape}; expected 1 x 1 x h x w")
    problem = nonfinite(saliency)
    if problem:
        raise LocalizeError(f"{path}: {problem}; it cannot be scored (write the model's map, with numbers only)")
    dims = item["cxr_dims"]
    try:
        width, height = (int(v) for v in dims)
    except (TypeError, ValueError):
        raise LocalizeError(f"{path}: 'cxr_dims' is {dims!r}; expected (width, height)") from None
    return {**item, "map": saliency.reshape(saliency.shape[-2:]).astype(np.float32), "cxr_dims": (width, height)}


def nonfinite(saliency: np.ndarray) -> str:
    """What is wrong with a map that holds NaN or infinite values ('' for one that does not)."""
    finite = np.isfinite(saliency)
    if finite.all():
        return ""
    if not finite.any():
        return f"its map has no finite value (all {finite.size} values are NaN or infinite)"
    return f"{finite.size - int(finite.sum())} of its map's {finite.size} values are NaN or infinite"


def match_truth(found: Iterable[tuple[str, str, Path]], truth_ids: Iterable[str]) -> tuple[list, list[dict]]:
    """The maps of :func:`iter_maps` split into those of an image of the ground truth (scored) and the others, each
    ``{"file", "reason"}`` (not scored). Two files of one image and pathology are an error naming both."""
    ids = set(truth_ids)
    seen: dict[tuple[str, str], Path] = {}
    scored, others = [], []
    for image_id, pathology, path in found:
        if (image_id, pathology) in seen:
            raise LocalizeError(f"{path} and {seen[image_id, pathology]}: two maps of {image_id}, {pathology}; keep "
                                f"one (the folder is searched recursively)")  # fmt: skip
        seen[image_id, pathology] = path
        if image_id in ids:
            scored.append((image_id, pathology, path))
        else:
            others.append({"file": str(path), "reason": f"its image {image_id} is not in the ground truth"})
    return scored, others


def iter_maps(folder: str | os.PathLike) -> Iterator[tuple[str, str, Path]]:
    """(image id, pathology, path) of every ``*_map.pkl`` below ``folder`` (recursively, sorted, as the benchmark
    globs them)."""
    for path in sorted(Path(folder).rglob(f"*{SUFFIX}")):
        image_id, pathology = parse_filename(path.name)
        yield image_id, pathology, path

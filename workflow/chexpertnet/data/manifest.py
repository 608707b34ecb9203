"""Manifests: the images to train or evaluate on for one view variant, with labels after the uncertainty policy.

Pure functions over data frames; the CLI does the reading and writing.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from chexpertnet.data.chexpert import parse_label, parse_path
from chexpertnet.observations import CLASS_NAMES, NEGATIVE, OBSERVATIONS, POSITIVE, UNCERTAIN

VIEWS = ("both", "frontal")
UNCERTAINTY_POLICIES = ("multiclass", "ones", "zeros", "ignore")
BLANK_POLICIES = ("negative", "ignore")
IGNORED = -1  # internal marker before splitting into class + mask

MASK_PREFIX = "mask/"
MANIFEST_COLUMNS = (
    "Path", "split", "patient", "study", "view", *OBSERVATIONS, *(MASK_PREFIX + o for o in OBSERVATIONS),
    "substitutes_for",
)  # fmt: skip


def map_label(value: float | None, uncertainty: str, blank: str) -> int:
    """One raw CheXpert label -> class index (0 negative, 1 positive, 2 uncertain) or IGNORED."""
    if value is None:
        return NEGATIVE if blank == "negative" else IGNORED
    if value == 1.0:
        return POSITIVE
    if value == 0.0:
        return NEGATIVE
    if value == -1.0:
        return {"multiclass": UNCERTAIN, "ones": POSITIVE, "zeros": NEGATIVE, "ignore": IGNORED}[uncertainty]
    raise ValueError(f"label {value!r} is not 1.0, 0.0, -1.0 or blank")


def label_classes(raw: pd.DataFrame, uncertainty: str, blank: str) -> tuple[np.ndarray, np.ndarray]:
    """Raw label strings (N x 14, '' for blank) -> (classes int8 N x 14, mask uint8 N x 14; 0 = ignored).

    Masked entries get class 0 as a placeholder; they never reach the loss or the class counts.
    """
    if uncertainty not in UNCERTAINTY_POLICIES:
        raise ValueError(f"uncertainty policy {uncertainty!r} is not one of {UNCERTAINTY_POLICIES}")
    if blank not in BLANK_POLICIES:
        raise ValueError(f"blank policy {blank!r} is not one of {BLANK_POLICIES}")
    table = {text: map_label(parse_label(text), uncertainty, blank) for text in pd.unique(raw.to_numpy().ravel())}
    mapped = raw.apply(lambda column: column.map(table)).to_numpy(dtype=np.int8)
    mask = (mapped != IGNORED).astype(np.uint8)
    classes = np.where(mask == 1, mapped, NEGATIVE).astype(np.int8)
    return classes, mask


def frontal_substitution(frame: pd.DataFrame, seed: int) -> tuple[pd.DataFrame, dict]:
    """The paper's frontal-only rule for training images.

    Every lateral image is dropped; for a patient with k lateral images, k of that patient's frontal images are
    drawn (seeded, with replacement) and added, so the image count stays the same. ``substitutes_for`` records the
    lateral that each added frontal replaces. Patients with only lateral images cannot be substituted and are
    dropped. ``frame`` needs columns Path, patient and view; returns (rows, report).

    Output order: patients sorted; per patient its frontal images in input order, then one drawn frontal per lateral
    in the laterals' input order. The draws are one ``Generator.integers(0, n_frontal)`` per lateral, patient by
    patient in that order (all in one vectorised call, which numpy makes identical to one call per patient of
    ``integers(0, n_frontal, size=k)``).
    """
    rng = np.random.default_rng(seed)
    codes, patients = pd.factorize(frame["patient"], sort=True)  # patient index in sorted order, per row
    view = frame["view"].to_numpy()
    order = np.argsort(codes, kind="stable")  # rows grouped by patient (sorted), input order within a patient
    frontal = order[view[order] == "frontal"]
    lateral = order[view[order] == "lateral"]
    n_frontal = np.bincount(codes[frontal], minlength=len(patients))
    first_frontal = np.cumsum(n_frontal) - n_frontal  # where each patient's frontal rows start in ``frontal``
    dropped = n_frontal == 0
    lateral = lateral[~dropped[codes[lateral]]]  # laterals of patients that have a frontal image
    owner = codes[lateral]
    picks = rng.integers(0, n_frontal[owner]) if len(lateral) else np.zeros(0, dtype=np.int64)
    substitutes = frontal[first_frontal[owner] + picks]
    rows = np.concatenate([frontal, substitutes])
    added = np.concatenate([np.zeros(len(frontal), dtype=bool), np.ones(len(substitutes), dtype=bool)])
    position = np.lexsort((added, codes[rows]))  # by patient, frontals first; stable within each group
    replaced = np.concatenate([np.full(len(frontal), "", dtype=object), frame["Path"].to_numpy()[lateral]])
    out = frame.iloc[rows[position]].reset_index(drop=True).assign(substitutes_for=replaced[position])
    dropped_patients = patients[dropped].tolist()
    report = {
        "patients_substituted": len(np.unique(owner)),
        "images_substituted": len(substitutes),
        "patients_dropped": dropped_patients,
        "images_dropped": int(dropped[codes].sum()),
    }
    return out, report


def build_manifest(
    table: pd.DataFrame, views: str, uncertainty: str, blank: str, seed: int
) -> tuple[pd.DataFrame, dict]:
    """A validated CheXpert CSV (as strings) -> (manifest, summary). The split is read from the paths."""
    if views not in VIEWS:
        raise ValueError(f"views {views!r} is not one of {VIEWS}")
    parts = [parse_path(p) for p in table["Path"]]
    splits = sorted({p.split for p in parts})
    if len(splits) != 1:
        raise ValueError(f"a manifest is built from one split, the paths name {splits}")
    split = splits[0]
    frame = pd.DataFrame(
        {
            "Path": table["Path"].to_numpy(),
            "split": split,
            "patient": [p.patient for p in parts],
            "study": [p.study for p in parts],
            "view": [p.view for p in parts],
        }
    )
    classes, mask = label_classes(table[list(OBSERVATIONS)], uncertainty, blank)
    frame[list(OBSERVATIONS)] = classes
    frame[[MASK_PREFIX + o for o in OBSERVATIONS]] = mask
    report = {"patients_substituted": 0, "images_substituted": 0, "patients_dropped": [], "images_dropped": 0}
    if views == "frontal" and split == "train":
        frame, report = frontal_substitution(frame, seed)
    elif views == "frontal":
        # Evaluation: frontal images only (patients without one are reported, they cannot be scored).
        frontal = frame[frame["view"] == "frontal"]
        dropped = sorted(set(frame["patient"]) - set(frontal["patient"]))
        report["patients_dropped"] = dropped
        report["images_dropped"] = int(frame["patient"].isin(dropped).sum())
        frame = frontal.assign(substitutes_for="").reset_index(drop=True)
    else:
        frame = frame.assign(substitutes_for="")
    frame = frame[list(MANIFEST_COLUMNS)]
    summary = {
        "split": split,
        "views": views,
        "uncertainty": uncertainty,
        "blank": blank,
        "seed": seed,
        "images_before": len(table),
        "images_after": len(frame),
        "lateral_before": sum(p.view == "lateral" for p in parts),
        "lateral_after": int((frame["view"] == "lateral").sum()),
        "patients_before": len({p.patient for p in parts}),
        "patients_after": int(frame["patient"].nunique()),
        **report,
    }
    return frame, summary


def class_counts(classes: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Per observation, the number of unmasked entries of each class: int64 array (14, 3)."""
    counts = np.zeros((classes.shape[1], len(CLASS_NAMES)), dtype=np.int64)
    for c in range(len(CLASS_NAMES)):
        counts[:, c] = ((classes == c) & (mask == 1)).sum(axis=0)
    return counts


def class_weights(counts: np.ndarray) -> np.ndarray:
    """The paper's weights w = (|N| + |P| + |U|) / count per class; a class that never occurs gets weight 0."""
    counts = np.asarray(counts, dtype=np.float64)
    total = counts.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        weights = np.where(counts > 0, total / counts, 0.0)
    return weights


def weights_table(manifest: pd.DataFrame) -> pd.DataFrame:
    """Class counts and weights per observation, one row per observation."""
    classes = manifest[list(OBSERVATIONS)].to_numpy()
    mask = manifest[[MASK_PREFIX + o for o in OBSERVATIONS]].to_numpy()
    counts = class_counts(classes, mask)
    weights = class_weights(counts)
    table = pd.DataFrame({"observation": OBSERVATIONS})
    for c, name in enumerate(CLASS_NAMES):
        table[f"n_{name}"] = counts[:, c]
    table["n_ignored"] = (mask == 0).sum(axis=0)
    for c, name in enumerate(CLASS_NAMES):
        table[f"w_{name}"] = weights[:, c]
    return table


def manifest_arrays(manifest: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(classes int64 N x 14, mask float32 N x 14) from a manifest frame."""
    classes = manifest[list(OBSERVATIONS)].to_numpy(dtype=np.int64)
    mask = manifest[[MASK_PREFIX + o for o in OBSERVATIONS]].to_numpy(dtype=np.float32)
    return classes, mask

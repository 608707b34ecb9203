"""Planning: who the patients are, their studies and views, and each study's findings and labels (no pixels).

:func:`plan_patient` is pure and cheap: everything about one patient comes from ``(seed, split, patient number)``,
each study from its own random stream, so a patient is the same whatever else is generated.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from chexpertnet.phantom.anatomy import Anatomy, sample_anatomy
from chexpertnet.phantom.findings import (
    FINDINGS,
    TRAIN_PREVALENCE,
    VALID_PREVALENCE,
    Finding,
    sample_findings,
    study_latent,
)
from chexpertnet.phantom.labels import label_train, label_truth

SPLIT_IDS = {"train": 0, "valid": 1, "test": 2}
LATERAL_ONLY_EVERY = 200  # train patients 100, 300, 500, ... have only lateral images (0.5 %)


@dataclass(frozen=True)
class PhantomConfig:
    train_patients: int = 1000
    valid_patients: int = 200
    seed: int = 0
    test_patients: int = 0  # a test split like valid (gold labels, one study each), labelled per study
    height: int = 320  # CheXpert-v1.0-small's short side: a frontal's height, a lateral's width (see image_size)
    valid_fracture: bool = False  # by default no valid patient has Fracture (as the real set)
    jpeg_quality: int = 90


@dataclass(frozen=True)
class Study:
    """One study: its findings (ground truth), the views taken and the 14 label cells of its CSV rows."""

    patient: int  # 1-based patient number (the NNNNN in patientNNNNN)
    study: int  # 1-based
    age: int
    views: tuple[str, ...]  # "frontal" / "lateral", in view order
    projection: str  # "AP" or "PA" for the frontal views
    findings: Mapping[str, Finding]
    labels: tuple[str, ...]  # the 14 CSV label cells


@dataclass(frozen=True)
class Patient:
    number: int  # the NNNNN in patientNNNNN
    sex: str
    anatomy: Anatomy
    studies: tuple[Study, ...]


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _views(rng: np.random.Generator, projection: str, split: str, lateral_only: bool) -> tuple[str, ...]:
    if lateral_only:
        return ("lateral",) if rng.random() < 0.8 else ("lateral", "lateral")
    if split != "train":  # valid and test
        return ("frontal", "lateral") if rng.random() < 0.9 else ("frontal",)
    r = rng.random()
    if rng.random() < (0.5 if projection == "AP" else 0.9):
        return ("frontal", "lateral") if r < 0.95 else ("frontal", "frontal", "lateral")
    return ("frontal",) if r < 0.92 else ("frontal", "frontal")


def is_lateral_only(split: str, index: int) -> bool:
    """Train patients 100, 300, 500, ... (0.5 %) have only lateral images."""
    half = LATERAL_ONLY_EVERY // 2
    return split == "train" and index % LATERAL_ONLY_EVERY == half


def patient_number(config: PhantomConfig, split: str, index: int) -> int:
    """Patient numbers: train 1..N, valid N+1..N+M, test N+M+1.. (as CheXpert's: test patients after valid's)."""
    offset = {"train": 0, "valid": config.train_patients, "test": config.train_patients + config.valid_patients}
    return offset[split] + index


def prevalence_for(config: PhantomConfig, split: str) -> dict[str, float]:
    if split == "train":
        return dict(TRAIN_PREVALENCE)
    return VALID_PREVALENCE | ({} if config.valid_fracture else {"Fracture": 0.0})


def plan_patient(config: PhantomConfig, split: str, index: int) -> Patient:
    """Everything about one patient (1-based ``index`` within the split) except the pixels; pure and cheap."""
    split_id = SPLIT_IDS[split]
    number = patient_number(config, split, index)
    rng = np.random.default_rng([config.seed, split_id, number, 0])
    sex = "Male" if rng.random() < 0.59 else "Female"
    age = int(np.clip(round(rng.normal(61, 17)), 18, 90))
    anatomy = sample_anatomy(rng, sex)
    patient_part = rng.standard_normal(len(FINDINGS) + 3)
    n_studies = 1 if split != "train" else int(rng.choice([1, 2, 3, 4], p=[0.55, 0.28, 0.12, 0.05]))
    prevalence = prevalence_for(config, split)
    lateral_only = is_lateral_only(split, index)
    studies = []
    for s in range(1, n_studies + 1):
        srng = np.random.default_rng([config.seed, split_id, number, s])
        latent = study_latent(srng, patient_part)
        findings = sample_findings(srng, latent, prevalence)
        devices = latent[FINDINGS.index("Support Devices")]  # low latent: devices, an inpatient, a portable AP film
        projection = "AP" if srng.random() < _sigmoid(1.0 - 1.2 * devices) else "PA"
        views = _views(srng, projection, split, lateral_only)
        labels = label_train(srng, findings, prevalence) if split == "train" else label_truth(findings)
        age += int(srng.integers(0, 2)) if s > 1 else 0
        studies.append(Study(number, s, age, views, projection, findings, labels))
    return Patient(number, sex, anatomy, tuple(studies))

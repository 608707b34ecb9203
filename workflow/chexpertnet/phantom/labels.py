"""Labels: the CheXpert labeller's noisy view of a study (train) and the ground truth (valid)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from chexpertnet.observations import OBSERVATIONS, PATHOLOGIES
from chexpertnet.phantom.findings import Finding

#: How often a finding is reported as uncertain, relative to the others (atelectasis, pneumonia: often hedged).
HEDGING: dict[str, float] = {
    "Enlarged Cardiomediastinum": 1.2,
    "Cardiomegaly": 1.0,
    "Lung Opacity": 0.8,
    "Lung Lesion": 0.6,
    "Edema": 1.2,
    "Consolidation": 1.5,
    "Pneumonia": 1.6,
    "Atelectasis": 1.6,
    "Pneumothorax": 0.5,
    "Pleural Effusion": 1.0,
    "Pleural Other": 1.0,
    "Fracture": 0.6,
}


def _label_cell(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


def label_train(
    rng: np.random.Generator, findings: Mapping[str, Finding], prevalence: Mapping[str, float]
) -> tuple[str, ...]:
    """The labeller's view of a study: hedged when faint, often unmentioned, rarely wrong."""
    labels: dict[str, float | None] = {}
    for name in PATHOLOGIES:
        r = rng.random()
        hedge, prev = HEDGING[name], prevalence[name]
        if name in findings:
            sev = findings[name].severity
            p_unc = min(0.6, hedge * (0.05 + 0.45 * (1 - sev) ** 2))
            p_blank = 0.05
            labels[name] = -1.0 if r < p_unc else None if r < p_unc + p_blank else 1.0
        else:
            p_pos = 0.05 * prev
            p_unc = 0.01 + 0.08 * prev * hedge
            p_neg = 0.08 + 0.2 * prev
            labels[name] = (
                1.0 if r < p_pos else -1.0 if r < p_pos + p_unc else 0.0 if r < p_pos + p_unc + p_neg else None
            )
    r = rng.random()
    if "Support Devices" in findings:
        labels["Support Devices"] = 1.0 if r < 0.9 else -1.0 if r < 0.93 else None
    else:
        labels["Support Devices"] = 1.0 if r < 0.01 else 0.0 if r < 0.09 else None
    mentioned = any(labels[name] in (1.0, -1.0) for name in PATHOLOGIES)
    labels["No Finding"] = (0.0 if rng.random() < 0.1 else None) if mentioned else 1.0
    return tuple(_label_cell(labels[o]) for o in OBSERVATIONS)


def label_truth(findings: Mapping[str, Finding]) -> tuple[str, ...]:
    """Gold-standard labels (valid): 1.0 present, 0.0 absent; No Finding exactly when no pathology is present."""
    no_finding = not any(name in findings for name in PATHOLOGIES)
    return tuple(_label_cell(float(no_finding if o == "No Finding" else o in findings)) for o in OBSERVATIONS)

"""Simulated radiologists for the phantom's test split, in the format of CheXpert's benchmark radiologists
(``bc4.csv``, ``bc6.csv``, ``bc8.csv``: ``Study`` and one 0/1 column per observation, in another order than the
labels'): pure functions (no file I/O).

Each reader has a declared sensitivity and specificity per observation (:data:`DECLARED`): on every observation it
reads exactly round(sensitivity x positives) of the positive studies as positive and round(specificity x negatives)
of the negative ones as negative, the studies chosen at random (seeded). Its sensitivity and specificity against the
labels are then the declared ones to within half a study, which the tests check through `chexpertnet readers`.
"""

from __future__ import annotations

import numpy as np

from chexpertnet.observations import OBSERVATIONS

#: Observations that the phantom draws small or faint (as radiologists miss them more often): a lower sensitivity.
SUBTLE = ("Lung Lesion", "Pneumothorax", "Fracture", "Pleural Other")
#: (sensitivity, specificity) of each reader on the other observations; on the subtle ones, sensitivity − 0.15.
READERS: dict[str, tuple[float, float]] = {
    "phantom_reader1": (0.80, 0.90),
    "phantom_reader2": (0.70, 0.95),
    "phantom_reader3": (0.90, 0.80),
}
SUBTLE_PENALTY = 0.15


def declared() -> dict[str, dict[str, dict[str, float]]]:
    """{reader: {observation: {"sensitivity": s, "specificity": p}}}."""
    return {
        name: {o: {"sensitivity": round(sens - (SUBTLE_PENALTY if o in SUBTLE else 0.0), 4), "specificity": spec}
               for o in OBSERVATIONS}
        for name, (sens, spec) in READERS.items()
    }  # fmt: skip


def read(labels: np.ndarray, sensitivity: float, specificity: float, rng: np.random.Generator) -> np.ndarray:
    """(n,) 0/1 reads of one observation's (n,) 0/1 labels with exactly the given rates (rounded to whole studies)."""
    labels = np.asarray(labels).astype(bool)
    reads = np.zeros(len(labels), dtype=int)
    positives, negatives = np.flatnonzero(labels), np.flatnonzero(~labels)
    hits = rng.choice(positives, size=round(sensitivity * len(positives)), replace=False)
    false_alarms = rng.choice(negatives, size=len(negatives) - round(specificity * len(negatives)), replace=False)
    reads[hits] = 1
    reads[false_alarms] = 1
    return reads


def simulate(labels: np.ndarray, observations: list[str], seed: int) -> dict[str, np.ndarray]:
    """{reader: (studies, observations) 0/1 reads} of (studies, observations) labels, seeded per reader."""
    rates = declared()
    out = {}
    for r, name in enumerate(READERS):
        rng = np.random.default_rng([seed, 29, r])
        out[name] = np.column_stack([
            read(labels[:, j], rates[name][o]["sensitivity"], rates[name][o]["specificity"], rng)
            for j, o in enumerate(observations)
        ])  # fmt: skip
    return out

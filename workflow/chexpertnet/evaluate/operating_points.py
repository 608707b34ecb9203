"""Operating points chosen on the validation set and kept, unchanged, on the test set: pure functions over arrays.

A rule picks one threshold per observation from the validation patients' scores (a patient is called positive when
its score is at least the threshold; the candidates are the distinct scores, the thresholds of the ROC curve):

- ``youden``: the highest Youden's J = sensitivity + specificity − 1 (the highest threshold among equals);
- ``sensitivity=S``: the highest threshold whose sensitivity is at least S (the best specificity that keeps it);
- ``specificity=S``: the lowest threshold whose specificity is at least S (the best sensitivity that keeps it);
- ``readers_specificity``: ``specificity=`` the readers' mean specificity on that observation (radiologists' reads
  of the test set: the model is then compared with them at their own specificity).

The threshold comes from validation only: choosing it on the test set would fit the test set, and its sensitivity
and specificity there would be optimistic. A rule is applied where validation can resolve it: at least
``min_positives`` positive and negative patients, and for a target S at least 1/(1 − S) positive (sensitivity) or
negative (specificity) patients, so that meeting the target means more than calling every one of them (sensitivity
0.9 needs 10 positives). Otherwise the table says why, and no threshold is kept.

At the threshold, on validation and on the test set: sensitivity, specificity, PPV, NPV, F1 and MCC
(:mod:`chexpertnet.evaluate.binary`) with 95% percentile intervals of a patient bootstrap, which cover the sampling of
the evaluated set's patients for this threshold (not the threshold's own sampling on validation, nor the training
seed).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from chexpertnet.evaluate.binary import METRICS, metrics
from chexpertnet.evaluate.metrics import bootstrap_counts, percentile_ci
from chexpertnet.evaluate.roc import roc_points

MIN_POSITIVES = 10
_RULE = re.compile(r"^(youden|readers_specificity|(sensitivity|specificity)=(0?\.\d+|1(?:\.0*)?|0))$")
_EPS = 1e-12


@dataclass(frozen=True)
class Rule:
    """One operating-point rule: ``kind`` youden | sensitivity | specificity | readers_specificity, ``target`` the
    required sensitivity or specificity (None for youden and the readers', whose target is per observation)."""

    kind: str
    target: float | None = None

    @property
    def name(self) -> str:
        """The rule as written on the command line and in file names: youden, sensitivity=0.9, ..."""
        return self.kind if self.target is None else f"{self.kind}={self.target:g}"

    @property
    def file_stem(self) -> str:
        return self.name.replace("=", "_")

    @property
    def label(self) -> str:
        if self.kind == "youden":
            return "Youden's J"
        if self.kind == "readers_specificity":
            return "readers' mean specificity"
        return f"{self.kind} ≥ {self.target:.2f}"


def parse_rule(text: str) -> Rule:
    """``youden``, ``sensitivity=0.9``, ``specificity=0.9`` or ``readers_specificity``; a ValueError otherwise."""
    m = _RULE.match(str(text).strip())
    if m is None:
        raise ValueError(f"operating point {text!r} is not youden, sensitivity=S, specificity=S (S in (0, 1)) or "
                         "readers_specificity")  # fmt: skip
    if m.group(2):
        target = float(m.group(3))
        if not 0 < target < 1:
            raise ValueError(f"operating point {text!r}: the target must lie strictly between 0 and 1")
        return Rule(m.group(2), target)
    return Rule(m.group(1))


def needed(target: float, min_positives: int) -> int:
    """Patients of the targeted class that a target rate needs on validation (see the module)."""
    return max(min_positives, math.ceil(1 / (1 - target) - 1e-9)) if target < 1 else math.inf


def choose(scores: np.ndarray, labels: np.ndarray, kind: str, target: float | None = None,
           min_positives: int = MIN_POSITIVES) -> tuple[float, str]:  # fmt: skip
    """(threshold, "") for one observation's validation scores and 0/1 labels, or (NaN, why not)."""
    labels = np.asarray(labels).astype(bool)
    positives, negatives = int(labels.sum()), int((~labels).sum())
    if min(positives, negatives) < min_positives:
        return math.nan, (f"not met on validation: {positives} positive and {negatives} negative patients (fewer "
                          f"than {min_positives})")  # fmt: skip
    if kind in ("sensitivity", "specificity"):
        have = positives if kind == "sensitivity" else negatives
        need = needed(target, min_positives)
        if have < need:
            which = "positive" if kind == "sensitivity" else "negative"
            return math.nan, f"not met on validation: {have} {which} patients; {kind} {target:.2f} needs at least " \
                             f"{need}"  # fmt: skip
    thresholds = np.unique(np.asarray(scores, dtype=np.float64))[::-1]  # descending, as the curve's points
    fpr, tpr = roc_points(scores, labels, np.ones((1, len(labels))))
    fpr, tpr = fpr[0, 1:], tpr[0, 1:]  # the point of each threshold (without the infinite one)
    if kind == "youden":
        return float(thresholds[int(np.argmax(tpr - fpr))]), ""
    if kind == "sensitivity":
        return float(thresholds[int(np.flatnonzero(tpr >= target - _EPS)[0])]), ""
    keep = np.flatnonzero(1 - fpr >= target - _EPS)
    if not len(keep):
        return math.nan, f"not met on validation: every threshold's specificity is below {target:.3f}"
    return float(thresholds[int(keep[-1])]), ""


def at_threshold(scores: np.ndarray, labels: np.ndarray, threshold: float, counts: np.ndarray,
                 level: float = 0.95, intervals: bool = True) -> dict[str, float]:  # fmt: skip
    """Every metric at ``threshold`` on the data (``counts`` row 0 is the data as they are, the rest resamples),
    with its 95% interval (``<metric>_low``, ``_high``; NaN without ``intervals``)."""
    values = metrics(np.asarray(scores) >= threshold, labels, counts)
    out = {}
    for key in METRICS:
        out[key] = float(values[key][0])
        low, high = percentile_ci(values[key][1:, None], level) if intervals else ([math.nan], [math.nan])
        out[f"{key}_low"], out[f"{key}_high"] = float(low[0]), float(high[0])
    return out


def evaluate(observations: list[str], rules: list[Rule], valid: tuple[np.ndarray, np.ndarray],
             others: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
             reader_specificity: dict[str, float] | None = None, resamples: int = 2000, seed: int = 0,
             level: float = 0.95, min_positives: int = MIN_POSITIVES) -> tuple[pd.DataFrame, dict]:  # fmt: skip
    """Thresholds chosen on ``valid`` (patient scores (n, J), labels (n, J)) by every rule, then the metrics on
    validation and on each of ``others`` ({split: (scores, labels)}, e.g. the test set) at the same threshold.

    Returns (one row per rule, observation and split; {(rule name, observation): threshold}). ``reader_specificity``
    is the readers' mean specificity per observation (for ``readers_specificity``)."""
    sets = {"valid": valid, **(others or {})}
    counts = {split: np.vstack([np.ones((1, len(s))), bootstrap_counts(len(s), resamples, seed)])
              for split, (s, _) in sets.items()}  # fmt: skip
    rows, thresholds = [], {}
    for rule in rules:
        for j, observation in enumerate(observations):
            target = rule.target
            note = ""
            if rule.kind == "readers_specificity":
                target = (reader_specificity or {}).get(observation, math.nan)
                if math.isnan(target):
                    note = "no reader reads this observation"
            kind = "specificity" if rule.kind == "readers_specificity" else rule.kind
            threshold = math.nan
            if not note:
                threshold, note = choose(valid[0][:, j], valid[1][:, j], kind, target, min_positives)
            thresholds[(rule.name, observation)] = threshold
            for split, (scores, labels) in sets.items():
                y = labels[:, j]
                positives, negatives = int(y.sum()), int(len(y) - y.sum())
                enough = min(positives, negatives) >= min_positives
                row = {"rule": rule.name, "rule_label": rule.label, "target": target, "observation": observation,
                       "split": split, "threshold": threshold, "note": note, "patients": len(y),
                       "positives": positives, "negatives": negatives, "unstable": not enough}  # fmt: skip
                if math.isnan(threshold):
                    row |= {f"{k}{s}": math.nan for k in METRICS for s in ("", "_low", "_high")}
                else:
                    row |= at_threshold(scores[:, j], y, threshold, counts[split], level, intervals=enough)
                rows.append(row)
    return pd.DataFrame(rows), thresholds

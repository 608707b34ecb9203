"""Radiologists on the model's ROC curve: pure functions over arrays and data frames (no file I/O).

For each observation and reader: the reader's sensitivity and specificity against the labels, the model's ROC curve
(every threshold; :mod:`chexpertnet.evaluate.roc`) and its sensitivity at the reader's false-positive rate, whether
the reader lies below the curve (the model's sensitivity there is higher; a point on the curve is not below), and
the Matthews correlation of the reader's and, where given, the model's decisions. CheXpert's headline (Irvin et al.,
2019) is the number of readers below the curve; CheXternal (Rajpurkar et al., 2021) compares MCCs.

Intervals are 95% percentile intervals of a paired patient bootstrap: each resample draws patients with replacement
(a study counts as often as its patient is drawn) and every quantity of the model and of every reader is computed on
that same resample, so differences are paired. They cover the sampling of patients (studies), not the readers (the
three readers are the ones compared, not a sample of radiologists) nor the model's training seed. An observation
with fewer than ``min_positives`` positive (or negative) studies gets point estimates only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from chexpertnet.evaluate.binary import confusion, mcc
from chexpertnet.evaluate.metrics import bootstrap_counts, percentile_ci, weighted_auc
from chexpertnet.evaluate.roc import roc_points, sensitivity_at

MIN_POSITIVES = 10
#: A reader is below the curve when the model's sensitivity at its false-positive rate exceeds the reader's by more
#: than rounding (a point on a segment of the curve is a tie, and a tie is not below).
TIE = 1e-9
INTERVALS = ("sensitivity", "specificity", "auc", "sensitivity_gap", "reader_mcc", "model_mcc", "mcc_gap")


@dataclass(frozen=True)
class Curve:
    """The model's ROC on one observation (for the figure) and its AUC."""

    observation: str
    fpr: np.ndarray
    tpr: np.ndarray
    auc: float


def patient_counts(studies: pd.Index, resamples: int, seed: int) -> np.ndarray:
    """(1 + resamples, studies) counts: the data as they are, then the patient bootstrap (a study drawn as often as
    its patient: ``patientN`` of ``patientN/studyM``)."""
    patients = np.array([s.split("/", 1)[0] for s in studies])
    ids, inverse = np.unique(patients, return_inverse=True)
    drawn = bootstrap_counts(len(ids), resamples, seed)[:, inverse]
    return np.vstack([np.ones((1, len(studies))), drawn])


def _rates(decisions: np.ndarray, labels: np.ndarray, counts: np.ndarray) -> dict[str, np.ndarray]:
    """Sensitivity, specificity, false-positive rate (as fp / negatives: exactly the curve's, never 1 − spec) and
    MCC of 0/1 decisions, per row of counts."""
    c = confusion(decisions, labels, counts)
    with np.errstate(invalid="ignore", divide="ignore"):
        positives, negatives = c["tp"] + c["fn"], c["tn"] + c["fp"]
        return {
            "sensitivity": np.where(positives > 0, c["tp"] / positives, np.nan),
            "specificity": np.where(negatives > 0, c["tn"] / negatives, np.nan),
            "fpr": np.where(negatives > 0, c["fp"] / negatives, np.nan),
            "mcc": mcc(c["tp"], c["fp"], c["fn"], c["tn"]),
        }


def evaluate(labels: pd.DataFrame, scores: pd.DataFrame, readers: dict[str, pd.DataFrame],
             decisions: pd.DataFrame | None = None, resamples: int = 2000, seed: int = 0, level: float = 0.95,
             min_positives: int = MIN_POSITIVES) -> tuple[pd.DataFrame, pd.DataFrame, list[Curve]]:  # fmt: skip
    """Every reader against the model on every observation of ``scores``.

    ``labels``, ``scores``, each reader's reads and ``decisions`` (the model's 0/1 decisions, for some or all of the
    observations) are indexed by the same studies in the same order. Returns (rows: one per observation and reader,
    counts: one per observation with the readers below the curve and the share of resamples with each count,
    curves)."""
    counts = patient_counts(labels.index, resamples, seed)
    rows, count_rows, curves = [], [], []
    names = list(readers)
    for observation in scores.columns:
        y = labels[observation].to_numpy()
        s = scores[observation].to_numpy(dtype=float)
        positives, negatives = int(y.sum()), int(len(y) - y.sum())
        enough = positives >= min_positives and negatives >= min_positives
        fpr, tpr = roc_points(s, y, counts)
        auc = weighted_auc(s, y, counts)
        curves.append(Curve(observation, fpr[0], tpr[0], float(auc[0])))
        model = None
        if decisions is not None and observation in decisions.columns:
            model = _rates(decisions[observation].to_numpy(), y, counts)
        below = np.zeros((len(counts), len(names)))
        for r, name in enumerate(names):
            reader = _rates(readers[name][observation].to_numpy(), y, counts)
            model_sensitivity = sensitivity_at(fpr, tpr, reader["fpr"])
            gap = model_sensitivity - reader["sensitivity"]
            below[:, r] = np.where(np.isnan(gap), np.nan, gap > TIE)
            values = {
                "sensitivity": reader["sensitivity"], "specificity": reader["specificity"], "auc": auc,
                "sensitivity_gap": gap, "reader_mcc": reader["mcc"],
                "model_mcc": model["mcc"] if model else np.full(len(counts), np.nan),
                "mcc_gap": model["mcc"] - reader["mcc"] if model else np.full(len(counts), np.nan),
            }  # fmt: skip
            row = {"observation": observation, "reader": name, "studies": len(y), "positives": positives,
                   "negatives": negatives, "unstable": not enough,
                   "fpr": reader["fpr"][0], "model_sensitivity": model_sensitivity[0],
                   "below": int(gap[0] > TIE) if not np.isnan(gap[0]) else np.nan,
                   "model_fpr": model["fpr"][0] if model else np.nan,
                   "model_decision_sensitivity": model["sensitivity"][0] if model else np.nan}  # fmt: skip
            for key, value in values.items():
                row[key] = value[0]
                low, high = percentile_ci(value[1:, None], level) if enough else ([np.nan], [np.nan])
                row[f"{key}_low"], row[f"{key}_high"] = float(low[0]), float(high[0])
            rows.append(row)
        point = below[0]
        count_row = {"observation": observation, "readers": len(names), "positives": positives,
                     "negatives": negatives, "unstable": not enough,
                     "readers_below": int(np.nansum(point)) if not np.isnan(point).any() else np.nan}  # fmt: skip
        boot = below[1:]
        usable = boot[~np.isnan(boot).any(axis=1)] if enough else boot[:0]
        count_row["resamples"] = len(usable)
        for k in range(len(names) + 1):
            count_row[f"share_{k}"] = float((usable.sum(axis=1) == k).mean()) if len(usable) else np.nan
        count_rows.append(count_row)
    table = pd.DataFrame(rows)
    order = ["observation", "reader", "studies", "positives", "negatives", "unstable"]
    for key in ("sensitivity", "specificity"):
        order += [key, f"{key}_low", f"{key}_high"]
    order += ["fpr", "auc", "auc_low", "auc_high", "model_sensitivity", "sensitivity_gap", "sensitivity_gap_low",
              "sensitivity_gap_high", "below", "reader_mcc", "reader_mcc_low", "reader_mcc_high", "model_mcc",
              "model_mcc_low", "model_mcc_high", "mcc_gap", "mcc_gap_low", "mcc_gap_high", "model_fpr",
              "model_decision_sensitivity"]  # fmt: skip
    return table[order], pd.DataFrame(count_rows), curves

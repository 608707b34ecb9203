"""Patient-level AUC by epoch: each training's validation predictions at every epoch's end. Pure functions."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from chexpertnet.evaluate.metrics import per_observation_auc
from chexpertnet.evaluate.scoring import PatientScores
from chexpertnet.markup import markdown
from chexpertnet.observations import ABBREVIATIONS, OBSERVATIONS, abbreviation_legend


def epoch_table(per_epoch: Sequence[PatientScores]) -> pd.DataFrame:
    """One row per observation and the mean over the observations defined at every epoch: the seed-averaged
    patient-level AUC after each epoch (columns ``epoch_1`` ...) and the epoch with the highest (the last on ties)."""
    aucs = np.array([np.mean([per_observation_auc(e.labels, s) for s in e.scores], axis=0) for e in per_epoch])
    defined = ~np.isnan(aucs).any(axis=0)
    means = np.nanmean(aucs[:, defined], axis=1) if defined.any() else np.full(len(aucs), np.nan)
    values = np.column_stack([aucs, means])  # (E, J + 1)
    frame = pd.DataFrame({"observation": [*OBSERVATIONS, "mean (defined observations)"],
                          "abbreviation": [*ABBREVIATIONS, "mean_all"]})  # fmt: skip
    for k in range(len(values)):
        frame[f"epoch_{k + 1}"] = values[k]
    best = []
    for j in range(values.shape[1]):
        column = values[:, j]
        if np.isnan(column).any():
            best.append(np.nan)
        else:
            best.append(int(len(column) - np.argmax(column[::-1])))  # the last epoch among ties
    frame["best_epoch"] = pd.array(best, dtype="Int64")
    return frame


def seed_mean_auc_by_epoch(per_epoch: Sequence[PatientScores]) -> np.ndarray:
    """(seeds, epochs): each seed's patient-level AUC after each epoch, averaged over the observations defined at
    every epoch (NaN where none is), for learning curves with one line per seed."""
    aucs = np.array([[per_observation_auc(e.labels, s) for s in e.scores] for e in per_epoch])  # (E, S, J)
    defined = ~np.isnan(aucs).any(axis=(0, 1))
    if not defined.any():
        return np.full(aucs.shape[1::-1], np.nan)
    return aucs[:, :, defined].mean(axis=2).T


def epoch_markdown(name: str, frame: pd.DataFrame) -> str:
    shown = frame.drop(columns="observation").copy()
    for column in shown.columns:
        if column.startswith("epoch_"):
            shown[column] = shown[column].map(lambda x: "n/a" if pd.isna(x) else f"{x:.3f}")
    shown["best_epoch"] = shown["best_epoch"].map(lambda x: "n/a" if pd.isna(x) else str(int(x)))
    epochs = sum(c.startswith("epoch_") for c in frame.columns)
    at_last = int((frame["best_epoch"].iloc[:-1] == epochs).sum())
    defined = int(frame["best_epoch"].iloc[:-1].notna().sum())
    return (f"# {name}: patient-level AUC by epoch\n\n" + markdown(shown) + f"\n{at_last} of {defined} defined "
            f"observations reach their best AUC at the last epoch ({epochs}), as point estimates (claim 5 in "
            "claims.md tests it). Seed-averaged patient-level AUC of the validation predictions made at each epoch's "
            "end; mean_all: over every observation defined at every epoch (the paper's mean; the comparison's and "
            f"the claims' mean is over those with enough patients). {abbreviation_legend()}\n")  # fmt: skip

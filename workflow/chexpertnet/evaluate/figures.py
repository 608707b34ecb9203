"""Figures (matplotlib, Agg backend), each saved atomically."""

from __future__ import annotations

import numpy as np

from chexpertnet.observations import ABBREVIATIONS, OBSERVATIONS
from chexpertnet.plotting import pyplot

_ABBREV = dict(zip(OBSERVATIONS, ABBREVIATIONS, strict=True))
_EXPERIMENT_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf")


def roc_curves(scored, title: str = "") -> object:
    """A 4x4 grid: one panel per observation with every experiment's patient-level ROC curve overlaid (one line
    per seed), each labelled with its AUC (mean over seeds); panels where the AUC is undefined say so.

    ``scored`` maps experiment names to :class:`chexpertnet.evaluate.scoring.PatientScores`. Returns the figure.
    """
    from sklearn.metrics import roc_curve

    from chexpertnet.evaluate.auc import auc

    plt = pyplot()
    fig, axes = plt.subplots(4, 4, figsize=(13, 13))
    flat = axes.ravel()
    for j, observation in enumerate(OBSERVATIONS):
        ax = flat[j]
        ax.plot([0, 1], [0, 1], color="0.75", lw=0.8, ls="--")
        for k, (name, runs) in enumerate(scored.items()):
            color = _EXPERIMENT_COLORS[k % len(_EXPERIMENT_COLORS)]
            labels = runs.labels[:, j]
            values = [auc(labels, s[:, j]) for s in runs.scores]
            if np.isnan(values).any():
                continue
            for i, s in enumerate(runs.scores):
                fpr, tpr, _ = roc_curve(labels, s[:, j])
                label = f"{name} {np.mean(values):.3f}" if i == 0 else None
                ax.plot(fpr, tpr, color=color, lw=1.3 if len(runs.scores) == 1 else 0.9, alpha=0.9, label=label)
        positives = int(next(iter(scored.values())).labels[:, j].sum())
        ax.set_title(f"{observation} ({_ABBREV[observation]}), {positives} pos.", fontsize=9)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.01)
        ax.set_aspect("equal")
        ax.tick_params(labelsize=7)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7, loc="lower right", title="AUC", title_fontsize=7)
        else:
            ax.text(0.5, 0.5, "AUC undefined\n(one class only)", ha="center", va="center", fontsize=8, color="0.4")
        if j % 4 == 0:
            ax.set_ylabel("sensitivity", fontsize=8)
        if j >= 10:
            ax.set_xlabel("1 - specificity", fontsize=8)
    for ax in flat[len(OBSERVATIONS):]:
        ax.axis("off")
    fig.suptitle(title or "Patient-level ROC curves on the validation set", fontsize=12)
    fig.tight_layout(rect=(0, 0, 1, 0.98))
    return fig


def learning_curves(histories, epoch_auc=None, title: str = "") -> object:
    """Three panels with the experiments overlaid (one line per seed): training loss (the logged running mean, by
    step), validation loss per epoch (as logged during training) and validation mean AUC per epoch (patient level,
    from each epoch's validation predictions: the evaluation stage's AUC by epoch).

    ``histories`` maps experiment names to lists (one per seed) of history records (the train step's
    history.jsonl); ``epoch_auc`` maps experiment names to (seeds, epochs) arrays of mean AUC
    (:func:`chexpertnet.evaluate.epochs.seed_mean_auc_by_epoch`). Returns the figure.
    """
    plt = pyplot()
    epoch_auc = epoch_auc or {}
    fig, (ax_loss, ax_vloss, ax_auc) = plt.subplots(1, 3, figsize=(14, 4.2))
    for k, (name, seeds) in enumerate(histories.items()):
        color = _EXPERIMENT_COLORS[k % len(_EXPERIMENT_COLORS)]
        for i, records in enumerate(seeds):
            label = name if i == 0 else None
            train = [r for r in records if r.get("event") == "train"]
            epochs = [r for r in records if r.get("event") == "epoch"]
            if train:
                ax_loss.plot([r["step"] for r in train], [r["loss"] for r in train], color=color, lw=1, alpha=0.85,
                             label=label)  # fmt: skip
            if epochs:
                x = [r["epoch"] for r in epochs]
                ax_vloss.plot(x, [r["valid_loss"] for r in epochs], "o-", color=color, lw=1.2, ms=4, label=label)
        for i, values in enumerate(epoch_auc.get(name, [])):
            x = range(1, len(values) + 1)
            ax_auc.plot(x, values, "o-", color=color, lw=1.2, ms=4, label=name if i == 0 else None)
    ax_loss.set(xlabel="step", ylabel="weighted cross-entropy", title="training loss")
    ax_vloss.set(xlabel="epoch", ylabel="cross-entropy (uncertain class masked)", title="validation loss")
    ax_auc.set(xlabel="epoch", ylabel="mean AUC (observations defined at every epoch)",
               title="validation mean AUC (patient level)")  # fmt: skip
    for ax in (ax_vloss, ax_auc):
        ax.xaxis.get_major_locator().set_params(integer=True)
    for ax in (ax_loss, ax_vloss, ax_auc):
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    fig.suptitle(title or "Learning curves", fontsize=12)
    fig.tight_layout()
    return fig

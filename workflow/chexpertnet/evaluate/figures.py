"""Figures (matplotlib, Agg backend), each saved atomically."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from chexpertnet.fileio import atomic_path
from chexpertnet.observations import ABBREVIATIONS, DATASET_DIR, OBSERVATIONS
from chexpertnet.plotting import pyplot

_ABBREV = dict(zip(OBSERVATIONS, ABBREVIATIONS, strict=True))
_BOX_COLORS = ("#ff3b30", "#ffcc00", "#34c759", "#0a84ff", "#ff9f0a", "#bf5af2", "#64d2ff")


def _pick_studies(frame: pd.DataFrame, n: int, seed: int) -> list[str]:
    """Valid-set studies with a frontal view (preferably also a lateral one), chosen greedily to cover many findings."""
    frame = frame.assign(study=frame["Path"].str.rsplit("/", n=1).str[0])
    frontal = frame[frame["Frontal/Lateral"] == "Frontal"].drop_duplicates("study")
    has_lateral = set(frame.loc[frame["Frontal/Lateral"] == "Lateral", "study"])
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(frontal))
    candidates = []
    for i in order:
        row = frontal.iloc[i]
        positives = {o for o in OBSERVATIONS if str(row[o]).strip() in ("1.0", "1")}
        candidates.append((row["study"], positives, row["study"] in has_lateral))
    chosen: list[str] = []
    covered: set[str] = set()
    normal = next((c for c in candidates if c[1] == {"No Finding"} and c[2]), None)
    if normal is not None and n > 1:
        chosen.append(normal[0])
        covered |= normal[1]
    while len(chosen) < min(n, len(candidates)):
        best = max(
            (c for c in candidates if c[0] not in chosen),
            key=lambda c: (c[2], len(c[1] - covered), -abs(len(c[1]) - 3)),
        )
        chosen.append(best[0])
        covered |= best[1]
    return chosen


def contact_sheet(root: str | os.PathLike, out_png: str | os.PathLike, n_studies: int = 6, seed: int = 0) -> None:
    """Frontal (top) and lateral (bottom) images of ``n_studies`` valid-set studies, captioned with their labels.

    ``root`` is the folder that contains CheXpert-v1.0-small/ (a phantom's out_dir or the real dataset). Studies
    are picked to show a range of findings. Where ``root/phantom_truth.csv`` exists, the boxes of the findings
    visible in each image are drawn and tagged with the observation's abbreviation.
    """
    from matplotlib.patches import Rectangle

    plt = pyplot()
    root = Path(root)
    frame = pd.read_csv(root / DATASET_DIR / "valid.csv", dtype=str, keep_default_na=False)
    studies = _pick_studies(frame, n_studies, seed)
    truth_file = root / "phantom_truth.csv"
    truth = None
    if truth_file.exists():
        truth = pd.read_csv(truth_file, dtype=str, keep_default_na=False)
        truth = truth[(truth["visible"] == "1") & (truth["x0"] != "")]
    n = max(1, len(studies))
    fig, axes = plt.subplots(2, n, figsize=(2.6 * n, 7.4), squeeze=False, facecolor="black")
    for j, study in enumerate(studies):
        rows = frame[frame["Path"].str.startswith(study + "/")]
        positives = [o for o in OBSERVATIONS if str(rows.iloc[0][o]).strip() in ("1.0", "1")]
        for i, view in enumerate(("Frontal", "Lateral")):
            ax = axes[i][j]
            ax.set_facecolor("black")
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            match = rows[rows["Frontal/Lateral"] == view]
            if match.empty:
                ax.text(
                    0.5,
                    0.5,
                    f"no {view.lower()} view",
                    color="0.6",
                    ha="center",
                    va="center",
                    transform=ax.transAxes,
                    fontsize=8,
                )
                continue
            path = match.iloc[0]["Path"]
            with Image.open(root / path) as img:
                ax.imshow(np.asarray(img.convert("L")), cmap="gray", vmin=0, vmax=255)
            if truth is not None:
                boxes = truth[truth["Path"] == path]
                for k, (_, b) in enumerate(boxes.iterrows()):
                    x0, y0, x1, y1 = (int(b[c]) for c in ("x0", "y0", "x1", "y1"))
                    color = _BOX_COLORS[k % len(_BOX_COLORS)]
                    ax.add_patch(Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False, lw=0.8, ec=color))
                    ax.text(x0, y0 - 2, _ABBREV[b["observation"]], color=color, fontsize=6, va="bottom")
            if i == 0:
                title = "\n".join(textwrap.wrap(", ".join(positives) or "(none)", 30))
                ax.set_title(title, color="white", fontsize=7.5)
            ax.set_xlabel(path.split("/", 2)[2], color="0.7", fontsize=6)
    fig.tight_layout()
    with atomic_path(out_png, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=100, facecolor=fig.get_facecolor(), format="png")
    plt.close(fig)


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

"""A contact sheet of a CheXpert-layout dataset: frontal and lateral views of a few validation studies with their
labels and, for the phantom, the boxes of its visible findings (docs/images/phantom_contact_sheet.png). A picture for
people, not a step of the workflow."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd

from chexpertnet.data.images import read_gray
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
            ax.imshow(read_gray(root / path), cmap="gray", vmin=0, vmax=255)  # any bit depth, DICOM too
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

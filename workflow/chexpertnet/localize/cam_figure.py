"""The paper's Figure 1: class activation maps over correctly classified images."""

from __future__ import annotations

import torch

from chexpertnet.localize.cam import overlay, upsample
from chexpertnet.plotting import pyplot


def cam_figure(panels, title: str = "") -> object:
    """The paper's Figure 1: one panel per example, the CAM of its observation over the model's input image, with a
    colour bar (the CAM in logit-difference units), the true box where known, and a caption (observation,
    P(positive), label). ``panels``: dicts with image, cam, observation, path, probability, label, box."""
    from matplotlib import colormaps
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize
    from matplotlib.patches import Rectangle

    plt = pyplot()
    n = max(1, len(panels))
    cols = min(n, 4)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 3.9 * rows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    if not panels:
        axes[0][0].text(0.5, 0.5, "no correctly classified example", ha="center", va="center")
    for ax, p in zip(axes.ravel(), panels, strict=False):
        up = upsample(torch.as_tensor(p["cam"], dtype=torch.float32), p["image"].shape)
        ax.imshow(overlay(p["image"], p["cam"]), interpolation="nearest")
        if p.get("box") is not None:
            x0, y0, x1, y1 = p["box"]
            ax.add_patch(Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False, ec="white", lw=1.2, ls="--"))
        label = "positive" if p["label"] == 1 else "negative"
        ax.set_title(f"{p['observation']}\nP(positive) = {p['probability']:.2f}, label {label}", fontsize=9)
        ax.text(0.5, -0.04, p["path"].split("/", 2)[-1], transform=ax.transAxes, ha="center", va="top", fontsize=6,
                color="0.35")  # fmt: skip
        mappable = ScalarMappable(Normalize(up.min(), up.max()), colormaps["jet"])
        bar = fig.colorbar(mappable, ax=ax, fraction=0.046, pad=0.03)
        bar.ax.tick_params(labelsize=6)
    fig.suptitle(title or "Class activation maps", fontsize=11)
    fig.tight_layout()
    return fig

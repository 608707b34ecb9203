"""Matplotlib on the Agg backend, and figures saved atomically."""

from __future__ import annotations

import os

from chexpertnet.fileio import atomic_path


def pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, out_png: str | os.PathLike, dpi: int = 110) -> None:
    """Save as PNG atomically (no software-version metadata) and close."""
    with atomic_path(out_png, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=dpi, format="png", metadata={"Software": None})
    pyplot().close(fig)

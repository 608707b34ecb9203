"""What to do when `train.device: cuda` finds no usable GPU: the CUDA release this torch was built for, the oldest
NVIDIA driver that release runs on, and the commands that install a build for an older driver (or the CPU)."""

from __future__ import annotations

import os

import torch

#: The oldest Linux NVIDIA driver of each CUDA release (NVIDIA's CUDA toolkit release notes, table 3).
CUDA_MIN_DRIVER = {"13.0": "580.65.06", "12.9": "575.51.03", "12.8": "570.26", "12.6": "560.28.03",
                   "12.4": "550.54.14", "12.1": "530.30.02", "11.8": "520.61.05"}  # fmt: skip
OLDER_WHEELS = (("12.6", "cu126"), ("11.8", "cu118"))


def cuda_unavailable_message(built_for: str | None = None, devices: str | None = None) -> str:
    """Why `train.device: cuda` cannot run, and what to do: the CUDA release this torch was built for, the driver it
    needs, and the commands that install a build for an older driver (or the CPU)."""
    built_for = torch.version.cuda if built_for is None else built_for
    devices = os.environ.get("CUDA_VISIBLE_DEVICES") if devices is None else devices
    if not built_for:
        return (f"train.device is 'cuda' but torch {torch.__version__} is a CPU-only build. Install a CUDA build "
                f"(pip install torch=={torch.__version__.split('+')[0]} --index-url "
                "https://download.pytorch.org/whl/cu126) or set train.device: cpu")  # fmt: skip
    need = CUDA_MIN_DRIVER.get(built_for, "the one its release notes name")
    hidden = f" CUDA_VISIBLE_DEVICES is {devices!r}: no device is visible to this job." if devices == "" else ""
    version = torch.__version__.split("+")[0]
    older = "; ".join(f"CUDA {cuda} (driver >= {CUDA_MIN_DRIVER[cuda]}): pip install torch=={version} "
                      f"torchvision --index-url https://download.pytorch.org/whl/{tag}"
                      for cuda, tag in OLDER_WHEELS if cuda != built_for)  # fmt: skip
    return (
        f"train.device is 'cuda' but CUDA is not available.{hidden} torch {torch.__version__} is built for CUDA "
        f"{built_for}, which needs an NVIDIA driver >= {need} (`nvidia-smi` shows the driver and the GPUs). With an "
        f"older driver, install the build for it, keeping the pinned versions: {older}. Without a GPU, set "
        "train.device: cpu."
    )

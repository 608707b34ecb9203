"""The arithmetic a run uses, with `train.fast` (the default): channels_last everywhere (measured faster than NCHW in
fp32 too, on AVX2 and AVX-512 CPUs: docs/benchmarks.md) and bf16 autocast where the hardware computes bf16 natively
(GPUs, CPUs with AVX-512 bf16 or AMX), fp32 otherwise; and the seeds every random draw derives from.

The CPU check honours the switches that cap PyTorch's kernels (``ATEN_CPU_CAPABILITY=avx2``,
``ONEDNN_MAX_CPU_ISA=AVX2``): under them an AVX-512 machine runs as an AVX2-only machine would, fp32 included.
"""

from __future__ import annotations

import contextlib
import os
import random

import numpy as np
import torch

# oneDNN instruction-set caps below AVX-512 bf16 (ONEDNN_MAX_CPU_ISA); oneDNN has no bf16 kernels under them
_ONEDNN_BELOW_BF16 = {"SSE41", "AVX", "AVX2", "AVX2_VNNI", "AVX2_VNNI_2", "AVX512_CORE", "AVX512_CORE_VNNI"}


def cpu_supports_bf16() -> bool:
    """Native bf16 on this CPU (AVX-512 bf16 or AMX) and not capped away by ATEN_CPU_CAPABILITY/ONEDNN_MAX_CPU_ISA."""
    if os.environ.get("ONEDNN_MAX_CPU_ISA", "").upper() in _ONEDNN_BELOW_BF16:
        return False
    if "AVX512" not in torch.backends.cpu.get_cpu_capability().upper():
        return False
    checker = getattr(torch.cpu, "_is_avx512_bf16_supported", None)
    return bool(checker and checker()) or bool(getattr(torch.cpu, "_is_amx_tile_supported", lambda: False)())


def cuda_supports_bf16() -> bool:
    """Native bf16 on the GPU: compute capability 8.0 or newer (Ampere, Hopper, ...); older GPUs emulate it slowly."""
    return torch.cuda.is_available() and tuple(torch.cuda.get_device_capability()) >= (8, 0)


def use_bf16(device_type: str, fast: bool) -> bool:
    """bf16 autocast: on GPUs and CPUs with native bf16."""
    native = cuda_supports_bf16() if device_type == "cuda" else cpu_supports_bf16()
    return fast and native


def use_channels_last(device_type: str, fast: bool) -> bool:
    """NHWC convolutions whenever `fast`: faster than NCHW with and without bf16 on every CPU measured, and GPUs."""
    return fast


def numeric_path(device_type: str, fast: bool) -> str:
    """'bf16+channels_last', 'fp32+channels_last' or 'fp32': what a run with these settings computes in here."""
    precision = "bf16" if use_bf16(device_type, fast) else "fp32"
    return f"{precision}+channels_last" if use_channels_last(device_type, fast) else precision


def autocast_for(device_type: str, fast: bool) -> contextlib.AbstractContextManager:
    return torch.autocast(device_type=device_type, dtype=torch.bfloat16, enabled=use_bf16(device_type, fast))


def derived_seed(*parts: int) -> int:
    """A 63-bit seed from integers (independent streams for every (seed, epoch, batch))."""
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(2, dtype=np.uint64)[0] >> 1)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)

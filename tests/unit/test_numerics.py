"""Which arithmetic a run uses: bf16 only where the CPU has it natively and nothing caps PyTorch's kernels below it."""

from __future__ import annotations

import pytest
import torch

from chexpertnet.train import numerics


@pytest.fixture
def bf16_cpu(monkeypatch):
    """An AVX-512 bf16 CPU, whatever this machine is."""
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX512")
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: True)


def test_bf16_on_a_bf16_cpu_unless_fast_is_off(bf16_cpu):
    assert numerics.cpu_supports_bf16()
    assert numerics.numeric_path("cpu", True) == "bf16+channels_last"
    assert numerics.numeric_path("cpu", False) == "fp32"
    assert numerics.use_channels_last("cpu", True) and not numerics.use_channels_last("cpu", False)


@pytest.mark.parametrize("cap", ["AVX2", "avx512_core", "AVX512_CORE_VNNI"])
def test_a_onednn_cap_below_bf16_means_fp32(bf16_cpu, monkeypatch, cap):
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", cap)
    assert not numerics.cpu_supports_bf16() and numerics.numeric_path("cpu", True) == "fp32+channels_last"


def test_aten_capped_to_avx2_means_fp32(bf16_cpu, monkeypatch):
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX2")
    assert numerics.numeric_path("cpu", True) == "fp32+channels_last"


def test_a_cpu_without_bf16_means_fp32(bf16_cpu, monkeypatch):
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
    assert numerics.numeric_path("cpu", True) == "fp32+channels_last"


@pytest.mark.parametrize(("capability", "path"), [((9, 0), "bf16+channels_last"), ((8, 0), "bf16+channels_last"),
                                                  ((7, 5), "fp32+channels_last"), ((6, 0), "fp32+channels_last")])
def test_bf16_on_gpus_from_compute_capability_8(monkeypatch, capability, path):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
    assert numerics.numeric_path("cuda", True) == path
    assert numerics.numeric_path("cuda", False) == "fp32"


def test_derived_seeds_are_stable_and_distinct():
    assert numerics.derived_seed(0, 1) == numerics.derived_seed(0, 1)
    assert len({numerics.derived_seed(0, e, b) for e in range(3) for b in range(50)}) == 150
    assert 0 <= numerics.derived_seed(2**40, 3) < 2**63

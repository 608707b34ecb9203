"""Weights that cannot run code: every torch file the workflow reads is loaded with weights_only=True."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from chexpertnet.errors import DataError
from chexpertnet.train.checkpoint import load_model, save_checkpoint
from chexpertnet.train.loop import TrainConfig
from chexpertnet.train.model import CheXpertNet
from chexpertnet.train.weights import load_pretrained_state

ROOT = Path(__file__).resolve().parents[2]


class _Payload:
    """An object whose unpickling runs code: it would create ``marker``."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (str(self.marker),))


def _crafted(path: Path, marker: Path, state: dict) -> Path:
    torch.save({**state, "extra": _Payload(marker)}, path)
    return path


def test_a_pretrained_file_carrying_an_object_is_refused_and_runs_nothing(tmp_path):
    marker = tmp_path / "ran"
    file = _crafted(tmp_path / "weights.pt", marker, {"features.conv0.weight": torch.zeros(1)})
    with pytest.raises(DataError, match=r"weights\.pt holds objects other than tensors.*could run code"):
        load_pretrained_state(file)
    assert not marker.exists()  # the payload never ran


def test_a_checkpoint_carrying_an_object_is_refused(tmp_path):
    model = CheXpertNet()
    optimizer = torch.optim.Adam(model.parameters())
    good = tmp_path / "model.pt"
    save_checkpoint(good, model, optimizer, TrainConfig(experiment="e", seed=0), 1, 2, fingerprint={"code": "x"})
    rebuilt, checkpoint = load_model(good)  # a checkpoint of tensors and plain types loads
    assert checkpoint["step"] == 2 and checkpoint["fingerprint"] == {"code": "x"}
    for a, b in zip(rebuilt.state_dict().values(), model.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    marker = tmp_path / "ran"
    bad = _crafted(tmp_path / "bad.pt", marker, torch.load(good, weights_only=True))
    with pytest.raises(DataError, match=r"bad\.pt holds objects"):
        load_model(bad)
    assert not marker.exists()


def test_nothing_in_the_repository_unpickles_with_weights_only_false():
    offenders = [
        f"{path.relative_to(ROOT)}:{n}"
        for folder in ("workflow", "tests", "benchmarks")
        for path in (ROOT / folder).rglob("*.py")
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if "weights_only=False" in line.replace(" ", "") and path.name != Path(__file__).name
    ]
    assert offenders == []

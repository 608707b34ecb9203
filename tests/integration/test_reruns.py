"""Reruns that really rerun, proven by outcomes: after each kind of change that must retrain, the rerun of
`snakemake` trains from step 0 on the new inputs (every image counted, the history starting at step 0, the new
inputs' digests recorded, other weights), and a finished training leaves no state that a later run could resume."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml

from workflow_helpers import snakemake

pytestmark = pytest.mark.integration

RESULTS = Path("results/phantom")
RUN = RESULTS / "models/baseline/seed0"
MODEL = str(RUN / "model.pt")
SYNTHETIC = RESULTS / "pretrained/densenet121-synthetic.pt"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def outcome(workdir: Path) -> dict:
    """What the baseline training of ``workdir`` did, read from its outputs and log."""
    run = workdir / RUN
    resolved = json.loads((run / "config.json").read_text())
    log = (workdir / RESULTS / "logs/train/baseline/seed0.log").read_text()
    return {
        "throughput": json.loads((run / "throughput.json").read_text()),
        "history": [json.loads(line) for line in (run / "history.jsonl").read_text().splitlines()],
        "resolved": resolved,
        "weights": torch.load(run / "model.pt", map_location="cpu", weights_only=False)["state_dict"],
        "resumed": '"event": "resumed"' in log,
        "manifest_rows": len(pd.read_csv(workdir / resolved["train_manifest"])),
    }


def same_weights(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def write_config(workdir: Path, change: Callable[[dict], None]) -> str:
    config = yaml.safe_load((workdir / "config/tiny.yaml").read_text())
    change(config)
    (workdir / "config/changed.yaml").write_text(yaml.safe_dump(config))
    return "config/changed.yaml"


def replace_in(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, f"{old!r} is not once in {path}"
    path.write_text(text.replace(old, new))


# Each change returns (config file, extra snakemake arguments); it edits the workflow copy it is given.
def loss_scaled(wd: Path):
    replace_in(wd / "workflow/chexpertnet/loss.py", "return -(w * mask", "return -2.0 * (w * mask")
    return "config/tiny.yaml", []


def model_input_scaled(wd: Path):
    replace_in(wd / "workflow/chexpertnet/model.py", ".div_(255.0)", ".div_(256.0)")
    return "config/tiny.yaml", []


def blank_ignored(wd: Path):
    return write_config(wd, lambda c: c["labels"].update(blank="ignore")), []


def uncertain_as_ones(wd: Path):
    return write_config(wd, lambda c: c["experiments"]["baseline"].update(uncertainty="ones")), []


def phantom_regenerated(wd: Path):
    return write_config(wd, lambda c: c["phantom"].update(seed=1)), []


def pretrained_replaced(wd: Path):
    """Other weights in the same file (as a user replacing a downloaded file would)."""
    state = torch.load(wd / SYNTHETIC, map_location="cpu")
    generator = torch.Generator().manual_seed(7)
    state = {k: v + 0.05 * torch.randn(v.shape, generator=generator) if v.is_floating_point() else v
             for k, v in state.items()}  # fmt: skip
    torch.save(state, wd / SYNTHETIC)
    return "config/tiny.yaml", []


def forced(wd: Path):
    return "config/tiny.yaml", ["--forcerun", "train"]


@pytest.mark.parametrize(
    "change",
    [loss_scaled, model_input_scaled, blank_ignored, uncertain_as_ones, phantom_regenerated, pretrained_replaced,
     forced],
)  # fmt: skip
def test_a_change_that_must_retrain_trains_from_step_0_on_the_new_inputs(tiny_run, tmp_path, change):
    before = outcome(tiny_run)
    assert not (tiny_run / RESULTS / "state").exists() or not any((tiny_run / RESULTS / "state").rglob("*.pt")), (
        "a finished run left resume state behind"
    )
    workdir = tmp_path / "wf"
    shutil.copytree(tiny_run, workdir, symlinks=True)
    config, extra = change(workdir)
    snakemake(workdir, MODEL, "--configfile", config, *extra)  # the target first: both options take lists
    after = outcome(workdir)

    epochs, batch = after["resolved"]["epochs"], after["resolved"]["batch_size"]
    assert after["throughput"]["start_step"] == 0 and not after["resumed"]
    assert after["throughput"]["images"] == epochs * (after["manifest_rows"] // batch) * batch
    assert after["history"][0] == {"event": "start", "epoch": 0, "step": 0}
    assert after["history"][1]["event"] == "train" and after["history"][1]["step"] == after["resolved"]["log_every"]
    # trained on the inputs that are there now, as their content digests (computed here with hashlib) show
    fingerprint = after["resolved"]["fingerprint"]
    assert fingerprint["file train_manifest"] == sha256(workdir / after["resolved"]["train_manifest"])
    assert fingerprint["file pretrained"] == sha256(workdir / SYNTHETIC)
    assert not (workdir / RESULTS / "state/baseline/seed0").exists(), "a finished training keeps no resume state"
    if change is forced:  # same inputs, same code: a real rerun reproduces the weights bit for bit
        assert same_weights(after["weights"], before["weights"])
        assert after["history"] == before["history"]
    else:
        assert not same_weights(after["weights"], before["weights"])
        assert after["history"] != before["history"]
    if change in (loss_scaled, model_input_scaled):
        assert fingerprint["code"] != before["resolved"]["fingerprint"]["code"]
    if change in (blank_ignored, uncertain_as_ones, phantom_regenerated):
        assert fingerprint["file train_manifest"] != before["resolved"]["fingerprint"]["file train_manifest"]
    if change is uncertain_as_ones:
        assert after["resolved"]["train_manifest"].endswith("both-ones/train.csv")
    if change is phantom_regenerated:
        assert fingerprint["cache train"] != before["resolved"]["fingerprint"]["cache train"]
    if change is pretrained_replaced:
        assert fingerprint["file pretrained"] != before["resolved"]["fingerprint"]["file pretrained"]

"""Reruns that really rerun, proven by outcomes: after each kind of change that must retrain, the rerun of
`snakemake` trains from step 0 on the new inputs (every image counted, the history starting at step 0, the new
inputs' digests recorded, other weights), and a finished training leaves no state that a later run could resume.
(`--forcerun train` with nothing changed is tested in test_interrupted.py: it trains from step 0, and the weights it
ends with, after a kill and a resume, are the uninterrupted run's.)

Two changes that touch different experiments share one run (two trainings side by side on two cores)."""

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
SYNTHETIC = RESULTS / "pretrained/densenet121-synthetic.pt"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def model_file(experiment: str) -> str:
    return str(RESULTS / f"models/{experiment}/seed0/model.pt")


def outcome(workdir: Path, experiment: str) -> dict:
    """What the training of ``experiment`` (seed 0) in ``workdir`` did, read from its outputs and log."""
    run = workdir / RESULTS / f"models/{experiment}/seed0"
    resolved = json.loads((run / "config.json").read_text())
    log = (workdir / RESULTS / f"logs/train/{experiment}/seed0.log").read_text()
    return {
        "throughput": json.loads((run / "throughput.json").read_text()),
        "history": [json.loads(line) for line in (run / "history.jsonl").read_text().splitlines()],
        "resolved": resolved,
        "weights": torch.load(run / "model.pt", map_location="cpu", weights_only=True)["state_dict"],
        "resumed": '"event": "resumed"' in log,
        "manifest_rows": len(pd.read_csv(workdir / resolved["train_manifest"])),
    }


def same_weights(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def write_config(workdir: Path, change: Callable[[dict], None]) -> None:
    path = workdir / "config/changed.yaml"
    config = yaml.safe_load((path if path.exists() else workdir / "config/tiny.yaml").read_text())
    change(config)
    path.write_text(yaml.safe_dump(config))


def replace_in(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, f"{old!r} is not once in {path}"
    path.write_text(text.replace(old, new))


# A change edits the workflow copy it is given (code, or config/changed.yaml) and returns the experiment whose
# retraining it checks and the extra snakemake arguments it needs.
def loss_scaled(wd: Path):
    replace_in(wd / "workflow/chexpertnet/train/loss.py", "return -(w * mask", "return -2.0 * (w * mask")
    return "baseline", []


def model_input_scaled(wd: Path):
    replace_in(wd / "workflow/chexpertnet/train/model.py", ".div_(255.0)", ".div_(256.0)")
    return "baseline", []


def blank_ignored(wd: Path):
    write_config(wd, lambda c: c["labels"].update(blank="ignore"))
    return "baseline", []


def uncertain_as_ones(wd: Path):
    """On `scratch`, the one experiment that the pretrained weights do not reach."""
    write_config(wd, lambda c: c["experiments"]["scratch"].update(uncertainty="ones"))
    return "scratch", []


def phantom_regenerated(wd: Path):
    write_config(wd, lambda c: c["phantom"].update(seed=1))
    return "baseline", []


def pretrained_replaced(wd: Path):
    """Other weights in the same file (as a user replacing a downloaded file would)."""
    state = torch.load(wd / SYNTHETIC, map_location="cpu")
    generator = torch.Generator().manual_seed(7)
    state = {k: v + 0.05 * torch.randn(v.shape, generator=generator) if v.is_floating_point() else v
             for k, v in state.items()}  # fmt: skip
    torch.save(state, wd / SYNTHETIC)
    return "baseline", []


CODE = (loss_scaled, model_input_scaled)
LABELS = (blank_ignored, uncertain_as_ones, phantom_regenerated)


@pytest.mark.parametrize(
    "changes",
    [[loss_scaled], [model_input_scaled], [blank_ignored], [uncertain_as_ones, pretrained_replaced],
     [phantom_regenerated]],
    ids=lambda changes: "+".join(c.__name__ for c in changes),
)  # fmt: skip
def test_a_change_that_must_retrain_trains_from_step_0_on_the_new_inputs(tiny_run, tmp_path, changes):
    state = tiny_run / RESULTS / "state"
    assert not state.exists() or not list(state.rglob("*.pt")), "a finished run left resume state behind"
    workdir = tmp_path / "wf"
    shutil.copytree(tiny_run, workdir, symlinks=True)
    checked, extra = {}, []
    for change in changes:
        experiment, arguments = change(workdir)
        checked[experiment] = change
        extra += arguments
    assert len(checked) == len(changes), "changes that share a run must check different experiments"
    config = "config/changed.yaml" if (workdir / "config/changed.yaml").exists() else "config/tiny.yaml"
    # the targets first: --configfile and --forcerun both take lists
    snakemake(workdir, *map(model_file, checked), "--configfile", config, *extra)

    for experiment, change in checked.items():
        before, after = outcome(tiny_run, experiment), outcome(workdir, experiment)
        epochs, batch = after["resolved"]["epochs"], after["resolved"]["batch_size"]
        assert after["throughput"]["start_step"] == 0 and not after["resumed"], experiment
        assert after["throughput"]["images"] == epochs * (after["manifest_rows"] // batch) * batch
        assert after["history"][0] == {"event": "start", "epoch": 0, "step": 0}
        assert after["history"][1]["event"] == "train"
        assert after["history"][1]["step"] == after["resolved"]["log_every"]
        # trained on the inputs that are there now, as their content digests (computed here with hashlib) show
        fingerprint, old = after["resolved"]["fingerprint"], before["resolved"]["fingerprint"]
        assert fingerprint["file train_manifest"] == sha256(workdir / after["resolved"]["train_manifest"])
        if after["resolved"]["init"] == "pretrained":
            assert fingerprint["file pretrained"] == sha256(workdir / SYNTHETIC)
        assert not (workdir / RESULTS / f"state/{experiment}/seed0").exists(), "a finished training keeps no state"
        assert not same_weights(after["weights"], before["weights"]), experiment
        assert after["history"] != before["history"], experiment
        if change in CODE:
            assert fingerprint["code"] != old["code"]
        if change in LABELS:
            assert fingerprint["file train_manifest"] != old["file train_manifest"]
        if change is uncertain_as_ones:
            assert after["resolved"]["train_manifest"].endswith("both-ones/train.csv")
        if change is phantom_regenerated:
            assert fingerprint["cache train"] != old["cache train"]
        if change is pretrained_replaced:
            assert fingerprint["file pretrained"] != old["file pretrained"]

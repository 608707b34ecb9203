"""The training loop: determinism, resume after SIGKILL (bit for bit), NaN, and every initialization path."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
from pathlib import Path

import numpy as np
import pytest
import torch
from torchvision.models import densenet121

from chexpertnet.chexpert import DataError
from chexpertnet.cli import main
from chexpertnet.model import CheXpertNet, load_backbone
from chexpertnet.train import Split, TrainConfig, TrainingDiverged, build_model, load_model, train
from chexpertnet.weights import cached_file, fetch_imagenet_weights, load_pretrained_state
from conftest import REPO


def tiny_split(n: int, seed: int, size: int = 40) -> Split:
    rng = np.random.default_rng(seed)
    classes = rng.integers(0, 3, (n, 14))
    classes[:, 0] = np.arange(n) % 2  # a defined AUC for at least one observation
    return Split(
        array=rng.integers(0, 256, (n, size, size), dtype=np.uint8),
        rows=np.arange(n),
        classes=classes,
        mask=(rng.random((n, 14)) > 0.1).astype(np.float32),
    )


def tiny_config(**kw) -> TrainConfig:
    base = dict(experiment="tiny", seed=0, init="scratch", batch_size=4, epochs=2, crop_size=32, log_every=2,
                checkpoint_every=3, threads=1)  # fmt: skip
    return TrainConfig(**(base | kw))


WEIGHTS = np.ones((14, 3))


def run_tiny(tmp_path: Path, config: TrainConfig, **kw) -> dict:
    return train(config, tiny_split(12, 0), tiny_split(8, 1), WEIGHTS, tmp_path, log=lambda r: None, **kw)


def same_weights(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_same_config_and_seed_give_the_same_weights(tmp_path):
    a = run_tiny(tmp_path / "a", tiny_config())
    b = run_tiny(tmp_path / "b", tiny_config())
    c = run_tiny(tmp_path / "c", tiny_config(seed=1))
    assert same_weights(a["model"].state_dict(), b["model"].state_dict())
    assert not same_weights(a["model"].state_dict(), c["model"].state_dict())
    epochs = [r for r in a["history"] if r["event"] == "epoch"]
    assert [r["epoch"] for r in epochs] == [1, 2] and all(np.isfinite(r["valid_loss"]) for r in epochs)
    assert a["step"] == 6 and a["throughput"]["images"] == 24


def test_resume_in_process_matches_uninterrupted(tmp_path):
    full = run_tiny(tmp_path / "full", tiny_config())
    stopped = run_tiny(tmp_path / "part", tiny_config(), stop_after_steps=4)  # mid-epoch 2, after a checkpoint at 3
    assert stopped == {"stopped": True, "step": 4}
    resumed = run_tiny(tmp_path / "part", tiny_config())
    assert resumed["step"] == 6
    assert same_weights(full["model"].state_dict(), resumed["model"].state_dict())
    # the loss logged every 2 steps spans the checkpoint at step 3: the partial sum is resumed too
    assert resumed["history"] == full["history"]


def test_nan_loss_stops_naming_experiment_and_step(tmp_path):
    with pytest.raises(TrainingDiverged, match=r"experiment 'tiny' seed 0: the loss is nan at step 1"):
        train(tiny_config(), tiny_split(12, 0), tiny_split(8, 1), np.full((14, 3), np.nan), tmp_path,
              log=lambda r: None)  # fmt: skip


def test_scratch_initialization_is_seeded():
    a, b, c = (build_model(tiny_config(seed=s), None).state_dict() for s in (0, 0, 1))
    assert same_weights(a, b) and not same_weights(a, c)


def test_torchvision_weights_from_torch_home(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    torch.manual_seed(3)
    reference = densenet121(weights=None).state_dict()
    cached_file().parent.mkdir(parents=True)
    torch.save(reference, cached_file())
    out = tmp_path / "resources" / "densenet121-imagenet.pth"
    fetch_imagenet_weights(out)
    model = CheXpertNet()
    load_backbone(model, load_pretrained_state(out), str(out))
    torch.testing.assert_close(model.densenet.features.conv0.weight, reference["features.conv0.weight"])


def test_torchvision_weights_offline_without_file_says_what_to_put_where(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))

    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    out = tmp_path / "resources" / "w.pth"
    assert main(["fetch-weights", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "could not download" in err and "densenet121-a639ec97.pth" in err and str(cached_file()) in err
    assert not out.exists()


def test_pretrained_from_another_runs_checkpoint(tmp_path):
    result = run_tiny(tmp_path, tiny_config(epochs=1))
    from chexpertnet.train import save_checkpoint

    save_checkpoint(tmp_path / "model.pt", result["model"], result["optimizer"], tiny_config(epochs=1), 1, 3)
    model = build_model(tiny_config(init="pretrained", seed=5), load_pretrained_state(tmp_path / "model.pt"))
    torch.testing.assert_close(model.densenet.features.conv0.weight, result["model"].densenet.features.conv0.weight)
    rebuilt, checkpoint = load_model(tmp_path / "model.pt")
    assert {"arch", "config", "state_dict", "optimizer", "epoch", "step", "version"} <= set(checkpoint)
    assert same_weights(rebuilt.state_dict(), result["model"].state_dict())
    with pytest.raises(DataError, match="not found"):
        load_pretrained_state(tmp_path / "missing.pt")


def test_synthetic_pretraining_gives_a_loadable_backbone():
    from chexpertnet.pretrain import pretrain_synthetic

    state, summary = pretrain_synthetic(size=32, steps=2, batch_size=4, seed=0, log=lambda r: None)
    model = CheXpertNet()
    load_backbone(model, state, "synthetic")
    torch.testing.assert_close(model.densenet.features.conv0.weight, state["features.conv0.weight"])
    assert summary["chance"] == 0.1 and 0 <= summary["held_out_accuracy"] <= 1


# --- the CLI, killed with SIGKILL mid-epoch and resumed -------------------------------------------------------------
@pytest.fixture
def tiny_inputs(dataset, tmp_path) -> list[str]:
    """Cache and manifests of the hand-made dataset, as `chexpertnet train` arguments."""
    _, csvs = dataset
    out = tmp_path / "in"
    for split in ("train", "valid"):
        assert main(["cache", "--csv", str(csvs[split]), "--size", "72", "--out-array", str(out / f"{split}.npy"),
                     "--out-index", str(out / f"{split}.csv")]) == 0  # fmt: skip
        manifest = str(out / f"m_{split}.csv")
        assert main(["manifest", "--csv", str(csvs[split]), "--views", "both", "--out", manifest]) == 0
    return [
        "--experiment", "tiny", "--seed", "0", "--train-manifest", str(out / "m_train.csv"),
        "--train-weights", str(out / "m_train.weights.csv"), "--valid-manifest", str(out / "m_valid.csv"),
        "--train-cache", str(out / "train.npy"), str(out / "train.csv"),
        "--valid-cache", str(out / "valid.npy"), str(out / "valid.csv"),
        "--init", "scratch", "--normalization", "imagenet", "--crop-size", "64", "--batch-size", "2",
        "--epochs", "3", "--log-every", "1", "--checkpoint-every", "2", "--threads", "1",
    ]  # fmt: skip


def outputs(folder: Path) -> list[str]:
    return ["--state-dir", str(folder / "state"), "--out-model", str(folder / "model.pt"),
            "--out-history", str(folder / "history.jsonl"), "--out-config", str(folder / "config.json"),
            "--out-throughput", str(folder / "throughput.json")]  # fmt: skip


def cli(args: list[str]) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO / "workflow")}
    return subprocess.Popen([sys.executable, "-m", "chexpertnet", "train", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip


def test_sigkill_mid_epoch_then_resume_is_bit_exact(tiny_inputs, tmp_path):
    reference = tmp_path / "reference"
    proc = cli(tiny_inputs + outputs(reference))
    assert proc.wait(timeout=300) == 0, proc.stderr.read()

    killed = tmp_path / "killed"
    proc = cli(tiny_inputs + outputs(killed))
    deadline = time.time() + 300
    while not (killed / "state" / "resume.pt").exists():
        assert proc.poll() is None, f"finished before a checkpoint: {proc.stderr.read()}"
        assert time.time() < deadline
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(timeout=60) == -signal.SIGKILL
    assert not (killed / "model.pt").exists() and not (killed / "history.jsonl").exists()

    proc = cli(tiny_inputs + outputs(killed))
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert '"event": "resumed"' in err and '"step": 2' in err
    a, _ = load_model(reference / "model.pt")
    b, _ = load_model(killed / "model.pt")
    assert same_weights(a.state_dict(), b.state_dict())
    assert (reference / "history.jsonl").read_text() == (killed / "history.jsonl").read_text()


def test_nan_through_the_cli_leaves_no_output(tiny_inputs, tmp_path):
    weights = Path(tiny_inputs[tiny_inputs.index("--train-weights") + 1])
    text = weights.read_text().splitlines()
    header = text[0].split(",")
    rows = [line.split(",") for line in text[1:]]
    for row in rows:
        row[header.index("w_positive")] = "nan"
    weights.write_text("\n".join([",".join(header)] + [",".join(r) for r in rows]) + "\n")
    folder = tmp_path / "nan"
    proc = cli(tiny_inputs + outputs(folder))
    _, err = proc.communicate(timeout=300)
    assert proc.returncode != 0
    assert "experiment 'tiny' seed 0: the loss is nan at step" in err
    assert not [p for p in folder.glob("*") if p.name != "state"]


def test_steps_per_epoch_drops_the_last_partial_batch():
    from chexpertnet.train import steps_per_epoch

    assert steps_per_epoch(33, 16) == 2 and steps_per_epoch(32, 16) == 2 and steps_per_epoch(16, 16) == 1
    with pytest.raises(ValueError, match=r"fewer than one batch of 16: lower train\.batch_size"):
        steps_per_epoch(15, 16)

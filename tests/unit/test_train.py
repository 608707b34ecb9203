"""The training loop: determinism, resume after SIGKILL (bit for bit) of the same job only, NaN, and every
initialization path."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from torchvision.models import densenet121

from chexpertnet.cli import main
from chexpertnet.errors import DataError
from chexpertnet.train.checkpoint import load_model
from chexpertnet.train.faults import PAUSE_ENV
from chexpertnet.train.loop import (
    Split,
    TrainConfig,
    TrainingDiverged,
    build_model,
    settings_fingerprint,
    train,
)
from chexpertnet.train.model import CheXpertNet, load_backbone
from chexpertnet.train.weights import cached_file, fetch_imagenet_weights, load_pretrained_state
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
    assert resumed["throughput"]["start_step"] == 3 and resumed["throughput"]["images"] == 3 * 4
    assert full["throughput"]["start_step"] == 0 and full["throughput"]["images"] == 6 * 4
    assert same_weights(full["model"].state_dict(), resumed["model"].state_dict())
    # the loss logged every 2 steps spans the checkpoint at step 3: the partial sum is resumed too
    assert resumed["history"] == full["history"]
    assert full["history"][0] == {"event": "start", "epoch": 0, "step": 0}


def changed_fingerprint(config: TrainConfig) -> dict:
    return {**settings_fingerprint(config), "file train_manifest": "another manifest"}


@pytest.mark.parametrize(
    ("second", "fingerprint", "reason"),
    [
        (tiny_config(lr=3e-4), None, "setting lr changed"),
        (tiny_config(), changed_fingerprint(tiny_config()), "file train_manifest changed"),
    ],
    ids=["other-setting", "other-input"],
)
def test_a_state_of_another_job_is_removed_and_training_starts_at_step_0(tmp_path, second, fingerprint, reason):
    state = tmp_path / "state"
    run_tiny(state, tiny_config(), stop_after_steps=4)  # killed after its checkpoint at step 3
    assert (state / "resume.pt").exists()
    records = []
    result = train(second, tiny_split(12, 0), tiny_split(8, 1), WEIGHTS, state, log=records.append,
                   fingerprint=fingerprint)  # fmt: skip
    discarded = [r for r in records if r["event"] == "resume_discarded"]
    assert len(discarded) == 1 and reason in discarded[0]["reason"], records
    assert not [r for r in records if r["event"] == "resumed"]
    assert result["throughput"]["start_step"] == 0 and result["throughput"]["images"] == 6 * 4
    fresh = run_tiny(tmp_path / "fresh", second)  # the same job, never interrupted
    assert same_weights(fresh["model"].state_dict(), result["model"].state_dict())


@pytest.fixture(scope="module")
def killed_state(tmp_path_factory) -> bytes:
    """The bytes of a resume state written at step 3 by a run killed at step 4 (tiny_config())."""
    state = tmp_path_factory.mktemp("killed")
    run_tiny(state, tiny_config(), stop_after_steps=4)
    return (state / "resume.pt").read_bytes()


def injected(error: BaseException, monkeypatch, target=(torch, "load")) -> None:
    """The next call of ``target`` (torch.load: reading the state) raises ``error``."""
    original = getattr(*target)

    def fail(*args, **kwargs):
        monkeypatch.setattr(*target, original)
        raise error

    monkeypatch.setattr(*target, fail)


def with_flipped_byte(data: bytes) -> bytes:
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0x01  # inside a tensor's bytes: torch.load itself reads it without complaint
    return bytes(flipped)


CORRUPT = {  # name: (the file's bytes from the killed state's, an error torch.load raises, the reason logged)
    "garbage": (lambda b: b"not a checkpoint", None, "no resume state header"),
    "empty": (lambda b: b"", None, "it is empty"),
    "truncated": (lambda b: b[: len(b) // 2], None, "does not match its header (cut short or damaged)"),
    "header-cut": (lambda b: b[:40], None, "header line is cut short"),
    "flipped-byte": (with_flipped_byte, None, "does not match its header"),
    "older-version": (None, None, "no resume state header"),  # torch.save alone, as versions before the digest
    "unpickling-error": (lambda b: b, pickle.UnpicklingError("invalid load key, 'x'."), "cannot be unpickled: "
                         "UnpicklingError: invalid load key"),
    "eof": (lambda b: b, EOFError("Ran out of input"), "cannot be unpickled: EOFError: Ran out of input"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(CORRUPT))
def test_a_corrupt_state_is_set_aside_as_bad_and_training_starts_at_step_0(tmp_path, killed_state, monkeypatch, case):
    content, error, reason = CORRUPT[case]
    state = tmp_path / "state"
    state.mkdir()
    if content is None:
        done = run_tiny(tmp_path / "old", tiny_config())
        torch.save({"state_dict": done["model"].state_dict(), "epoch": 2, "batch": 0, "step": 6}, state / "resume.pt")
    else:
        (state / "resume.pt").write_bytes(content(killed_state))
    before = (state / "resume.pt").read_bytes()
    if error is not None:
        injected(error, monkeypatch)
    records = []
    result = train(tiny_config(), tiny_split(12, 0), tiny_split(8, 1), WEIGHTS, state, log=records.append)
    [aside] = [r for r in records if r["event"] == "resume_set_aside"]
    assert aside["file"] == str(state / "resume.pt") and aside["moved_to"] == str(state / "resume.pt.bad")
    assert reason in aside["reason"] and "training starts at step 0" in aside["reason"], aside
    assert (state / "resume.pt.bad").read_bytes() == before  # kept, byte for byte, for a person to look at
    assert not [r for r in records if r["event"] in ("resumed", "resume_discarded")]
    assert result["throughput"]["start_step"] == 0 and result["throughput"]["images"] == 6 * 4
    fresh = run_tiny(tmp_path / "fresh", tiny_config())
    assert same_weights(fresh["model"].state_dict(), result["model"].state_dict())


@pytest.mark.parametrize(
    ("error", "target"),
    [
        (torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 MiB"), (torch, "load")),
        (RuntimeError("CUDA error: out of memory"), (torch, "load")),
        (MemoryError(), (torch, "load")),
        (OSError(5, "Input/output error"), (torch, "load")),
        (KeyboardInterrupt(), (torch, "load")),
        # the copy onto the device, after the state was read onto the CPU
        (torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 MiB"), (CheXpertNet, "load_state_dict")),
    ],
    ids=["cuda-oom", "cuda-error", "host-memory", "io-error", "interrupt", "oom-copying-to-device"],
)
def test_any_other_error_reading_the_state_propagates_and_keeps_it_for_the_next_try(tmp_path, killed_state,
                                                                                     monkeypatch, error, target):
    state = tmp_path / "state"
    state.mkdir()
    (state / "resume.pt").write_bytes(killed_state)
    injected(error, monkeypatch, target)
    records = []
    with pytest.raises(type(error)) as raised:
        train(tiny_config(), tiny_split(12, 0), tiny_split(8, 1), WEIGHTS, state, log=records.append)
    assert raised.value is error
    assert (state / "resume.pt").read_bytes() == killed_state, "the state was changed"
    assert sorted(p.name for p in state.iterdir()) == ["resume.pt"], "nothing set aside, nothing else written"
    assert not [r for r in records if r["event"] in ("resume_set_aside", "resume_discarded", "resumed")]
    # the next try (the error gone) resumes from it and ends as an uninterrupted run
    records = []
    resumed = train(tiny_config(), tiny_split(12, 0), tiny_split(8, 1), WEIGHTS, state, log=records.append)
    assert [r["step"] for r in records if r["event"] == "resumed"] == [3]
    full = run_tiny(tmp_path / "full", tiny_config())
    assert same_weights(full["model"].state_dict(), resumed["model"].state_dict())


def test_the_state_is_read_onto_the_cpu(tmp_path, killed_state, monkeypatch):
    from chexpertnet.train import resume

    (tmp_path / "resume.pt").write_bytes(killed_state)
    seen = []
    original = torch.load
    monkeypatch.setattr(torch, "load", lambda *a, **kw: seen.append(kw) or original(*a, **kw))
    saved = resume.ResumeState(tmp_path, settings_fingerprint(tiny_config()), lambda r: None).load()
    assert saved["step"] == 3 and [(kw["map_location"], kw["weights_only"]) for kw in seen] == [("cpu", True)]


def test_clearing_a_finished_jobs_state_keeps_a_state_set_aside(tmp_path):
    from chexpertnet.train.resume import clear_state

    done, aside = tmp_path / "state/e/seed0", tmp_path / "state/e/seed1"
    for folder in (done, aside):
        folder.mkdir(parents=True)
        (folder / "resume.pt").write_bytes(b"x")
    (aside / "resume.pt.bad").write_bytes(b"y")
    clear_state(done)
    assert not done.exists()
    clear_state(aside)
    assert sorted(p.name for p in aside.iterdir()) == ["resume.pt.bad"]


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
    from chexpertnet.train.checkpoint import save_checkpoint

    save_checkpoint(tmp_path / "model.pt", result["model"], result["optimizer"], tiny_config(epochs=1), 1, 3)
    model = build_model(tiny_config(init="pretrained", seed=5), load_pretrained_state(tmp_path / "model.pt"))
    torch.testing.assert_close(model.densenet.features.conv0.weight, result["model"].densenet.features.conv0.weight)
    rebuilt, checkpoint = load_model(tmp_path / "model.pt")
    assert {"arch", "config", "state_dict", "optimizer", "epoch", "step", "version"} <= set(checkpoint)
    assert same_weights(rebuilt.state_dict(), result["model"].state_dict())
    with pytest.raises(DataError, match="not found"):
        load_pretrained_state(tmp_path / "missing.pt")


def test_synthetic_pretraining_gives_a_loadable_backbone():
    from chexpertnet.train.pretrain import pretrain_synthetic

    state, summary = pretrain_synthetic(size=32, steps=2, batch_size=4, seed=0, log=lambda r: None)
    model = CheXpertNet()
    load_backbone(model, state, "synthetic")
    torch.testing.assert_close(model.densenet.features.conv0.weight, state["features.conv0.weight"])
    assert summary["chance"] == 0.1 and 0 <= summary["held_out_accuracy"] <= 1


def test_the_synthetic_task_is_grayscale_like_the_radiographs_and_keeps_its_patterns_visible():
    from chexpertnet.train.synthetic import CLASSES, render

    kinds = set()
    for index in range(40):
        image, kind = render(index, seed=0, size=48)
        kinds.add(kind)
        assert image.shape == (3, 48, 48) and image.dtype == np.uint8
        means = image.reshape(3, -1).mean(axis=1)
        assert means.max() - means.min() < 3  # one gray level on the three channels; only the pixel noise differs
        assert image.std() > 10  # a pattern, not a flat field
    assert len(kinds) >= 8 and max(kinds) < len(CLASSES)


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
            "--out-throughput", str(folder / "throughput.json"), "--out-epochs", str(folder / "epochs.csv"),
            "--out-predictions", str(folder / "predictions.csv")]  # fmt: skip


def cli(args: list[str], pause_at: int | None = None) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO / "workflow")}
    env.pop(PAUSE_ENV, None)
    if pause_at is not None:
        env[PAUSE_ENV] = str(pause_at)
    return subprocess.Popen([sys.executable, "-m", "chexpertnet", "train", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip


def wait_for(path: Path, proc: subprocess.Popen, timeout: float = 300) -> None:
    """Wait until ``path`` exists (the training paused there); fail at once if the process ends first."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert proc.poll() is None, f"ended before {path.name}: {proc.stderr.read()}"
        assert time.monotonic() < deadline, f"no {path.name} within {timeout} s"
        time.sleep(0.05)


def kill_at_step(args: list[str], folder: Path, step: int) -> None:
    """Run the training until it has written its checkpoint at ``step`` and paused, then SIGKILL it."""
    proc = cli(args + outputs(folder), pause_at=step)
    wait_for(folder / "state" / f"paused-at-step{step}", proc)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(timeout=60) == -signal.SIGKILL
    assert not (folder / "model.pt").exists() and not (folder / "history.jsonl").exists()


def records(err: str, event: str) -> list[dict]:
    found = []
    for line in err.splitlines():
        if line.startswith("{") and f'"event": "{event}"' in line:
            found.append(json.loads(line))
    return found


def test_sigkill_mid_epoch_resumes_bit_exact_but_only_the_same_job(tiny_inputs, tmp_path):
    reference = tmp_path / "reference"
    proc = cli(tiny_inputs + outputs(reference))
    assert proc.wait(timeout=300) == 0, proc.stderr.read()
    assert not (reference / "state").exists(), "a finished job keeps no resume state"

    killed = tmp_path / "killed"
    kill_at_step(tiny_inputs, killed, 6)  # 4 steps per epoch: the checkpoint at step 6 is mid-epoch 2
    shutil.copytree(killed, tmp_path / "killed-then-changed")
    proc = cli(tiny_inputs + outputs(killed))
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert [r["step"] for r in records(err, "resumed")] == [6]
    throughput = json.loads((killed / "throughput.json").read_text())
    assert throughput["start_step"] == 6 and throughput["steps"] == 6 and throughput["images"] == 6 * 2
    a, _ = load_model(reference / "model.pt")
    b, _ = load_model(killed / "model.pt")
    assert same_weights(a.state_dict(), b.state_dict())
    assert (reference / "history.jsonl").read_text() == (killed / "history.jsonl").read_text()
    # the validation predictions of every epoch, the ones before the kill included, are those of the reference
    assert (reference / "epochs.csv").read_bytes() == (killed / "epochs.csv").read_bytes()
    assert sorted(pd.read_csv(killed / "epochs.csv")["epoch"].unique()) == [1, 2, 3]
    assert not (killed / "state").exists()

    # the same kill, then other class weights: another job, which must not resume the partial state
    changed = tmp_path / "killed-then-changed"
    weights = Path(tiny_inputs[tiny_inputs.index("--train-weights") + 1])
    table = pd.read_csv(weights)
    table["w_positive"] *= 2
    table.to_csv(weights, index=False)
    proc = cli(tiny_inputs + outputs(changed))
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert not records(err, "resumed")
    [discarded] = records(err, "resume_discarded")
    assert discarded["reason"] == "made by another job: file train_weights changed"
    throughput = json.loads((changed / "throughput.json").read_text())
    assert throughput["start_step"] == 0 and throughput["images"] == 12 * 2
    resolved = json.loads((changed / "config.json").read_text())
    assert resolved["fingerprint"]["file train_weights"] == hashlib.sha256(weights.read_bytes()).hexdigest()


def test_the_trainings_predictions_are_those_of_chexpertnet_predict(tiny_inputs, tmp_path):
    """The training writes the final model's validation predictions (no separate predict job): the same bytes as
    `chexpertnet predict` on the saved model, and the last epoch of the per-epoch table."""
    folder = tmp_path / "run"
    proc = cli(tiny_inputs + outputs(folder))
    assert proc.wait(timeout=300) == 0, proc.stderr.read()
    args = tiny_inputs
    cache = args[args.index("--valid-cache") + 1 : args.index("--valid-cache") + 3]
    assert main(["predict", "--model", str(folder / "model.pt"), "--manifest", args[args.index("--valid-manifest") + 1],
                 "--cache", *cache, "--out", str(tmp_path / "predict.csv")]) == 0  # fmt: skip
    assert (folder / "predictions.csv").read_bytes() == (tmp_path / "predict.csv").read_bytes()
    epochs = pd.read_csv(folder / "epochs.csv")
    last = epochs[epochs["epoch"] == 3].drop(columns="epoch").reset_index(drop=True)
    pd.testing.assert_frame_equal(last, pd.read_csv(folder / "predictions.csv"))
    first = epochs[epochs["epoch"] == 1].drop(columns="epoch").reset_index(drop=True)
    assert not first.iloc[:, 4:].equals(last.iloc[:, 4:])  # the model changed between epochs


def test_frozen_init_trains_only_the_head(tmp_path):
    """init frozen: the pretrained backbone's weights and batch-norm statistics stay as loaded; the head learns."""
    torch.manual_seed(1)
    pretrained = {f"features.{k}": v for k, v in densenet121(weights=None).features.state_dict().items()}
    result = run_tiny(tmp_path, tiny_config(init="frozen", pretrained_file="p.pt"), pretrained_state=pretrained)
    model = result["model"]
    for key, value in model.densenet.features.state_dict().items():
        assert torch.equal(value, pretrained[f"features.{key}"]), key
    initial = build_model(tiny_config(init="frozen"), pretrained)  # the same seeded head before training
    assert not torch.equal(model.densenet.classifier.weight, initial.densenet.classifier.weight)
    assert sum(p.numel() for g in result["optimizer"].param_groups for p in g["params"]) == 1024 * 42 + 42


def test_a_training_on_staged_caches_equals_one_on_the_originals_and_leaves_scratch_empty(tiny_inputs, tmp_path):
    results = {}
    for name, extra in (("in_place", []), ("staged", ["--stage-cache", "1", "--scratch", str(tmp_path / "node")])):
        (tmp_path / "node").mkdir(exist_ok=True)
        proc = cli([*tiny_inputs, "--epochs", "1", *extra, *outputs(tmp_path / name)])
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        results[name] = (load_model(tmp_path / name / "model.pt")[0], err)
    staged = records(results["staged"][1], "staged")
    assert [Path(r["to"]).name for r in staged] == ["train.npy", "valid.npy"]
    assert all(Path(r["to"]).parent.parent == tmp_path / "node" for r in staged)
    assert not records(results["in_place"][1], "staged")
    assert list((tmp_path / "node").iterdir()) == [], "the staged copies are removed"
    assert same_weights(results["in_place"][0].state_dict(), results["staged"][0].state_dict())
    resolved = [json.loads((tmp_path / name / "config.json").read_text()) for name in results]
    assert resolved[0]["fingerprint"] == resolved[1]["fingerprint"], "staging does not change what was trained on"


def test_staging_without_room_reads_the_cache_in_place(tmp_path, monkeypatch, capsys):
    import collections

    import chexpertnet.data.cache as cache_module

    array, index = tmp_path / "c.npy", tmp_path / "c.csv"
    np.save(array, np.zeros((4, 8, 8), dtype=np.uint8))
    index.write_text("row,Path,digest\n")
    Usage = collections.namedtuple("Usage", "total used free")
    monkeypatch.setattr(cache_module.shutil, "disk_usage", lambda _: Usage(10**12, 10**12, 10**6))
    assert cache_module.stage_cache(array, index, tmp_path / "node") is None
    assert "reading the cache in place" in capsys.readouterr().err
    monkeypatch.undo()
    (tmp_path / "node").mkdir()
    copies = cache_module.stage_cache(array, index, tmp_path / "node")
    assert [c.read_bytes() for c in copies] == [array.read_bytes(), index.read_bytes()]


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
    from chexpertnet.train.loop import steps_per_epoch

    assert steps_per_epoch(33, 16) == 2 and steps_per_epoch(32, 16) == 2 and steps_per_epoch(16, 16) == 1
    with pytest.raises(ValueError, match=r"fewer than one batch of 16: lower train\.batch_size"):
        steps_per_epoch(15, 16)


@pytest.mark.parametrize("fast", [True, False])
def test_train_fast_trains_and_predicts_in_channels_last(tmp_path, fast):
    """What README says `train.fast` does, read off the tensors: NHWC convolution weights in training and prediction
    (whatever the CPU's bf16), NCHW without it."""
    from chexpertnet.train.predict import predict_probabilities

    result = run_tiny(tmp_path, tiny_config(epochs=1, fast=fast))
    conv = result["model"].densenet.features.conv0.weight
    assert conv.is_contiguous(memory_format=torch.channels_last) is fast
    model = CheXpertNet()
    split = tiny_split(8, 1)
    predict_probabilities(model, split.array, split.rows, crop=32, fast=fast)
    assert model.densenet.features.conv0.weight.is_contiguous(memory_format=torch.channels_last) is fast


def test_cuda_unavailable_names_the_wheel_the_driver_and_the_fix(monkeypatch):
    from chexpertnet.train.cuda_advice import cuda_unavailable_message

    message = cuda_unavailable_message(built_for="13.0", devices=None)
    assert "built for CUDA 13.0, which needs an NVIDIA driver >= 580.65.06" in message
    assert "download.pytorch.org/whl/cu126" in message and "driver >= 560.28.03" in message
    assert "set train.device: cpu" in message
    assert "no device is visible" in cuda_unavailable_message(built_for="13.0", devices="")
    assert "CPU-only build" in cuda_unavailable_message(built_for="", devices=None)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(RuntimeError, match=r"needs an NVIDIA driver >= "):
        train(tiny_config(device="cuda"), tiny_split(12, 0), tiny_split(8, 1), WEIGHTS, Path("/nonexistent"),
              log=lambda r: None)  # fmt: skip


def test_the_rate_after_warmup_leaves_out_the_first_steps():
    from chexpertnet.train.throughput import WARMUP_STEPS, warm_rates

    # 10 warm-up steps took 30 s (compiling) and 1 s of waiting; then 90 more steps of 16 images in 9 s + 1 s wait
    rates = warm_rates((160, 30.0, 1.0), 1600, 39.0, 2.0)
    assert rates == {"warmup_steps": WARMUP_STEPS, "warmup_seconds": 31.0, "images_per_s_after_warmup": 144.0,
                     "data_wait_fraction_after_warmup": 0.1}  # fmt: skip
    assert warm_rates(None, 64, 3.0, 0.5)["images_per_s_after_warmup"] is None  # fewer steps than the warm-up
    assert warm_rates((160, 30.0, 1.0), 160, 30.01, 1.0)["images_per_s_after_warmup"] is None  # none after it


def test_throughput_reports_the_steady_rate_of_a_longer_run(tmp_path):
    """The rates against the test's own clock: each log record (one per step, then the epoch's) is stamped as it
    arrives. The warm-up runs from the first batch's fetch (after the call, before step 1's record) to its mark
    (after step WARMUP_STEPS - 1's record, before step WARMUP_STEPS's); the steady phase from that mark to the end
    of the epoch's steps (after the last step's record, before the epoch's, which follows the evaluation)."""
    from chexpertnet.train.throughput import WARMUP_STEPS

    stamps: dict[tuple[str, int], float] = {}

    def log(record: dict) -> None:
        stamps[(record.get("event"), record.get("step"))] = time.perf_counter()

    after = 4  # steps of 2 images after the warm-up
    steps = WARMUP_STEPS + after
    start = time.perf_counter()
    result = train(tiny_config(batch_size=2, epochs=1, log_every=1), tiny_split(2 * steps, 0), tiny_split(8, 1),
                   WEIGHTS, tmp_path, log=log)  # fmt: skip
    t = result["throughput"]
    assert t["steps"] == steps and t["images"] == 2 * steps and t["warmup_steps"] == WARMUP_STEPS

    def step(n: int) -> float:
        return stamps[("train", n)]

    epoch_end = stamps[("epoch", steps)]
    rounding = 5e-4  # the seconds are rounded to 3 decimals
    assert step(WARMUP_STEPS - 1) - step(1) - rounding <= t["warmup_seconds"] <= step(WARMUP_STEPS) - start + rounding
    assert step(steps) - step(1) - rounding <= t["seconds"] <= epoch_end - start + rounding
    slowest, fastest = 2 * after / (epoch_end - step(WARMUP_STEPS - 1)), 2 * after / (step(steps) - step(WARMUP_STEPS))
    assert slowest <= t["images_per_s_after_warmup"] <= fastest
    assert 0 <= t["data_wait_fraction_after_warmup"] < 1

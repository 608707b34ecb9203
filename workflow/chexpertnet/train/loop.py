"""The training loop: Adam at a fixed learning rate, the paper's weighted loss, fixed epochs, resumable, deterministic.

Data come from the uint8 image cache. Every random draw is a function of (seed, epoch, batch), so a run resumed
from a checkpoint continues exactly as an uninterrupted one. The model that goes to the tables is the last epoch's:
validation is only logged (learning curves), never used to select a checkpoint.

Resume state (``state_dir/resume.pt``, chexpertnet.train.resume) carries the fingerprint of the job that wrote it
(code, settings, the content of every input: chexpertnet.train.fingerprint) and a digest of its bytes; it is used only
by a job with the same fingerprint, removed otherwise, set aside as ``resume.pt.bad`` when corrupt, and removed once
the job's outputs are written (``clear_state``), so a finished training is never "resumed".

Its throughput is measured by chexpertnet.train.throughput; ``checkpoint_hook`` is called after each checkpoint (the
tests' fault injection, chexpertnet.train.faults, pauses there).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import queue
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from chexpertnet.train.augment import center_crop, crop_flip_gather, crop_flip_numpy, draw_crops
from chexpertnet.train.fingerprint import training_fingerprint
from chexpertnet.train.loss import binary_cross_entropy, positive_probability, weighted_cross_entropy
from chexpertnet.train.model import IMAGENET_MEAN, IMAGENET_STD, CheXpertNet, load_backbone
from chexpertnet.train.numerics import (
    autocast_for,
    derived_seed,
    numeric_path,
    seed_everything,
    use_bf16,
    use_channels_last,
)
from chexpertnet.train.resume import Progress, ResumeState, training_state
from chexpertnet.train.throughput import ThroughputMeter


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite."""


@dataclass(frozen=True)
class TrainConfig:
    experiment: str
    seed: int
    init: str = "pretrained"  # pretrained | scratch | frozen (pretrained backbone frozen, only the head trained)
    pretrained_file: str | None = None  # backbone state dict for init=pretrained or frozen
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    batch_size: int = 16
    epochs: int = 3
    lr: float = 1e-4
    betas: tuple[float, float] = (0.9, 0.999)
    crop_size: int = 320
    hflip: bool = True
    device: str = "cpu"
    fast: bool = True  # bf16 autocast + channels_last where supported
    deterministic: bool = True
    compile: str = "off"  # off | default | reduce-overhead (torch.compile of the model's training forward/backward)
    threads: int = 1
    log_every: int = 20
    checkpoint_every: int = 100
    eval_batch_size: int = 64

    def settings(self) -> dict:
        """The settings that determine the trained weights: not logging or checkpoint frequency, evaluation batch,
        threads, or the pretrained file's path (its content is part of the job's fingerprint)."""
        skip = {"log_every", "checkpoint_every", "eval_batch_size", "threads", "pretrained_file"}
        return {k: v for k, v in dataclasses.asdict(self).items() if k not in skip}


@dataclass
class Split:
    """One split as arrays: the cache, the rows of its images, classes (N, 14) and mask (N, 14)."""

    array: np.ndarray
    rows: np.ndarray
    classes: np.ndarray
    mask: np.ndarray
    paths: list[str] = field(default_factory=list)
    # called with the rows about to be read (the cache's RowCheck: raises on a damaged row); None checks nothing
    check: Callable[[np.ndarray], None] | None = None

    def __len__(self) -> int:
        return len(self.rows)


def autocast_context(config: TrainConfig) -> contextlib.AbstractContextManager:
    return autocast_for(torch.device(config.device).type, config.fast)


def configure_torch(config: TrainConfig) -> torch.device:
    device = torch.device(config.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        from chexpertnet.train.cuda_advice import cuda_unavailable_message

        raise RuntimeError(cuda_unavailable_message())
    torch.set_num_threads(max(1, config.threads))
    if config.deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True)
    torch.backends.cudnn.benchmark = device.type == "cuda" and not config.deterministic
    return device


def build_model(config: TrainConfig, pretrained_state: dict | None) -> CheXpertNet:
    torch.manual_seed(derived_seed(config.seed, 0xC0DE))  # the seeded (scratch) initialization, head included
    model = CheXpertNet(mean=config.mean, std=config.std)
    if config.init in ("pretrained", "frozen"):
        if pretrained_state is None:
            raise ValueError(f"experiment {config.experiment}: init is {config.init!r} but no pretrained weights given")
        load_backbone(model, pretrained_state, config.pretrained_file or "pretrained weights")
    elif config.init != "scratch":
        raise ValueError(f"init {config.init!r} is not 'pretrained', 'scratch' or 'frozen'")
    if config.init == "frozen":
        model.densenet.features.requires_grad_(False)
    return model


COMPILE_MODES = ("off", "default", "reduce-overhead")
COMPILE_BACKEND_ENV = "CHEXPERTNET_COMPILE_BACKEND"  # tests on the CPU: aot_eager (the same graphs, no code generation)


def training_step(
    model: CheXpertNet, config: TrainConfig, class_weights: torch.Tensor
) -> Callable[[torch.Tensor, tuple | None, torch.Tensor, torch.Tensor], torch.Tensor]:
    """One step's work after the host-to-device copy, as one function: the crop/flip gather (GPU path: whole cached
    images arrive with their crop offsets), uint8 to float and normalization (inside the model), the forward under
    autocast and the class-weighted loss; returns the loss, whose backward autograd derives (compiled with it).

    ``train.compile`` ``off``: the function itself. ``default``: torch.compile of the whole step (Inductor fuses the
    gather, the normalization and the loss with the network's element-wise work). ``reduce-overhead``: the same plus
    CUDA graphs, which replay the whole forward and the whole backward with one launch each (at batch 16 an eager
    DenseNet-121 step is bound by ~2,000 kernel launches). Training batches all have the same shape (full batches
    only), so one graph serves every step. Evaluation, checkpoints and CAMs use ``model`` itself (no recompilation
    when the model switches to eval mode, and state dict keys without the ``_orig_mod.`` prefix). The optimizer step
    stays eager (on CUDA fused Adam, a handful of launches), and so does the NaN watch (a few scalar kernels on the
    device, no host sync).
    """
    if config.compile not in COMPILE_MODES:
        raise ValueError(f"train.compile is {config.compile!r}; use one of {', '.join(COMPILE_MODES)}")

    device_type, bf16 = torch.device(config.device).type, use_bf16(torch.device(config.device).type, config.fast)

    def step(images: torch.Tensor, crops: tuple | None, targets: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if crops is not None:
            images = crop_flip_gather(images, *crops, config.crop_size)
        with torch.autocast(device_type=device_type, dtype=torch.bfloat16, enabled=bf16):  # as autocast_context
            logits = model(images)
        return weighted_cross_entropy(logits.float(), targets, mask, class_weights)

    if config.compile == "off":
        return step
    backend = os.environ.get(COMPILE_BACKEND_ENV) or "inductor"
    mode = None if config.compile == "default" else config.compile
    return torch.compile(step, mode=mode, backend=backend, fullgraph=True)


def set_training_mode(model: CheXpertNet, config: TrainConfig) -> None:
    """Training mode, except a frozen backbone: its batch-norm statistics stay the pretrained ones."""
    model.train()
    if config.init == "frozen":
        model.densenet.features.eval()


def steps_per_epoch(n: int, batch_size: int) -> int:
    """Full batches only (the last partial batch of each epoch's permutation is dropped, as timm and torchvision's
    references do): batch-norm statistics of a batch of one image are undefined at small sizes."""
    if n < batch_size:
        raise ValueError(f"{n} training images are fewer than one batch of {batch_size}: lower train.batch_size")
    return n // batch_size


def train_batches(split: Split, config: TrainConfig, epoch: int, start_batch: int) -> Iterator[tuple[int, tuple]]:
    """(batch index, (uint8 images, classes, mask)) of one epoch, from ``start_batch`` on; all draws seeded."""
    n = len(split)
    order = torch.randperm(n, generator=torch.Generator().manual_seed(derived_seed(config.seed, epoch))).numpy()
    _, height, width = split.array.shape
    on_gpu = torch.device(config.device).type == "cuda"
    for b in range(start_batch, steps_per_epoch(n, config.batch_size)):
        index = order[b * config.batch_size : (b + 1) * config.batch_size]
        generator = torch.Generator().manual_seed(derived_seed(config.seed, epoch, b + 1))
        crops = draw_crops(len(index), height, width, config.crop_size, config.hflip, generator)
        rows = split.rows[index]
        if split.check is not None:  # in the loader's thread: first epoch hashes each row once
            split.check(rows)
        if on_gpu:  # whole cached images go to the GPU (pinned), crop and flip happen there
            images = torch.from_numpy(split.array[np.sort(rows)])
            images = images[torch.from_numpy(np.argsort(np.argsort(rows)))].pin_memory()
            payload = (images, crops)
        else:
            payload = (crop_flip_numpy(split.array, rows, *crops, config.crop_size), None)
        yield b, (*payload, torch.from_numpy(split.classes[index]), torch.from_numpy(split.mask[index]))


def prefetch(iterator: Iterator, depth: int = 3) -> Iterator:
    """Run ``iterator`` in a background thread, ``depth`` items ahead (overlaps data handling with the step)."""
    items: queue.Queue = queue.Queue(maxsize=depth)
    done = object()
    failure: list[BaseException] = []
    stop = threading.Event()

    def worker() -> None:
        try:
            for item in iterator:
                if stop.is_set():
                    return
                items.put(item)
        except BaseException as exc:  # re-raised in the consumer
            failure.append(exc)
        finally:
            items.put(done)

    thread = threading.Thread(target=worker, daemon=True)
    thread.start()
    try:
        while (item := items.get()) is not done:
            yield item
        if failure:
            raise failure[0]
    finally:
        stop.set()


class LossWatch:
    """The first step whose loss is not finite, kept on the device (no host sync per step); :meth:`check` raises
    :class:`TrainingDiverged` naming that step and its loss."""

    def __init__(self, config: TrainConfig, epoch_steps: int, device: torch.device):
        self.config, self.epoch_steps = config, epoch_steps
        self.first = torch.zeros((), dtype=torch.long, device=device)
        self.value = torch.zeros((), dtype=torch.float32, device=device)

    def observe(self, loss: torch.Tensor, step: int) -> None:
        new = ~torch.isfinite(loss.detach()) & (self.first == 0)
        self.first = torch.where(new, step, self.first)
        self.value = torch.where(new, loss.detach().float(), self.value)

    def check(self) -> None:
        step = int(self.first)
        if step:
            c = self.config
            raise TrainingDiverged(
                f"experiment {c.experiment!r} seed {c.seed}: the loss is {float(self.value)} at step {step} (epoch "
                f"{(step - 1) // self.epoch_steps + 1}, batch {(step - 1) % self.epoch_steps + 1}). Lower train.lr "
                f"or check the input data; no output was written"
            )


def evaluate(model: CheXpertNet, split: Split, config: TrainConfig, device: torch.device) -> dict:
    """Valid loss (masked 2-way softmax) and every image's P(positive) (``probabilities``, (N, 14) float64 in the
    split's order, as `chexpertnet predict` computes them). No AUC here: the evaluation stage computes AUC by epoch
    from these predictions (valid_epochs.csv), so evaluation code stays out of what the weights depend on."""
    model.eval()
    probabilities, logits_all = [], []
    with torch.no_grad(), autocast_context(config):
        for start in range(0, len(split), config.eval_batch_size):
            rows = split.rows[start : start + config.eval_batch_size]
            if split.check is not None:
                split.check(rows)
            order = np.argsort(rows)
            images = torch.from_numpy(split.array[rows[order]])[torch.from_numpy(np.argsort(order))]
            images = center_crop(images, config.crop_size).to(device, non_blocking=True)
            logits = model(images).float()
            logits_all.append(logits.cpu())
            probabilities.append(positive_probability(logits).double().cpu())  # as `chexpertnet predict`
    set_training_mode(model, config)
    logits = torch.cat(logits_all)
    # Validation labels are 0/1; entries that are masked or uncertain (possible in a custom manifest) are skipped.
    use = (split.mask > 0) & (split.classes < 2)
    binary = torch.from_numpy(use)
    loss = float(binary_cross_entropy(logits[binary], torch.from_numpy(split.classes)[binary]))
    return {"valid_loss": loss, "probabilities": torch.cat(probabilities).numpy()}


def settings_fingerprint(config: TrainConfig) -> dict:
    """The fingerprint of an in-process training whose inputs are given as arrays (tests, benchmarks): its settings
    and numeric path. `chexpertnet train` adds the code and the content of every input file."""
    environment = {"numeric_path": numeric_path(torch.device(config.device).type, config.fast)}
    return training_fingerprint(config.settings(), environment)


def prepare(config: TrainConfig, pretrained_state: dict | None, weights: np.ndarray, device: torch.device,
            log: Callable[[dict], None]) -> tuple[CheXpertNet, torch.optim.Optimizer, Callable, bool]:  # fmt: skip
    """The model on its device in its memory layout and training mode, its optimizer, the (compiled) training step,
    and whether that step runs as CUDA graphs."""
    seed_everything(config.seed)
    model = build_model(config, pretrained_state)
    if use_channels_last(device.type, config.fast):
        model.to_channels_last()
    model.to(device)
    set_training_mode(model, config)
    class_weights = torch.as_tensor(weights, dtype=torch.float32, device=device)
    step_loss = training_step(model, config, class_weights)
    graphs = config.compile == "reduce-overhead" and device.type == "cuda"
    log({"event": "compile", "mode": config.compile, "cuda_graphs": graphs})
    trained = [p for p in model.parameters() if p.requires_grad]
    # fused Adam on GPUs: one kernel for every parameter instead of several per tensor (measured 1.10x per step at
    # batch 16 on an H200, docs/benchmarks.md); the CPU keeps the reference implementation
    optimizer = torch.optim.Adam(trained, lr=config.lr, betas=tuple(config.betas), fused=device.type == "cuda")
    return model, optimizer, step_loss, graphs


def resume(state: ResumeState, model: CheXpertNet, optimizer: torch.optim.Optimizer,
           log: Callable[[dict], None]) -> Progress:  # fmt: skip
    """The saved progress of this job, loaded into the model and the optimizer; a fresh start if there is none."""
    saved = state.load()  # on the CPU; the model and the optimizer copy it to the device
    if saved is None:
        return Progress()
    model.load_state_dict(saved["state_dict"])
    optimizer.load_state_dict(saved["optimizer"])
    progress = Progress.from_state(saved)
    log({"event": "resumed", "file": str(state.file), "epoch": progress.epoch, "batch": progress.batch,
         "step": progress.step})  # fmt: skip
    return progress


def train(
    config: TrainConfig,
    train_split: Split,
    valid_split: Split,
    weights: np.ndarray,
    state_dir: Path,
    pretrained_state: dict | None = None,
    log: Callable[[dict], None] = lambda record: print(json.dumps(record), file=sys.stderr),
    stop_after_steps: int | None = None,
    fingerprint: dict | None = None,
    checkpoint_hook: Callable[[int], None] | None = None,
) -> dict:
    """Train; return {"model", "optimizer", "history", "throughput", "epoch", "step", "epoch_probabilities"}.

    ``state_dir/resume.pt`` is written every ``checkpoint_every`` steps and at each epoch's end, with ``fingerprint``
    (by default ``settings_fingerprint(config)``); if it exists with the same fingerprint, training resumes from it;
    another job's state is removed, a corrupt one set aside as ``resume.pt.bad``, and training starts from step 0;
    any other error reading it propagates, the state kept (chexpertnet.train.resume). ``checkpoint_hook(step)`` runs
    after each checkpoint is written. ``stop_after_steps`` (tests, benchmarks) stops early after that many optimizer
    steps, as a kill would, without writing final outputs.
    """
    device = configure_torch(config)
    # bf16 only where the hardware has it natively (GPUs from compute capability 8.0, CPUs with AVX-512 bf16 or AMX)
    log({"event": "numerics", "device": str(device), "numeric_path": numeric_path(device.type, config.fast)})
    model, optimizer, step_loss, graphs = prepare(config, pretrained_state, weights, device, log)
    fingerprint = settings_fingerprint(config) if fingerprint is None else fingerprint
    state = ResumeState(Path(state_dir), fingerprint, log)
    at = resume(state, model, optimizer, log)
    start_step = at.step

    def checkpoint() -> None:
        state.save(training_state(model, optimizer, config, at.epoch, at.step, fingerprint=fingerprint,
                                  **at.state_fields()))  # fmt: skip
        if checkpoint_hook is not None:
            checkpoint_hook(at.step)

    epoch_steps = steps_per_epoch(len(train_split), config.batch_size)
    watch = LossWatch(config, epoch_steps, device)
    meter = ThroughputMeter(device)
    progress = tqdm(total=epoch_steps * config.epochs, initial=at.epoch * epoch_steps + at.batch, file=sys.stderr,
                    desc=f"train {config.experiment} seed {config.seed}", mininterval=10, unit="step")  # fmt: skip
    with progress:
        while at.epoch < config.epochs:
            meter.start()
            for b, (images, crops, targets, mask) in prefetch(train_batches(train_split, config, at.epoch, at.batch)):
                meter.batch_ready()
                loss = run_step(step_loss, optimizer, device, graphs, images, crops, targets, mask)
                # no host sync per step: the first non-finite loss is remembered on the device and checked (one
                # sync) before every log record, checkpoint and evaluation, so nothing is written after it
                watch.observe(loss, at.step + 1)
                at.step, at.batch = at.step + 1, b + 1
                at.running = at.running + loss.detach()
                meter.stepped(len(targets))
                progress.update(1)
                if at.step % config.log_every == 0:
                    watch.check()
                    record = {"event": "train", "epoch": at.epoch + 1, "step": at.step,
                              "loss": float(at.running) / config.log_every}  # fmt: skip
                    at.history.append(record)
                    log(record)
                    at.running = 0.0
                if at.step % config.checkpoint_every == 0 and at.batch < epoch_steps:
                    watch.check()
                    checkpoint()
                if stop_after_steps is not None and meter.steps >= stop_after_steps:
                    return {"stopped": True, "step": at.step}
                meter.resume()
            watch.check()
            meter.epoch_end()
            metrics = evaluate(model, valid_split, config, device)
            at.epoch_probabilities.append(metrics.pop("probabilities"))
            at.epoch, at.batch = at.epoch + 1, 0
            record = {"event": "epoch", "epoch": at.epoch, "step": at.step, **metrics}
            at.history.append(record)
            log(record)
            checkpoint()
    throughput = {
        "start_step": start_step,  # 0 unless this process resumed a killed run of the same job
        "steps": at.step - start_step,
        **meter.summary(),
        "device": str(device),
        "numeric_path": numeric_path(device.type, config.fast),
        "compile": config.compile,
        "threads": config.threads,
    }
    return {"model": model, "optimizer": optimizer, "history": at.history, "throughput": throughput,
            "epoch": at.epoch, "step": at.step, "epoch_probabilities": at.epoch_probabilities}  # fmt: skip


def run_step(step_loss: Callable, optimizer: torch.optim.Optimizer, device: torch.device, graphs: bool,
             images: torch.Tensor, crops: tuple | None, targets: torch.Tensor,
             mask: torch.Tensor) -> torch.Tensor:  # fmt: skip
    """One optimizer step on one batch (moved to the device); the batch's loss, still on the device."""
    images = images.to(device, non_blocking=True)
    if crops is not None:
        crops = tuple(c.to(device, non_blocking=True) for c in crops)
    targets, mask = targets.to(device, non_blocking=True), mask.to(device, non_blocking=True)
    if graphs:  # a new iteration: the previous step's graph outputs may be overwritten
        torch.compiler.cudagraph_mark_step_begin()
    loss = step_loss(images, crops, targets, mask)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss

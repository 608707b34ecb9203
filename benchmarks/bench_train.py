"""Benchmark: training throughput of our loop against the model step alone and against the textbook loop.

Measured in one run, same machine, same thread count, batch 16, Adam, the paper's loss:
  model step alone:  forward + loss + backward + Adam on one batch already in memory (bf16 autocast and
                     channels_last where supported): the ceiling for any loop;
  ours:              chexpertnet.train.loop.train(): batches from the uint8 cache (crop + flip), prefetched in a thread,
                     the same step;
  textbook:          per batch, PIL decode of each JPEG, Resize, RandomCrop, RandomHorizontalFlip, ToTensor,
                     Normalize (torchvision transforms), fp32, NCHW.
At the default demo size (cache 128, crop 112) and at the paper's (cache 364, crop 320).

    .venv/bin/python benchmarks/bench_train.py [--steps 12] [--threads 2]
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torchvision import transforms

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow"))

from chexpertnet.train.loop import Split, TrainConfig, train
from chexpertnet.train.loss import weighted_cross_entropy
from chexpertnet.train.model import IMAGENET_MEAN, IMAGENET_STD, CheXpertNet
from chexpertnet.train.numerics import numeric_path, use_bf16

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_cpu import train_step_rate  # the model step alone, as the microbenchmark measures it

BATCH = 16


def our_loop(cache: int, crop: int, steps: int, threads: int) -> float:
    n = BATCH * (steps + 1)
    rng = np.random.default_rng(0)
    split = Split(array=rng.integers(0, 256, (n, cache, cache), dtype=np.uint8), rows=np.arange(n),
                  classes=rng.integers(0, 3, (n, 14)), mask=np.ones((n, 14), np.float32))  # fmt: skip
    config = TrainConfig(experiment="bench", seed=0, init="scratch", crop_size=crop, threads=threads,
                         deterministic=False, checkpoint_every=10**9, log_every=10**9)  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        # one warm-up step, then time `steps` steps (the same split, so the same work per step)
        train(config, split, split, np.ones((14, 3)), Path(tmp) / "w", log=lambda r: None, stop_after_steps=1)
        start = time.perf_counter()
        train(config, split, split, np.ones((14, 3)), Path(tmp) / "t", log=lambda r: None, stop_after_steps=steps + 1)
        seconds = time.perf_counter() - start
        # subtract model construction (measured on its own) so only the steps count
        build = time.perf_counter()
        CheXpertNet()
        build = time.perf_counter() - build
    return (steps + 1) * BATCH / (seconds - build)


def textbook_loop(cache: int, crop: int, steps: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        rng = np.random.default_rng(0)
        files = []
        for i in range(BATCH * 2):
            y, x = np.mgrid[0:390, 0:320]
            img = 120 + 60 * np.sin(x / 40.0 + i) * np.cos(y / 60.0) + rng.normal(0, 6, (390, 320))
            files.append(Path(tmp) / f"{i}.jpg")
            Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), "L").save(files[-1], quality=90)
        tf = transforms.Compose([
            transforms.Resize((cache, cache)), transforms.RandomCrop(crop), transforms.RandomHorizontalFlip(),
            transforms.ToTensor(), transforms.Normalize(IMAGENET_MEAN[:1], IMAGENET_STD[:1]),
        ])  # fmt: skip
        torch.manual_seed(0)
        model = CheXpertNet()
        net = model.densenet
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
        targets, mask, weights = torch.randint(0, 3, (BATCH, 14)), torch.ones(BATCH, 14), torch.ones(14, 3)

        def step(b: int) -> None:
            batch = []
            for f in files[(b % 2) * BATCH : (b % 2 + 1) * BATCH]:
                with Image.open(f) as img:
                    batch.append(tf(img.convert("L")))
            x = torch.stack(batch).expand(-1, 3, -1, -1)
            logits = net(x).view(-1, 14, 3)
            loss = weighted_cross_entropy(logits, targets, mask, weights)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()

        step(0)
        start = time.perf_counter()
        for b in range(steps):
            step(b)
        return steps * BATCH / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--sizes", default="128:112,364:320", help="cache:crop pairs")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    fast = use_bf16("cpu", True)
    print(f"# bench_train: {platform.machine()}, {args.threads} threads, torch {torch.__version__}, "
          f"{numeric_path('cpu', True)}, batch {BATCH}, {args.steps} timed steps")  # fmt: skip
    print("| cache/crop | model step alone | ours | ours / step alone | textbook (PIL, fp32, NCHW) | ours / textbook |")
    print("|---|---:|---:|---:|---:|---:|")
    for pair in args.sizes.split(","):
        cache, crop = (int(v) for v in pair.split(":"))
        # the step as the workflow runs it with train.fast: channels_last, bf16 autocast where native
        alone = train_step_rate(crop, args.threads, "channels_last", fast, args.steps)
        ours = our_loop(cache, crop, args.steps, args.threads)
        textbook = textbook_loop(cache, crop, max(3, args.steps // 3))
        print(f"| {cache}/{crop} | {alone:.1f} img/s | {ours:.1f} img/s | {ours / alone:.3f} | {textbook:.1f} img/s "
              f"| {ours / textbook:.2f}x |", flush=True)


if __name__ == "__main__":
    main()

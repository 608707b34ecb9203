"""Benchmark: one training epoch read from the image cache vs the usual per-epoch JPEG path.

Measured in one run, on the same images, one core each (torch and PIL single-threaded):
  baseline ("textbook"): PIL open + decode, resize to 364x364, RandomCrop(320), RandomHorizontalFlip, ToTensor,
                         per image, every epoch (torchvision transforms);
  cache:                 uint8 batches of 16 from the memory-mapped cache, vectorised random crop + flip, to a
                         float tensor in [0, 1];
plus the one-off cost of building the cache (decode with JPEG draft mode, resize, store).
On 390x320 JPEGs (CheXpert-v1.0-small) and 2320x2828 JPEGs (full-resolution CheXpert-v1.0).

    .venv/bin/python benchmarks/bench_cache.py [--small 320] [--large 32]
"""

from __future__ import annotations

import argparse
import os
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

from chexpertnet.data.cache import build_cache, open_cache
from chexpertnet.train.augment import crop_flip_numpy, draw_crops

CACHE, CROP, BATCH = 364, 320, 16


def radiograph_like(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """Smooth structure plus noise, so JPEG sizes and decode costs are like real radiographs'."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    img = 110 + 60 * np.sin(x / w * 6 + rng.uniform(0, 6)) * np.cos(y / h * 4) + 40 * np.sin(y / 9.0) * (x > w / 2)
    img += rng.normal(0, 6, (h, w))
    return np.clip(img, 0, 255).astype(np.uint8)


def write_jpegs(folder: Path, n: int, h: int, w: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    base = [radiograph_like(h, w, rng) for _ in range(4)]
    paths = []
    for i in range(n):
        path = f"img{i:05d}.jpg"
        noisy = np.clip(base[i % 4].astype(np.int16) + rng.integers(-3, 4, (h, w)), 0, 255).astype(np.uint8)
        Image.fromarray(noisy, "L").save(folder / path, quality=90)
        paths.append(path)
    return paths


def textbook_epoch(folder: Path, paths: list[str]) -> float:
    tf = transforms.Compose(
        [transforms.Resize((CACHE, CACHE)), transforms.RandomCrop(CROP), transforms.RandomHorizontalFlip(),
         transforms.ToTensor()]
    )  # fmt: skip
    start = time.perf_counter()
    for i in range(0, len(paths), BATCH):
        batch = []
        for path in paths[i : i + BATCH]:
            with Image.open(folder / path) as img:
                batch.append(tf(img.convert("L")))
        torch.stack(batch)
    return time.perf_counter() - start


def cache_epoch(array: np.ndarray, generator: torch.Generator, to_float: bool = True) -> float:
    start = time.perf_counter()
    order = torch.randperm(len(array), generator=generator).numpy()
    _, h, w = array.shape
    for i in range(0, len(order), BATCH):
        rows = order[i : i + BATCH]
        batch = crop_flip_numpy(array, rows, *draw_crops(len(rows), h, w, CROP, True, generator), CROP)
        if to_float:
            batch.float().div_(255.0)
    return time.perf_counter() - start


def measure(label: str, n: int, h: int, w: int, epochs: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        paths = write_jpegs(folder, n, h, w, seed=n)
        textbook = min(textbook_epoch(folder, paths) for _ in range(2))
        build = {}
        for threads in (1, 2):
            start = time.perf_counter()
            build_cache(folder, paths, CACHE, folder / f"c{threads}.npy", folder / f"c{threads}.csv",
                        threads=threads, progress=False)  # fmt: skip
            build[threads] = time.perf_counter() - start
        array, _, _ = open_cache(folder / "c1.npy", folder / "c1.csv")
        generator = torch.Generator().manual_seed(0)
        cache_epoch(array, generator)  # page cache warm, as in every epoch after the first
        cached = min(cache_epoch(array, generator) for _ in range(epochs))
        cached_uint8 = min(cache_epoch(array, generator, to_float=False) for _ in range(epochs))
    result = {
        "label": label,
        "n": n,
        "textbook_ips": n / textbook,
        "cache_ips": n / cached,
        "ratio": textbook / cached,
        "cache_uint8_ips": n / cached_uint8,
        "build_ips_1": n / build[1],
        "build_ips_2": n / build[2],
        "break_even_epochs": build[1] / max(textbook - cached, 1e-9),
    }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=320, help="number of 390x320 JPEGs")
    parser.add_argument("--large", type=int, default=32, help="number of 2320x2828 JPEGs")
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    cpu = platform.processor() or platform.machine()
    print(f"# bench_cache: {cpu}, {os.cpu_count()} cores, torch {torch.__version__}, one thread per path")
    rows = [
        measure("390x320 JPEG (CheXpert-v1.0-small)", args.small, 390, 320, args.epochs),
        measure("2320x2828 JPEG (CheXpert-v1.0)", args.large, 2828, 2320, args.epochs),
    ]
    print("| images | n | textbook epoch img/s | cache epoch img/s | ratio (baseline: textbook) "
          "| cache epoch, uint8 batches img/s | cache build img/s, 1 thread | 2 threads | break-even epochs |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['label']} | {r['n']} | {r['textbook_ips']:.0f} | {r['cache_ips']:.0f} | {r['ratio']:.1f}x "
              f"| {r['cache_uint8_ips']:.0f} | {r['build_ips_1']:.0f} | {r['build_ips_2']:.0f} "
              f"| {r['break_even_epochs']:.2f} |")


if __name__ == "__main__":
    main()

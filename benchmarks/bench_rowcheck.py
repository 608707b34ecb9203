"""Benchmark: what checking every cache row against its digest costs a training (the first epoch hashes each row
once, in the loader's thread; later epochs only look up a flag).

Measured in one run, one core, on the same rows of a memory-mapped 364x364 cache (the paper's size):
  baseline: reading a batch as the CPU loader does (random 320 px crops + flips of 16 rows, `crop_flip_numpy`);
  check:    the RowCheck of those rows on their first read (BLAKE2b of each whole row);
  recheck:  the same rows again (a later epoch).
Prints the per-image times, their ratio to the baseline and what the check adds to one epoch of CheXpert's
223,414 training images, against that epoch at a GPU's measured training rate.

    .venv/bin/python benchmarks/bench_rowcheck.py [--rows 2000]
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow"))
from chexpertnet.data.cache import RowCheck, row_digest
from chexpertnet.train.augment import crop_flip_numpy, draw_crops

CHEXPERT_TRAIN_IMAGES = 223_414
GPU_IMAGES_PER_S = 935.1  # chexpertnet train, compiled, 364/320 px, batch 16, H200 (docs/benchmarks.md)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", type=int, default=2000)
    p.add_argument("--size", type=int, default=364)
    p.add_argument("--crop", type=int, default=320)
    a = p.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as folder:
        file = Path(folder) / "c.npy"
        rng = np.random.default_rng(0)
        np.save(file, rng.integers(0, 256, (a.rows, a.size, a.size), dtype=np.uint8))
        array = np.load(file, mmap_mode="r")
        index = pd.DataFrame({"row": range(a.rows), "Path": [f"img{i}" for i in range(a.rows)],
                              "digest": [row_digest(array[i]) for i in range(a.rows)]})  # fmt: skip
        batches = np.array_split(rng.permutation(a.rows), a.rows // 16)
        crops = [draw_crops(len(b), a.size, a.size, a.crop, True, torch.Generator().manual_seed(i))
                 for i, b in enumerate(batches)]  # fmt: skip
        array[:].sum()  # page cache warm: all three read from memory
        start = time.perf_counter()
        for b, c in zip(batches, crops, strict=True):
            crop_flip_numpy(array, b, *c, a.crop)
        read = (time.perf_counter() - start) / a.rows
        check = RowCheck(array, index, file, "index.csv")
        start = time.perf_counter()
        for b in batches:
            check(b)
        first = (time.perf_counter() - start) / a.rows
        start = time.perf_counter()
        for b in batches:
            check(b)
        again = (time.perf_counter() - start) / a.rows
    epoch = CHEXPERT_TRAIN_IMAGES / GPU_IMAGES_PER_S
    print(f"machine: {platform.processor() or platform.machine()}, one core; {a.rows} rows of {a.size}x{a.size}")
    print(f"baseline, reading a batch (crop + flip):  {read * 1e6:8.1f} us/image")
    print(f"check, first read (BLAKE2b of the row):    {first * 1e6:8.1f} us/image  ({first / read:.2f}x the baseline)")
    print(f"check, later epochs:                       {again * 1e6:8.2f} us/image  ({again / read:.3f}x the baseline)")
    added = first * CHEXPERT_TRAIN_IMAGES
    print(f"one CheXpert epoch ({CHEXPERT_TRAIN_IMAGES:,} images): the check adds {added:.0f} s "
          f"of loader-thread time to the first epoch; the epoch itself takes {epoch:.0f} s at {GPU_IMAGES_PER_S} "
          f"images/s, so a loader thread that keeps up needs {(read + first) * GPU_IMAGES_PER_S:.2f} of a core")


if __name__ == "__main__":
    main()

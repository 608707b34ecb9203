"""Cluster requests: each job's memory and wall time, from the sizes of its inputs.

Memory follows the sizes of a job's input files, a training's wall time its number of images. In a dry run, input
files not made yet count with the size they will have: an image cache exactly (rows of its split's CSV x
image.cache_size squared, plus its 128-byte header), a cache's histograms as rows x 1 KB, a per-image table (cache
index, manifest, the validated view's CSV) as its split's CSV. Which file is which is read from the results layout
(chexpertnet.plan.layout), the same templates the rules write them by. Without the CSVs (the phantom before it is
generated) a request cannot be known yet: :class:`NotYetKnown`, which Snakemake shows as <TBD> and computes again
once a job's inputs exist.

Standard library only: Snakemake imports this module while it builds the DAG.
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from chexpertnet.plan.layout import Layout

MB = 1 << 20
NPY_HEADER_BYTES = 128
HISTOGRAM_ROW_BYTES = 256 * 4
# Memory of the cache and statistics jobs: a fixed part (the cache's two 64 MB windows, decoding threads, Python)
# plus what the per-image tables they read take in pandas, per MB of CSV. Measured at 223,414 images
# (docs/benchmarks.md): cache 290 MB, stats 240 MB; these requests are about 4x that.
CACHE_MEM_BASE_MB = 1000
STATS_MEM_BASE_MB = 1000
TABLE_MEM_PER_CSV_MB = 4
# A training's memory: all of its inputs, so that the page cache holds the image cache whole after the first epoch
# (cluster memory limits count it), plus the model, optimizer, batches, CUDA's host memory and the manifests.
TRAIN_MEM_MARGIN_MB = 8000
# A training's wall time (the cluster's runtime request): its images x its own epochs at the measured rate, times a
# safety factor, plus 30 minutes (start, cache reads, evaluation); at least an hour, at most 23 hours (a training
# that runs out of time resumes from its last checkpoint when it is run again). Measured rates (docs/benchmarks.md):
# 243.8 images/s on an H200 at 320 px, batch 16, bf16, eager (the compiled step is faster, but pays minutes of
# compilation and may be off); 3.7 images/s per CPU thread at 320 px (7.4 on 2 cores). The safety factor covers a
# slower GPU (an H100, an A100), a busy node and shared file systems.
TRAIN_IMAGES_PER_S_GPU = 243.8
TRAIN_IMAGES_PER_S_CPU_THREAD_AT_320PX = 3.7
RUNTIME_SAFETY = 2.0
MIN_RUNTIME_MIN = 60
MAX_RUNTIME_MIN = 23 * 60
# A training on a GPU keeps two CPU threads busy: its loop (kernel launches) and the thread that prefetches batches
# from the cache; on the CPU, train.threads compute threads besides.
TRAINING_THREADS_ON_GPU = 2
# The splits whose planned files are sized from their CSV (the test split's labels file lists studies, not images)
SIZED_SPLITS = ("train", "valid")


class NotYetKnown(FileNotFoundError):
    """A request that depends on a file not made yet (the phantom's CSVs before it is generated)."""


@functools.cache
def csv_rows(csv: str) -> int:
    """Data rows of a CSV: its lines but the header (CheXpert's cells hold no line breaks)."""
    lines = 0
    with open(csv, "rb") as f:
        for block in iter(functools.partial(f.read, 1 << 20), b""):
            lines += block.count(b"\n")
    return lines - 1


def train_threads(train: dict) -> int:
    """CPU threads of a training job (train: the config's train section)."""
    return TRAINING_THREADS_ON_GPU if train["device"] == "cuda" else train["threads"]


@dataclass(frozen=True)
class Requests:
    """The requests of one run. ``split_rows`` and ``split_csv_mb`` give a split's images and its CSV's size (the
    published ones in a plan before the data)."""

    layout: Layout
    cache_size: int
    crop_size: int
    train: dict
    split_rows: Callable[[str], int]
    split_csv_mb: Callable[[str], float]

    def planned_mb(self, file: str | os.PathLike) -> float:
        """The size in MB that ``file``, an input not made yet, will have; 0 for small files."""
        file = str(file)
        cache = self.layout.match("cache", file)
        if cache and cache["split"] in SIZED_SPLITS:
            rows = self.split_rows(cache["split"])
            if cache["suffix"] == ".npy":
                return (NPY_HEADER_BYTES + rows * self.cache_size**2) / MB
            if cache["suffix"] == ".histograms.npy":
                return (NPY_HEADER_BYTES + rows * HISTOGRAM_ROW_BYTES) / MB
            if cache["suffix"] == ".index.csv":
                return self.split_csv_mb(cache["split"])
            return 0.0
        for kind in ("manifest", "view_csv"):
            found = self.layout.match(kind, file)
            if found and found["split"] in SIZED_SPLITS and found.get("suffix", ".csv") == ".csv":
                return self.split_csv_mb(found["split"])
        return 0.0

    def input_mb(self, files: Iterable[str]) -> float:
        """MB of input files, those not made yet as :meth:`planned_mb` says."""
        return sum(os.path.getsize(f) / MB if os.path.exists(f) else self.planned_mb(f) for f in files)

    def cache_mem_mb(self, csv: str) -> int:
        return math.ceil(CACHE_MEM_BASE_MB + TABLE_MEM_PER_CSV_MB * self.input_mb([csv]))

    def stats_mem_mb(self, index: str, manifest: str) -> int:
        return math.ceil(STATS_MEM_BASE_MB + TABLE_MEM_PER_CSV_MB * self.input_mb([index, manifest]))

    def train_mem_mb(self, inputs: Iterable[str]) -> int:
        """All of a training's input files plus the margin."""
        return math.ceil(self.input_mb(inputs) + TRAIN_MEM_MARGIN_MB)

    def train_runtime_min(self, epochs: int, train_manifest: str) -> int:
        """Wall time of a training of ``epochs`` epochs on the images of ``train_manifest`` (before it exists: the
        train CSV's, which every view variant keeps)."""
        images = csv_rows(train_manifest) if os.path.exists(train_manifest) else self.split_rows("train")
        scale = (320 / self.crop_size) ** 2  # the rate goes with the pixels per image
        if self.train["device"] == "cuda":
            rate = TRAIN_IMAGES_PER_S_GPU * scale
        else:
            rate = TRAIN_IMAGES_PER_S_CPU_THREAD_AT_320PX * train_threads(self.train) * scale
        minutes = 30 + RUNTIME_SAFETY * images * epochs / rate / 60
        return min(MAX_RUNTIME_MIN, max(MIN_RUNTIME_MIN, math.ceil(minutes)))

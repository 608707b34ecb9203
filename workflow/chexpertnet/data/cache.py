"""Image cache: every image of a split decoded once, resized to size x size, stored as one uint8 array.

The array is a ``.npy`` file (memory-mapped on read) and an index CSV maps each Path to its row and the digest of
that row's pixels (BLAKE2b, computed as the row is written), so the index alone identifies the whole array's content:
the training's resume fingerprint hashes the index, not the array. Beside them, ``<split>.histograms.npy`` holds each
row's 256-bin histogram, from which the dataset statistics of every view variant follow without reading the array
again. Training and evaluation read only the cache, never the image files.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd
from PIL import Image
from tqdm import tqdm

from chexpertnet.data.images import open_gray
from chexpertnet.data.stats import BINS
from chexpertnet.errors import DataError
from chexpertnet.fileio import atomic_path, write_csv

RESAMPLE = Image.Resampling.BILINEAR


def row_digest(row: np.ndarray) -> str:
    """Content digest of one cached image (128-bit BLAKE2b of its bytes; hashlib releases the GIL, so the decoding
    threads compute it in parallel)."""
    return hashlib.blake2b(np.ascontiguousarray(row).data, digest_size=16).hexdigest()


def load_resized(file: str | os.PathLike, size: int) -> np.ndarray:
    """Decode one image as 8-bit grayscale (JPEG, PNG of any bit depth, DICOM: the rule of chexpertnet.data.images)
    and resize it to (size, size), as the paper (no aspect preservation).

    JPEG draft mode lets libjpeg decode at 1/2, 1/4 or 1/8 scale directly when the image is at least twice the
    target, so full-resolution CheXpert (2,000+ px) costs about as much as the small version.
    """
    img = open_gray(file, draft=(size, size))
    if img.size != (size, size):
        img = img.resize((size, size), RESAMPLE)
    return np.asarray(img, dtype=np.uint8)


# Pixels decoded per window of the cache build (two windows are in memory: one decoding, one being written).
WINDOW_BYTES = 64 << 20
HISTOGRAM_DTYPE = np.dtype("<i4")  # per-row 256-bin histograms: up to 2**31 pixels per image


def histogram_file(array_file: str | os.PathLike) -> Path:
    """The per-row histograms written beside a cache array: <split>.npy -> <split>.histograms.npy."""
    return Path(array_file).with_suffix(".histograms.npy")


def write_npy_header(f: BinaryIO, shape: tuple[int, ...], dtype: np.dtype) -> None:
    """The header that np.save and np.load use (format 1.0), so the rows that follow form a standard .npy file."""
    header = {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": False, "shape": shape}
    np.lib.format.write_array_header_1_0(f, header)


def release_written(f: BinaryIO) -> None:
    """Flush what was written to disk and drop it from the page cache, so a file of tens of GB written by one job
    neither stays in this job's memory nor evicts everyone else's cached files."""
    f.flush()
    os.fdatasync(f.fileno())
    if hasattr(os, "posix_fadvise"):
        os.posix_fadvise(f.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)


def build_cache(
    root: str | os.PathLike,
    paths: Sequence[str],
    size: int,
    out_array: str | os.PathLike,
    out_index: str | os.PathLike,
    threads: int = 1,
    progress: bool = True,
    out_histograms: str | os.PathLike | None = None,
    window_bytes: int = WINDOW_BYTES,
) -> None:
    """Decode ``paths`` (relative to ``root``) into ``out_array`` (N, size, size) uint8 and write the index.

    Threads decode in parallel (PIL releases the GIL while decoding and resizing) into windows of rows of at most
    ``window_bytes`` each; while they decode the next window, the finished one is appended to the temporary .npy
    file with plain writes, flushed to disk and dropped from the page cache. Memory therefore stays at two windows
    whatever the number of images or threads (a memory map of the output would keep every written
    page resident: 18 GB for CheXpert at 364 px). The file is renamed into place only when every image is in.
    Each row's digest goes to the index; with ``out_histograms``, each row's 256-bin histogram (int32, N x 256)
    goes to that .npy file, from which the dataset statistics follow without reading the array again.
    """
    paths = list(paths)
    n = len(paths)
    digests = [""] * n
    window = max(1, min(n, window_bytes // (size * size)))
    starts = list(range(0, n, window))
    pixels = [np.empty((window, size, size), dtype=np.uint8) for _ in range(min(2, len(starts)))]
    counts = [np.empty((window, BINS), dtype=HISTOGRAM_DTYPE) for _ in pixels]

    def work(i: int, slot: int, start: int) -> None:
        image = load_resized(os.path.join(root, paths[i]), size)
        pixels[slot][i - start] = image
        counts[slot][i - start] = np.bincount(image.ravel(), minlength=BINS)
        digests[i] = row_digest(image)

    with contextlib.ExitStack() as stack:
        tmp = stack.enter_context(atomic_path(out_array, suffix=".npy"))
        array_out = stack.enter_context(open(tmp, "wb"))
        write_npy_header(array_out, (n, size, size), np.uint8)
        histograms_out = None
        if out_histograms is not None:
            tmp_histograms = stack.enter_context(atomic_path(out_histograms, suffix=".npy"))
            histograms_out = stack.enter_context(open(tmp_histograms, "wb"))
            write_npy_header(histograms_out, (n, BINS), HISTOGRAM_DTYPE)
        pool = stack.enter_context(ThreadPoolExecutor(max_workers=max(1, threads)))
        bar = stack.enter_context(tqdm(total=n, desc=f"cache {Path(out_array).name}", file=sys.stderr,
                                       disable=not progress, mininterval=5))  # fmt: skip

        def submit(w: int) -> list:
            start, slot = starts[w], w % 2
            return [pool.submit(work, i, slot, start) for i in range(start, min(n, start + window))]

        # Two windows are queued at any time, so the threads never wait while a window is written: window w + 2
        # goes into window w's buffer once that is written.
        pending = [submit(w) for w in range(min(2, len(starts)))]
        try:
            for w in range(len(starts)):
                jobs = pending.pop(0)
                for job in jobs:
                    job.result()  # a decoding error stops the build here
                array_out.write(pixels[w % 2][: len(jobs)].data)
                release_written(array_out)
                if histograms_out is not None:
                    histograms_out.write(counts[w % 2][: len(jobs)].data)
                if w + 2 < len(starts):
                    pending.append(submit(w + 2))
                bar.update(len(jobs))
        except BaseException:
            for job in (job for jobs in pending for job in jobs):
                job.cancel()
            raise
        if histograms_out is not None:
            histograms_out.flush()
        # the files are closed (then renamed) when the stack unwinds
    write_csv(out_index, pd.DataFrame({"row": np.arange(n), "Path": paths, "digest": digests}))


def read_npy_header(f: BinaryIO, file: str | os.PathLike) -> tuple[tuple[int, ...], np.dtype]:
    """(shape, dtype) of the open .npy file ``f``, left at its first data byte."""
    version = np.lib.format.read_magic(f)
    read_header = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
    if version not in read_header:
        raise ValueError(f"{file}: .npy format version {version} is not 1.0 or 2.0; rerun the cache step")
    shape, fortran_order, dtype = read_header[version](f)
    if fortran_order:
        raise ValueError(f"{file} is stored in Fortran order, the cache's files are in C order; rerun the cache step")
    return shape, dtype


def npy_shape(file: str | os.PathLike) -> tuple[int, ...]:
    with open(file, "rb") as f:
        return read_npy_header(f, file)[0]


def read_npy_rows(file: str | os.PathLike, window_rows: int) -> Iterator[tuple[int, np.ndarray]]:
    """(first row, rows) of a .npy file, ``window_rows`` rows at a time, read with plain reads into fresh arrays:
    memory stays at one window whatever the file's size (unlike slices of a memory map, whose pages stay mapped)."""
    with open(file, "rb") as f:
        shape, dtype = read_npy_header(f, file)
        row_items = math.prod(shape[1:])
        for start in range(0, shape[0], window_rows):
            rows = min(window_rows, shape[0] - start)
            block = np.fromfile(f, dtype=dtype, count=rows * row_items)
            if block.size != rows * row_items:
                raise ValueError(f"{file} holds fewer rows than the {shape[0]} its header states: it is truncated; "
                                 f"delete it and rerun the cache step")  # fmt: skip
            yield start, block.reshape((rows, *shape[1:]))


def read_index(index_file: str | os.PathLike) -> pd.DataFrame:
    """A cache index: row, Path and digest per cached image."""
    return pd.read_csv(index_file, dtype={"row": np.int64, "Path": str, "digest": str})


class DamagedCache(DataError):
    """A cache row whose pixels do not match the digest its index recorded when the row was written."""


class RowCheck:
    """Checks each row of a cache against its BLAKE2b digest in the index the first time a job reads it, so a
    damaged array (a flipped byte, a truncated copy) stops the job with the file, the row and the fix instead of being
    trained or scored on. Every row is hashed once per job (in the training's loader thread during the first epoch);
    later reads cost a lookup. An index without digests (an older cache) checks nothing."""

    def __init__(self, array: np.ndarray, index: pd.DataFrame, array_file: str | os.PathLike,
                 index_file: str | os.PathLike):  # fmt: skip
        self.array, self.array_file, self.index_file = array, array_file, index_file
        self.digests = index["digest"].tolist() if "digest" in index.columns else None
        self.paths = index["Path"].tolist()
        self.seen = np.zeros(len(array), dtype=bool)

    def __call__(self, rows: np.ndarray) -> None:
        if self.digests is None:
            return
        rows = np.asarray(rows, dtype=np.int64)
        new = np.unique(rows[~self.seen[rows]])
        for row in new:
            if row_digest(self.array[row]) != self.digests[row]:
                raise DamagedCache(
                    f"{self.array_file} row {row} ({self.paths[row]}) does not match its digest in "
                    f"{self.index_file}: the cache is damaged (or the two files come from different runs). Delete "
                    f"{self.array_file} and {self.index_file} and rerun the workflow: the cache step rebuilds them"
                )
        self.seen[new] = True


def open_cache(
    array_file: str | os.PathLike, index_file: str | os.PathLike
) -> tuple[np.ndarray, dict[str, int], RowCheck]:
    """(memory-mapped array, {Path: row}, the check that the rows a job reads are those the cache step wrote)."""
    array = np.load(array_file, mmap_mode="r")
    index = read_index(index_file)
    if len(index) != len(array):
        raise ValueError(
            f"{index_file} lists {len(index)} images but {array_file} holds {len(array)}: the cache is stale or "
            f"damaged; delete both files and rerun the cache step"
        )
    return array, dict(zip(index["Path"], index["row"], strict=True)), RowCheck(array, index, array_file, index_file)


def rows_for(paths: Sequence[str], lookup: dict[str, int], source: str) -> np.ndarray:
    """Cache rows of ``paths``; names the first paths that the cache does not hold."""
    missing = [p for p in paths if p not in lookup]
    if missing:
        raise KeyError(
            f"{len(missing)} image(s) of {source} are not in the cache, e.g. {missing[:3]}: the manifest and the "
            f"cache come from different datasets; rerun the workflow so both are rebuilt"
        )
    return np.fromiter((lookup[p] for p in paths), dtype=np.int64, count=len(paths))


# Free space left on the scratch disk after staging a cache there.
STAGE_RESERVE_BYTES = 1 << 30


def stage_cache(
    array_file: str | os.PathLike, index_file: str | os.PathLike, scratch: str | os.PathLike
) -> tuple[Path, Path] | None:
    """Copy a cache (array and index) into a new folder under ``scratch`` (node-local disk) and return the copies'
    paths, so a training reads the array from local disk rather than through page faults on a shared file system.
    The copy is a kernel-side copy (copy_file_range/sendfile): no file passes through this process's memory. Returns
    None, and the caller reads the cache in place, when ``scratch`` lacks room for it; the caller removes the
    folder (``paths[0].parent``) when done."""
    array_file, index_file = Path(array_file), Path(index_file)
    needed = array_file.stat().st_size + index_file.stat().st_size + STAGE_RESERVE_BYTES
    free = shutil.disk_usage(scratch).free
    if free < needed:
        print(f"warning: {scratch} has {free / 1e9:.1f} GB free, staging {array_file} needs {needed / 1e9:.1f} GB: "
              f"reading the cache in place", file=sys.stderr)  # fmt: skip
        return None
    folder = Path(tempfile.mkdtemp(prefix="chexpertnet-cache-", dir=scratch))
    try:
        for file in (array_file, index_file):
            shutil.copyfile(file, folder / file.name)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return folder / array_file.name, folder / index_file.name

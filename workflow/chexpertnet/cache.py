"""Image cache: every image of a split decoded once, resized to size x size, stored as one uint8 array.

The array is a ``.npy`` file (memory-mapped on read) and an index CSV maps each Path to its row and the digest of
that row's pixels (BLAKE2b, computed as the row is written), so the index alone identifies the whole array's content:
the training's resume fingerprint hashes the index, not the array. Training and evaluation read only the cache, never
the JPEGs.
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image
from tqdm import tqdm

from chexpertnet.fileio import atomic_path, write_csv

RESAMPLE = Image.Resampling.BILINEAR


def row_digest(row: np.ndarray) -> str:
    """Content digest of one cached image (128-bit BLAKE2b of its bytes; hashlib releases the GIL, so the decoding
    threads compute it in parallel)."""
    return hashlib.blake2b(np.ascontiguousarray(row).data, digest_size=16).hexdigest()


def load_resized(file: str | os.PathLike, size: int) -> np.ndarray:
    """Decode one image as 8-bit grayscale and resize it to (size, size), as the paper (no aspect preservation).

    JPEG draft mode lets libjpeg decode at 1/2, 1/4 or 1/8 scale directly when the image is at least twice the
    target, so full-resolution CheXpert (2,000+ px) costs about as much as the small version.
    """
    with Image.open(file) as img:
        img.draft("L", (size, size))
        img = img.convert("L")
        if img.size != (size, size):
            img = img.resize((size, size), RESAMPLE)
        return np.asarray(img, dtype=np.uint8)


def build_cache(
    root: str | os.PathLike,
    paths: Sequence[str],
    size: int,
    out_array: str | os.PathLike,
    out_index: str | os.PathLike,
    threads: int = 1,
    progress: bool = True,
) -> None:
    """Decode ``paths`` (relative to ``root``) into ``out_array`` (N, size, size) uint8 and write the index.

    Threads decode in parallel (PIL releases the GIL while decoding and resizing) straight into a memory-mapped
    temporary file, which is renamed into place only when every image is in. Each row's digest goes to the index.
    """
    paths = list(paths)
    digests = [""] * len(paths)
    with atomic_path(out_array, suffix=".npy") as tmp:
        array = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=(len(paths), size, size))

        def work(i: int, out: np.ndarray = array) -> None:
            image = load_resized(os.path.join(root, paths[i]), size)
            out[i] = image
            digests[i] = row_digest(image)

        with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
            jobs = pool.map(work, range(len(paths)), chunksize=32)
            for _ in tqdm(jobs, total=len(paths), desc=f"cache {Path(out_array).name}", file=sys.stderr,
                          disable=not progress, mininterval=5):
                pass
        array.flush()
        del array
    write_csv(out_index, pd.DataFrame({"row": np.arange(len(paths)), "Path": paths, "digest": digests}))


def open_cache(array_file: str | os.PathLike, index_file: str | os.PathLike) -> tuple[np.ndarray, dict[str, int]]:
    """(memory-mapped array, {Path: row})."""
    array = np.load(array_file, mmap_mode="r")
    index = pd.read_csv(index_file, dtype={"row": np.int64, "Path": str, "digest": str})
    if len(index) != len(array):
        raise ValueError(
            f"{index_file} lists {len(index)} images but {array_file} holds {len(array)}: the cache is stale or "
            f"damaged; delete both files and rerun the cache step"
        )
    return array, dict(zip(index["Path"], index["row"], strict=True))


def rows_for(paths: Sequence[str], lookup: dict[str, int], source: str) -> np.ndarray:
    """Cache rows of ``paths``; names the first paths that the cache does not hold."""
    missing = [p for p in paths if p not in lookup]
    if missing:
        raise KeyError(
            f"{len(missing)} image(s) of {source} are not in the cache, e.g. {missing[:3]}: the manifest and the "
            f"cache come from different datasets; rerun the workflow so both are rebuilt"
        )
    return np.fromiter((lookup[p] for p in paths), dtype=np.int64, count=len(paths))

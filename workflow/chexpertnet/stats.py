"""Exact dataset statistics: mean and standard deviation of the training images in [0, 1].

Pixel values are 8-bit, so the statistics follow exactly from a 256-bin integer histogram. Histograms are computed
per cache row (in parallel chunks, mergeable by addition) and summed with each image's multiplicity in the manifest.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from fractions import Fraction

import numpy as np

BINS = 256


def image_histograms(array: np.ndarray, rows: Sequence[int], threads: int = 1, chunk: int = 256) -> np.ndarray:
    """int64 histograms (len(rows), 256) of the given rows of a (N, H, W) uint8 array."""
    rows = np.asarray(rows, dtype=np.int64)
    out = np.zeros((len(rows), BINS), dtype=np.int64)

    def work(start: int) -> None:
        block = np.asarray(array[rows[start : start + chunk]]).reshape(-1, array.shape[1] * array.shape[2])
        offsets = (np.arange(len(block), dtype=np.int64) * BINS)[:, None]
        flat = np.bincount((block.astype(np.int64) + offsets).ravel(), minlength=len(block) * BINS)
        out[start : start + len(block)] = flat.reshape(len(block), BINS)

    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        list(pool.map(work, range(0, len(rows), chunk)))
    return out


def weighted_histogram(histograms: np.ndarray, multiplicity: Sequence[int]) -> np.ndarray:
    """Sum of per-image histograms, each counted ``multiplicity`` times (exact, int64)."""
    return (np.asarray(multiplicity, dtype=np.int64)[:, None] * histograms).sum(axis=0)


def histogram_moments(histogram: Sequence[int], scale: int = 255) -> tuple[float, float]:
    """(mean, population std) of values v/scale given a histogram of integer values v, computed exactly.

    Sums are Python integers and the variance a Fraction, so the only rounding is the final conversion.
    """
    h = [int(c) for c in histogram]
    n = sum(h)
    if n == 0:
        raise ValueError("empty histogram: no pixels to compute statistics from")
    s1 = sum(v * c for v, c in enumerate(h))
    s2 = sum(v * v * c for v, c in enumerate(h))
    mean = Fraction(s1, n * scale)
    variance = Fraction(s2 * n - s1 * s1, n * n * scale * scale)
    # sqrt of a Fraction, correctly rounded to float: isqrt on a scaled integer.
    shift = 2 * 64
    root = Fraction(math.isqrt((variance.numerator << shift) // variance.denominator), 1 << 64)
    return float(mean), float(root)

"""Exact dataset statistics: mean and standard deviation of the training images in [0, 1].

Pixel values are 8-bit, so the statistics follow exactly from a 256-bin integer histogram. The cache step writes
each image's histogram as it decodes it (chexpertnet.data.cache); the statistics of a view variant are those histograms
summed with each image's multiplicity in the variant's manifest, so no variant reads the image array again.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction

import numpy as np

BINS = 256


def weighted_histogram(histograms: np.ndarray, multiplicity: Sequence[int]) -> np.ndarray:
    """Sum of per-image histograms (N, 256), each counted ``multiplicity`` times (exact, int64)."""
    multiplicity = np.asarray(multiplicity, dtype=np.int64)
    if len(multiplicity) != len(histograms):
        raise ValueError(f"{len(multiplicity)} multiplicities for {len(histograms)} histograms")
    return (multiplicity[:, None] * np.asarray(histograms, dtype=np.int64)).sum(axis=0, dtype=np.int64)


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

"""What a training's weights depend on, as a fingerprint: a resume state is used only by the job that made it.

A training's weights are a function of the code it runs, its settings and the content of its inputs (never of their
paths or modification times). The fingerprint names each of these as one component. A resume state whose fingerprint
differs in any component is discarded, and the log names the components that changed; the resolved configuration of
a finished model records the fingerprint, so anyone can check which inputs it was trained on.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping

import numpy as np
import pandas as pd

from chexpertnet.data.cache import DamagedCache, row_digest
from chexpertnet.fileio import sha256_file

# Rows of a cache array whose pixels are checked against the index's digests when the cache is fingerprinted (a
# damaged array or one from another run fails loudly; the index digest stands for the rest).
CHECKED_ROWS = 64


def cache_digest(array_file: str | os.PathLike, index_file: str | os.PathLike, checked_rows: int = CHECKED_ROWS) -> str:
    """SHA-256 of a cache's content, cheap at any size: the index holds a digest of every row's pixels, so its
    hash and the array's shape identify the array; ``checked_rows`` rows spread over the array are verified against
    their digests. An index without digests (a cache from an older version) falls back to hashing the whole array.
    """
    array = np.load(array_file, mmap_mode="r")
    index = pd.read_csv(index_file, dtype=str, keep_default_na=False)
    digest = hashlib.sha256(f"{array.dtype.str}{array.shape}".encode())
    digest.update(sha256_file(index_file).encode())
    if "digest" not in index.columns:
        digest.update(sha256_file(array_file).encode())
        return digest.hexdigest()
    if len(index) != len(array):
        raise ValueError(
            f"{index_file} lists {len(index)} images but {array_file} holds {len(array)}: the cache is stale or "
            f"damaged; delete both files and rerun the cache step"
        )
    for row in np.unique(np.linspace(0, len(array) - 1, min(checked_rows, len(array))).astype(np.int64)):
        if row_digest(array[row]) != index["digest"].iloc[row]:
            raise DamagedCache(
                f"{array_file} row {row} ({index['Path'].iloc[row]}) does not match its digest in {index_file}: the "
                f"cache is damaged (or the two files come from different runs). Delete {array_file} and {index_file} "
                f"and rerun the workflow: the cache step rebuilds them"
            )
    return digest.hexdigest()


def training_fingerprint(
    settings: Mapping[str, object],
    environment: Mapping[str, object],
    code: str | None = None,
    files: Mapping[str, str | os.PathLike | None] | None = None,
    caches: Mapping[str, tuple[str | os.PathLike, str | os.PathLike]] | None = None,
) -> dict[str, object]:
    """{component: value}: every setting, the numeric environment, ``code`` (hash of the modules the training runs),
    the SHA-256 of every input file (None where an input is absent) and the content digest of every cache. An
    in-process training whose inputs are arrays (tests, benchmarks) has settings and environment only."""
    fingerprint: dict[str, object] = {} if code is None else {"code": code}
    files, caches = files or {}, caches or {}
    fingerprint.update({f"setting {k}": _plain(v) for k, v in sorted(settings.items())})
    fingerprint.update({f"file {k}": sha256_file(p) if p else None for k, p in sorted(files.items())})
    fingerprint.update({f"cache {k}": cache_digest(*paths) for k, paths in sorted(caches.items())})
    fingerprint.update({f"environment {k}": _plain(v) for k, v in sorted(environment.items())})
    return fingerprint


def changed_components(saved: Mapping[str, object] | None, current: Mapping[str, object]) -> list[str]:
    """The components in which two fingerprints differ (one missing on either side counts), sorted; a missing
    fingerprint (a state written by an older version) differs in everything."""
    if saved is None:
        return ["fingerprint (the state has none)"]
    keys = set(saved) | set(current)
    return sorted(k for k in keys if _plain(saved.get(k, _MISSING)) != _plain(current.get(k, _MISSING)))


_MISSING = "<missing>"


def _plain(value: object) -> object:
    """Tuples as lists, so a value compares equal after a round trip through a checkpoint or JSON."""
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    return value

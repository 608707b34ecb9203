"""Compile once per configuration: Inductor's on-disk caches (compiled FX graphs, AOT autograd's joint graphs and
their kernels) in one folder that the run's trainings share, so that only the first training of a configuration
compiles from cold and the later ones load its kernels. Imports nothing from torch: torch fixes its cache folder
in the environment when it is imported, so this runs first."""

from __future__ import annotations

import os
from collections.abc import MutableMapping
from pathlib import Path

CACHE_DIR_ENV = "TORCHINDUCTOR_CACHE_DIR"
CACHES_ON = {"TORCHINDUCTOR_FX_GRAPH_CACHE": "1", "TORCHINDUCTOR_AUTOGRAD_CACHE": "1"}


def use_compile_cache(folder: str | os.PathLike | None, environ: MutableMapping[str, str] | None = None) -> str | None:
    """Point Inductor's caches at ``folder`` (absolute) and switch them on; a TORCHINDUCTOR_CACHE_DIR the user set
    wins. Returns the folder in use (None: torch's default, a per-user folder in /tmp). Call before importing torch."""
    environ = os.environ if environ is None else environ
    if folder is None:
        return environ.get(CACHE_DIR_ENV)
    for name, value in CACHES_ON.items():
        environ.setdefault(name, value)
    environ.setdefault(CACHE_DIR_ENV, str(Path(folder).resolve()))
    Path(environ[CACHE_DIR_ENV]).mkdir(parents=True, exist_ok=True)
    return environ[CACHE_DIR_ENV]

"""Provenance of a result: which code, config, data and models produced it, with which settings, and when."""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
from collections.abc import Iterable, Mapping
from importlib import metadata
from pathlib import Path

from chexpertnet.fileio import sha256_file

PACKAGES = ("chexpertnet", "torch", "torchvision", "numpy", "pandas", "scikit-learn", "matplotlib", "snakemake")
#: Every installed package's version (`make lock`), at the root of the checkout this package is in
LOCK_FILE = Path(__file__).resolve().parents[3] / "requirements.lock"


def git_state(path: str | os.PathLike) -> dict:
    """The commit of the checkout that contains ``path`` and whether it has uncommitted changes (None outside git)."""
    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", "-C", str(path), *args], capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.stdout if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if commit is None:
        return {"commit": None, "dirty": None}
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit.strip(), "dirty": None if status is None else bool(status.strip())}


def package_versions(names: Iterable[str] = PACKAGES) -> dict:
    versions = {"python": platform.python_version()}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def lock_record(path: str | os.PathLike | None = None) -> dict | None:
    """The lock file's name and SHA-256 (None where the package runs outside a checkout that has one)."""
    path = Path(path or LOCK_FILE)
    return {"file": path.name, "sha256": sha256_file(path)} if path.is_file() else None


def file_hashes(paths: Iterable[str | os.PathLike]) -> dict:
    """{path: SHA-256} in path order."""
    return {str(p): sha256_file(p) for p in sorted({str(p) for p in paths})}


def record(inputs: Mapping[str, Iterable[str | os.PathLike]], settings: Mapping,
           code_dir: str | os.PathLike | None = None) -> dict:  # fmt: skip
    """The provenance shared by the outputs of one step: SHA-256 of every input file by kind (dataset CSVs,
    manifests, checkpoints...), the settings, the git state of ``code_dir`` (the package's checkout by default),
    package versions, the lock file's SHA-256 (every package's version) and the time of creation (UTC). Add each
    output's own hashes with :func:`for_outputs`."""
    code_dir = code_dir or Path(__file__).resolve().parent
    return {
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "git": git_state(code_dir),
        "packages": package_versions(),
        "lock": lock_record(),
        "settings": dict(settings),
        "inputs": {kind: file_hashes(paths) for kind, paths in inputs.items()},
    }


def for_outputs(shared: Mapping, outputs: Iterable[str | os.PathLike]) -> dict:
    """``shared`` (from :func:`record`) with the SHA-256 of these outputs."""
    return {**shared, "outputs": file_hashes(outputs)}

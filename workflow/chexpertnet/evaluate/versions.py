"""Versioned result tables: an append-only archive of every distinct regeneration of the tables.

The tables step writes its tables (Snakemake's outputs, replaced on every rerun) and then offers them to the
archive, ``results/<dataset>/archive/tables/``, which is no job's output, so Snakemake never deletes it:

- a version is a folder ``v0001``, ``v0002``, ... holding a copy of every table file (with its provenance) and
  ``version.json`` (number, time, git commit and dirty flag, config hash and the config itself, the code hash of
  every step, the SHA-256 of the data files and of every model, the mean AUC of every experiment);
- a regeneration whose tables (``.csv``/``.md``/``.html``; not the provenance, whose times always differ) are
  byte-identical to the latest version's creates no version;
- a version is assembled in a hidden folder and renamed into place in one step, so a killed tables job leaves either
  the new version complete or no trace of it (stale hidden folders are removed on the next offer).

Reading and comparing versions (:func:`changes`, :func:`table_diff`) is pure: no file I/O.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import re
import shutil
import socket
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

VERSION_FILE = "version.json"
CONTENT_SUFFIXES = (".csv", ".md", ".html")
_VERSION_DIR = re.compile(r"^v(\d{4,})$")
_INCOMING = ".incoming-"  # .incoming-<pid>-<random>-<host>: a version being written
STALE_AFTER_S = 24 * 3600


def version_dir(archive: str | os.PathLike, number: int) -> Path:
    return Path(archive) / f"v{number:04d}"


def versions(archive: str | os.PathLike) -> list[int]:
    """Numbers of the complete versions in ``archive`` (folders with a version.json), ascending."""
    root = Path(archive)
    if not root.is_dir():
        return []
    found = []
    for child in root.iterdir():
        m = _VERSION_DIR.match(child.name)
        if m and (child / VERSION_FILE).is_file():
            found.append(int(m.group(1)))
    return sorted(found)


def read_version(archive: str | os.PathLike, number: int) -> dict:
    """version.json of version ``number``; a clear error naming the versions there are."""
    file = version_dir(archive, number) / VERSION_FILE
    if not file.is_file():
        have = versions(archive)
        raise FileNotFoundError(
            f"{file}: no version {number} in {archive} (versions there: {', '.join(map(str, have)) or 'none'})"
        )
    return json.loads(file.read_text())


def content_digest(files: Mapping[str, bytes]) -> str:
    """SHA-256 over the table files' names and contents (provenance files excluded)."""
    h = hashlib.sha256()
    for name in sorted(files):
        if name.endswith(CONTENT_SUFFIXES):
            h.update(name.encode() + b"\0" + hashlib.sha256(files[name]).hexdigest().encode() + b"\n")
    return h.hexdigest()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _remove_stale(root: Path) -> None:
    """Remove the hidden folders of killed archivings: those of this host whose process is gone (a concurrent
    tables job's folder, whose process is alive, is left alone), and any older than a day (another host's)."""
    host = socket.gethostname()
    for child in root.glob(_INCOMING + "*"):
        pid, _, rest = child.name[len(_INCOMING) :].partition("-")
        _, _, child_host = rest.partition("-")
        try:
            age = time.time() - child.stat().st_mtime
        except FileNotFoundError:
            continue
        mine = child_host == host and pid.isdigit()
        if (mine and not _alive(int(pid))) or (not mine and age > STALE_AFTER_S):
            shutil.rmtree(child, ignore_errors=True)


def offer(archive: str | os.PathLike, files: Sequence[str | os.PathLike], meta: Mapping, pause=None) -> int | None:
    """Archive ``files`` (the tables just written) as a new version unless their content equals the latest version's.

    Returns the new version's number, or None when nothing changed. ``meta`` goes into version.json with the
    number, the content digest and the previous version's number. ``pause`` (tests only) is called with the hidden
    folder once it is complete, before it is renamed into place.
    """
    root = Path(archive)
    root.mkdir(parents=True, exist_ok=True)
    _remove_stale(root)
    contents = {Path(f).name: Path(f).read_bytes() for f in files}
    digest = content_digest(contents)
    have = versions(root)
    if have and read_version(root, have[-1]).get("content_digest") == digest:
        return None
    incoming = root / f"{_INCOMING}{os.getpid()}-{uuid.uuid4().hex[:8]}-{socket.gethostname()}"
    incoming.mkdir()
    try:
        for name, data in contents.items():
            (incoming / name).write_bytes(data)
        number = (have[-1] if have else 0) + 1
        record = {**meta, "number": number, "previous": have[-1] if have else None, "content_digest": digest}
        (incoming / VERSION_FILE).write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
        for child in incoming.iterdir():  # durable before it becomes visible
            with open(child, "rb") as f:
                os.fsync(f.fileno())
        if pause is not None:
            pause(incoming)
        while True:  # another tables job may have taken the number meanwhile
            try:
                os.rename(incoming, version_dir(root, number))
                break
            except OSError:
                if not version_dir(root, number).exists():
                    raise
                number += 1
                record["number"] = number
                (incoming / VERSION_FILE).write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
        return number
    finally:
        if incoming.exists():
            shutil.rmtree(incoming, ignore_errors=True)


# --- comparing versions (pure) -----------------------------------------------------------------------------------
def _flatten(obj, prefix: str = "") -> dict:
    """{"a.b.c": leaf} of nested dicts; lists are leaves."""
    if isinstance(obj, Mapping):
        out = {}
        for k, v in obj.items():
            out.update(_flatten(v, f"{prefix}{k}."))
        return out
    return {prefix[:-1]: obj}


def _changed(a: Mapping, b: Mapping) -> list[str]:
    return sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))


def changes(previous: Mapping | None, current: Mapping) -> dict[str, list[str]]:
    """What differs between two versions' metadata: the steps whose code changed, the config keys (dotted) that
    changed, the data files and the models (experiment/seed) whose content changed. The first version has
    everything 'new'."""
    if previous is None:
        return {"code": ["(first version)"], "config": [], "data": [], "models": []}
    return {
        "code": _changed(previous.get("code", {}), current.get("code", {})),
        "config": _changed(_flatten(previous.get("config", {})), _flatten(current.get("config", {}))),
        "data": _changed(previous.get("data", {}), current.get("data", {})),
        "models": _changed(previous.get("models", {}), current.get("models", {})),
    }


def describe(change: Mapping[str, list[str]]) -> str:
    """One line: 'code: score, tables; config: evaluation.resamples' (or 'nothing recorded' when no input
    changed, e.g. after an edit of the tables' own formatting that the code hash of 'tables' shows)."""
    parts = [f"{kind}: {', '.join(items)}" for kind, items in change.items() if items]
    return "; ".join(parts) or "nothing recorded"


def history_frame(metas: Sequence[Mapping]) -> pd.DataFrame:
    """One row per version: number, time, commit, dirty, config hash, what changed since the previous version and
    the mean AUC of every experiment (columns ``mean_auc.<experiment>``)."""
    rows = []
    previous = None
    for meta in metas:
        change = changes(previous, meta)
        git = meta.get("git") or {}
        row = {
            "version": meta["number"],
            "created": meta.get("created"),
            "commit": (git.get("commit") or "")[:12] or None,
            "dirty": git.get("dirty"),
            "config_hash": meta.get("config_hash"),
            "changed": describe(change) if previous is not None else "first version",
        }
        for name, value in sorted((meta.get("mean_auc") or {}).items()):
            row[f"mean_auc.{name}"] = value
        rows.append(row)
        previous = meta
    return pd.DataFrame(rows)


def _as_number(value):
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x


def table_diff(old: Mapping[str, pd.DataFrame], new: Mapping[str, pd.DataFrame], key: str = "observation",
               tolerance: float = 0.0) -> pd.DataFrame:  # fmt: skip
    """Every cell that differs between two versions' CSV tables of the same name: table, row (its ``key``, with
    an 'experiment' column as part of the row where there is one), column, old, new and new − old for numbers.
    Tables or rows present in only one version appear with the other side empty."""
    rows = []
    for name in sorted(set(old) | set(new)):
        a, b = old.get(name), new.get(name)
        if a is None or b is None:
            rows.append({"table": name, "row": "(whole table)", "column": "",
                         "old": "absent" if a is None else "present", "new": "absent" if b is None else "present",
                         "delta": math.nan})  # fmt: skip
            continue
        keys = [k for k in ("experiment", key) if k in a.columns and k in b.columns]
        a_idx = a.set_index(keys) if keys else a
        b_idx = b.set_index(keys) if keys else b
        if not (a_idx.index.is_unique and b_idx.index.is_unique):  # rows without a unique key: by position
            a_idx, b_idx = a.rename(index=lambda i: f"row {i + 1}"), b.rename(index=lambda i: f"row {i + 1}")
        for row in list(dict.fromkeys([*a_idx.index, *b_idx.index])):
            label = " / ".join(map(str, row)) if isinstance(row, tuple) else str(row)
            if row not in a_idx.index or row not in b_idx.index:
                rows.append({"table": name, "row": label, "column": "(whole row)",
                             "old": "absent" if row not in a_idx.index else "present",
                             "new": "absent" if row not in b_idx.index else "present", "delta": math.nan})  # fmt: skip
                continue
            for column in list(dict.fromkeys([*a_idx.columns, *b_idx.columns])):
                x = a_idx.at[row, column] if column in a_idx.columns else None
                y = b_idx.at[row, column] if column in b_idx.columns else None
                nx, ny = _as_number(x), _as_number(y)
                if nx is not None and ny is not None:
                    if (math.isnan(nx) and math.isnan(ny)) or abs(ny - nx) <= tolerance:
                        continue
                    rows.append({"table": name, "row": label, "column": column, "old": nx, "new": ny,
                                 "delta": ny - nx})  # fmt: skip
                elif not (x == y or (pd.isna(x) and pd.isna(y))):
                    rows.append({"table": name, "row": label, "column": column, "old": x, "new": y,
                                 "delta": math.nan})  # fmt: skip
    return pd.DataFrame(rows, columns=["table", "row", "column", "old", "new", "delta"])


def read_tables(folder: str | os.PathLike, names: Sequence[str] | None = None) -> dict[str, pd.DataFrame]:
    """{stem: frame} of the CSV tables in one version's folder."""
    out = {}
    for file in sorted(Path(folder).glob("*.csv")):
        if names is None or file.stem in names:
            with contextlib.suppress(pd.errors.EmptyDataError):
                out[file.stem] = pd.read_csv(file, keep_default_na=True)
    return out

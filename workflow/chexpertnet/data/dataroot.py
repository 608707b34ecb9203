"""Where the dataset is: a check of ``dataset.root`` that Snakemake runs while it builds the DAG (standard library
only), so a wrong root is reported before any job, with what was found and what to set instead."""

from __future__ import annotations

import os
from pathlib import Path

FOLDERS = ("CheXpert-v1.0-small", "CheXpert-v1.0")
SPLIT_FILES = ("train.csv", "valid.csv")


def dataset_root_problem(root: str | os.PathLike, folder: str) -> str | None:
    """None when ``root/folder`` holds train.csv and valid.csv; otherwise a message that says what is there and
    what to set (the parent when ``root`` is the dataset folder itself, ``dataset.folder`` when the other release
    is there)."""
    root = Path(root).expanduser()
    missing = [name for name in SPLIT_FILES if not (root / folder / name).is_file()]
    if not missing:
        return None
    where = root / folder
    head = f"config: dataset.root is {str(root)!r}, but {', '.join(str(where / m) for m in missing)} not found"
    if not root.is_dir():
        return f"{head}: {root} is not a folder. Set dataset.root to the folder that contains {folder}/"
    if all((root / name).is_file() for name in SPLIT_FILES):
        hint = f"did you mean dataset.root: {str(root.resolve().parent)!r}? "
        if root.name != folder:
            hint += f"(and dataset.folder: {root.name!r}) "
        return f"{head}. {root} itself holds train.csv and valid.csv: {hint}dataset.root is the folder that " \
               f"contains {folder}/"
    others = [f for f in FOLDERS if f != folder and all((root / f / n).is_file() for n in SPLIT_FILES)]
    if others:
        return f"{head}. {root} holds {others[0]}/ instead: set dataset.folder: {others[0]!r}"
    try:
        entries = sorted(p.name + ("/" if p.is_dir() else "") for p in root.iterdir())
    except OSError as exc:
        return f"{head}: {root} cannot be read ({exc})"
    shown = ", ".join(entries[:8]) + (f", ... ({len(entries)} entries)" if len(entries) > 8 else "")
    return f"{head}. {root} contains: {shown or 'nothing'}. Set dataset.root to the folder that contains {folder}/"

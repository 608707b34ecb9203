"""The validated view of a dataset: what every step after validation reads, at a path that does not depend on where
the data live.

``chexpertnet validate --out-view DIR`` writes ``DIR/<folder>/<split>.csv``, byte-for-byte copies of the CSVs it
validated, and links ``DIR/<folder>/<split dir>`` to the image folders under the dataset root (relative links when
the data sit under the working directory, e.g. the phantom in results/, absolute ones otherwise). ``DIR`` is then a
dataset root of its own: image paths in the CSVs resolve through the links.

So moving the data (a new ``dataset.root`` with the same content) re-runs validation only: the view's path stays the
same, and the workflow marks it ``ancient`` for real data and passes the CSVs' SHA-256 as a parameter instead, so
a changed CSV still re-runs every step that reads it (workflow/rules/common.smk).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from pathlib import Path

from chexpertnet.errors import DataError
from chexpertnet.fileio import atomic_path


def image_folders(paths: Iterable[str]) -> set[tuple[str, str]]:
    """The (dataset folder, split folder) pairs that image paths start with: {('CheXpert-v1.0-small', 'train')}."""
    pairs = set()
    for path in paths:
        parts = str(path).split("/")
        if len(parts) < 3:
            raise DataError(f"image path {path!r} is not <dataset folder>/<split>/...: cannot link its folder")
        pairs.add((parts[0], parts[1]))
    return pairs


def link_target(target: Path, link: Path) -> str:
    """Relative when both the link and the target are under the working directory (the phantom in results/: a
    copied workflow folder keeps working), absolute otherwise (real data elsewhere)."""
    target, parent, cwd = target.absolute(), link.parent.absolute(), Path.cwd()
    if target.is_relative_to(cwd) and parent.is_relative_to(cwd):
        return os.path.relpath(target, parent)
    return str(target)


def replace_link(link: Path, target: str) -> None:
    """Point ``link`` at ``target`` atomically (a new link renamed over the old one)."""
    temporary = link.with_name(f".{link.name}.link-{os.getpid()}")
    temporary.unlink(missing_ok=True)
    os.symlink(target, temporary, target_is_directory=True)
    os.replace(temporary, link)


def link_folder(link: Path, target: Path) -> None:
    """Point the view's ``link`` at the image folder ``target`` (made or replaced atomically); a file or folder in
    the link's place is an error, never overwritten."""
    link.parent.mkdir(parents=True, exist_ok=True)
    if link.exists() and not link.is_symlink():
        raise DataError(f"{link} exists and is not a link: remove it (the validated view links image folders)")
    replace_link(link, link_target(target, link))


def write_view(root: str | os.PathLike, csvs: dict[str, str | os.PathLike], paths: dict[str, list[str]],
               view: str | os.PathLike, folder: str) -> dict[str, Path]:  # fmt: skip
    """Copy each split's CSV to ``view/folder/<split>.csv`` and link the image folders its paths name; return the
    copies. The links are made first, the CSVs last (atomically), so a view whose CSVs exist is complete."""
    root, view = Path(root), Path(view)
    (view / folder).mkdir(parents=True, exist_ok=True)
    for split, split_paths in paths.items():
        for dataset_folder, split_folder in sorted(image_folders(split_paths)):
            target = root / dataset_folder / split_folder
            if not target.is_dir():
                raise DataError(f"{csvs[split]}: its images are under {target}, which is not a folder")
            link_folder(view / dataset_folder / split_folder, target)
    copies = {}
    for split, csv in csvs.items():
        copy = view / folder / f"{split}.csv"
        with atomic_path(copy) as tmp:
            shutil.copyfile(csv, tmp)
        copies[split] = copy
    return copies

"""dataset.root checked while the DAG is built: what was found and what to set instead."""

from __future__ import annotations

from pathlib import Path

from chexpertnet.data.dataroot import dataset_root_problem


def make(root: Path, folder: str) -> None:
    (root / folder).mkdir(parents=True)
    for name in ("train.csv", "valid.csv"):
        (root / folder / name).write_text("Path\n")


def test_the_right_root_passes(tmp_path):
    make(tmp_path, "CheXpert-v1.0-small")
    assert dataset_root_problem(tmp_path, "CheXpert-v1.0-small") is None


def test_the_dataset_folder_itself_suggests_its_parent(tmp_path):
    make(tmp_path, "CheXpert-v1.0-small")
    message = dataset_root_problem(tmp_path / "CheXpert-v1.0-small", "CheXpert-v1.0-small")
    assert f"did you mean dataset.root: {str(tmp_path.resolve())!r}?" in message
    assert "CheXpert-v1.0-small/CheXpert-v1.0-small/train.csv" in message and "dataset.folder" not in message


def test_the_other_release_suggests_dataset_folder(tmp_path):
    make(tmp_path, "CheXpert-v1.0")
    message = dataset_root_problem(tmp_path, "CheXpert-v1.0-small")
    assert "holds CheXpert-v1.0/ instead: set dataset.folder: 'CheXpert-v1.0'" in message


def test_an_unrelated_folder_lists_what_it_holds(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "notes.txt").write_text("")
    message = dataset_root_problem(tmp_path, "CheXpert-v1.0-small")
    assert "contains: images/, notes.txt" in message and "folder that contains CheXpert-v1.0-small/" in message
    assert "is not a folder" in dataset_root_problem(tmp_path / "nowhere", "CheXpert-v1.0-small")

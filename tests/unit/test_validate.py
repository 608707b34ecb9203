"""Every bad input of the validation step: the clear message, and no report written."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from chexpertnet.cli import main
from chexpertnet.data.chexpert import find_missing, parse_label, parse_path, validate_dataset
from chexpertnet.errors import DataError


def run_validate(root: Path, csvs: dict[str, Path], out: Path) -> int:
    return main(
        ["validate", "--root", str(root), "--train-csv", str(csvs["train"]), "--valid-csv", str(csvs["valid"]),
         "--out", str(out)]
    )  # fmt: skip


def edit_csv(csv: Path, edit) -> None:
    frame = pd.read_csv(csv, dtype=str, keep_default_na=False)
    frame = edit(frame)
    frame.to_csv(csv, index=False, lineterminator="\n")


def assert_refused(dataset, capsys, *fragments: str) -> str:
    root, csvs = dataset
    out = root.parent / "report" / "validation.json"
    assert run_validate(root, csvs, out) == 2
    err = capsys.readouterr().err
    for fragment in fragments:
        assert fragment in err, f"{fragment!r} not in:\n{err}"
    assert not out.exists()
    assert not out.parent.exists() or not any(out.parent.iterdir()), "partial output left behind"
    return err


def test_valid_dataset_passes(dataset, tmp_path):
    root, csvs = dataset
    out = tmp_path / "validation.json"
    assert run_validate(root, csvs, out) == 0
    report = json.loads(out.read_text())
    assert report["splits"]["train"] == {"images": 8, "patients": 4, "studies": 6, "frontal": 4, "lateral": 4}
    assert report["splits"]["valid"]["patients"] == 2
    assert set(report["csv_sha256"]) == {"train", "valid"}


def test_missing_column(dataset, capsys):
    edit_csv(dataset[1]["train"], lambda f: f.drop(columns=["Edema"]))
    assert_refused(dataset, capsys, "train.csv", "line 1 (header)", "missing column(s) ['Edema']", "must be exactly")


def test_extra_column(dataset, capsys):
    edit_csv(dataset[1]["valid"], lambda f: f.assign(Comment="x"))
    assert_refused(dataset, capsys, "valid.csv", "unexpected column(s) ['Comment']")


def test_bad_label_names_line_and_column(dataset, capsys):
    def edit(frame):
        frame.loc[2, "Cardiomegaly"] = "2.0"
        frame.loc[5, "Pneumonia"] = "yes"
        return frame

    edit_csv(dataset[1]["train"], edit)
    assert_refused(
        dataset, capsys, "train.csv", "2 label(s) not in", "line 4, column 'Cardiomegaly': '2.0'",
        "line 7, column 'Pneumonia': 'yes'",
    )  # fmt: skip


def test_uncertain_label_in_valid_refused(dataset, capsys):
    def edit(frame):
        frame.loc[0, "Edema"] = "-1.0"
        return frame

    edit_csv(dataset[1]["valid"], edit)
    err = assert_refused(dataset, capsys, "valid.csv", "line 2, column 'Edema': '-1.0'", "1.0 or 0.0")
    assert "blank means" not in err  # blanks are refused in valid: the train hint would mislead


def test_a_blank_in_valid_is_refused_without_the_train_hint_and_train_gets_it(dataset, capsys):
    def edit(frame):
        frame.loc[1, "Edema"] = ""
        return frame

    edit_csv(dataset[1]["valid"], edit)
    err = assert_refused(dataset, capsys, "valid.csv", "line 3, column 'Edema': ''", "Fix these cells.")
    assert "blank means" not in err

    def bad_train(frame):
        frame.loc[0, "Edema"] = "2"
        return frame

    edit_csv(dataset[1]["valid"], lambda f: f.assign(Edema=f["Edema"].replace("", "0.0")))
    edit_csv(dataset[1]["train"], bad_train)
    assert_refused(dataset, capsys, "train.csv", "line 2, column 'Edema': '2'", "Fix these cells (blank means 'not "
                   "mentioned').")  # fmt: skip


def test_swapped_columns_are_named(dataset, capsys):
    def edit(frame):
        columns = list(frame.columns)
        i, j = columns.index("Cardiomegaly"), columns.index("Edema")
        columns[i], columns[j] = columns[j], columns[i]
        return frame[columns]

    edit_csv(dataset[1]["train"], edit)
    assert_refused(dataset, capsys, "train.csv", "line 1 (header): columns out of order: 'Edema' and "
                   "'Cardiomegaly' are swapped (columns 8 and 11)")  # fmt: skip


def test_a_rotated_header_names_each_misplaced_column(dataset, capsys):
    edit_csv(dataset[1]["valid"], lambda f: f[[*f.columns[:5], *f.columns[6:], f.columns[5]]])
    err = assert_refused(dataset, capsys, "valid.csv", "column 6 is 'Enlarged Cardiomediastinum' where 'No Finding' "
                         "belongs", "... and 4 more")  # fmt: skip
    assert "swapped" not in err


def test_paths_of_the_other_release_suggest_dataset_folder(dataset, capsys):
    def edit(frame):
        frame["Path"] = frame["Path"].str.replace("CheXpert-v1.0-small/", "CheXpert-v1.0/", regex=False)
        return frame

    edit_csv(dataset[1]["train"], edit)
    assert_refused(dataset, capsys, "train.csv", "8 Path value(s) are in CheXpert-v1.0/, not in CheXpert-v1.0-small/",
                   "line 2: 'CheXpert-v1.0/train/", "set dataset.folder: CheXpert-v1.0")  # fmt: skip


def test_duplicate_rows_name_both_lines(dataset, capsys):
    edit_csv(dataset[1]["train"], lambda f: pd.concat([f, f.iloc[[1]]], ignore_index=True))
    frame = pd.read_csv(dataset[1]["train"], dtype=str, keep_default_na=False)
    assert_refused(dataset, capsys, "train.csv", "1 Path value(s) listed twice", f"line 10 repeats line 3: "
                   f"{frame['Path'][1]!r}", "Keep one row per image.")  # fmt: skip


def test_bad_path_layout(dataset, capsys):
    def edit(frame):
        frame.loc[1, "Path"] = "CheXpert-v1.0-small/train/p1/img.jpg"
        return frame

    edit_csv(dataset[1]["train"], edit)
    assert_refused(dataset, capsys, "not in the CheXpert layout", "line 3: 'CheXpert-v1.0-small/train/p1/img.jpg'")


def test_path_in_wrong_split(dataset, capsys):
    def edit(frame):
        frame.loc[0, "Path"] = frame.loc[0, "Path"].replace("/valid/", "/train/")
        return frame

    edit_csv(dataset[1]["valid"], edit)
    assert_refused(dataset, capsys, "valid.csv", "outside the 'valid' split", "line 2")


def test_missing_images_are_counted_and_named(dataset, capsys):
    root, csvs = dataset
    frame = pd.read_csv(csvs["train"], dtype=str, keep_default_na=False)
    for path in frame["Path"][:3]:
        (root / path).unlink()
    err = assert_refused(dataset, capsys, "3 of 8 listed image(s) are missing", f"line 2: {frame['Path'][0]}",
                         f"line 4: {frame['Path'][2]}")  # fmt: skip
    assert frame["Path"][3] not in err


def test_many_missing_images_list_ten(dataset, capsys):
    _, csvs = dataset

    def edit(frame):
        extra = pd.concat([frame.iloc[[0]]] * 14, ignore_index=True)
        extra["Path"] = [f"CheXpert-v1.0-small/train/patient00099/study{i + 1}/view1_frontal.jpg" for i in range(14)]
        return pd.concat([frame, extra], ignore_index=True)

    edit_csv(csvs["train"], edit)
    err = assert_refused(dataset, capsys, "14 of 22 listed image(s) are missing", "... and 4 more")
    assert "study10/" in err and "study11/" not in err


@pytest.mark.parametrize("threads", [1, 3])
def test_existence_is_checked_in_parallel_and_reported_in_csv_order(tmp_path, threads):
    root = tmp_path / "data"
    paths = [f"CheXpert-v1.0-small/train/patient{i:05d}/study1/view1_frontal.jpg" for i in range(1, 2001)]
    gone = {7, 511, 512, 513, 1024, 1999}  # across chunk boundaries, the last one included
    for i, path in enumerate(paths):
        if i not in gone:
            (root / path).parent.mkdir(parents=True)
            (root / path).touch()
    (root / paths[100]).unlink()
    (root / paths[100]).mkdir()  # a folder where an image should be is missing too
    assert find_missing(root, paths, threads=threads, chunk=64) == [paths[i] for i in sorted(gone | {100})]


def test_corrupt_image_named(dataset, capsys):
    root, csvs = dataset
    path = pd.read_csv(csvs["valid"], dtype=str)["Path"][1]
    (root / path).write_bytes(b"\xff\xd8\xff\xe0 this is not a jpeg")
    assert_refused(dataset, capsys, "1 image(s) cannot be decoded", path)


def test_truncated_image_named(dataset, capsys):
    root, csvs = dataset
    path = pd.read_csv(csvs["train"], dtype=str)["Path"][0]
    data = (root / path).read_bytes()
    (root / path).write_bytes(data[: len(data) // 2])
    assert_refused(dataset, capsys, "cannot be decoded", path)


def test_patient_in_both_splits(dataset, capsys):
    _, csvs = dataset

    def edit(frame):
        frame.loc[0, "Path"] = "CheXpert-v1.0-small/valid/patient00001/study1/view1_frontal.jpg"
        return frame

    edit_csv(csvs["valid"], edit)
    assert_refused(dataset, capsys, "1 patient(s) appear in both", "patient00001")


def test_empty_split(dataset, capsys):
    edit_csv(dataset[1]["valid"], lambda f: f.iloc[:0])
    assert_refused(dataset, capsys, "valid.csv", "the split is empty")


def test_age_and_sex_may_be_blank_or_unknown(dataset, tmp_path):
    root, csvs = dataset
    edit_csv(csvs["train"], lambda f: f.assign(Sex=["Unknown", ""] * 4, Age=["", "Unknown"] * 4))
    validate_dataset(root, csvs)


def test_parse_label_and_path():
    assert [parse_label(t) for t in ("1.0", "1", "0.0", "-1.0", "", " ")] == [1.0, 1.0, 0.0, -1.0, None, None]
    for bad in ("2", "nan", "yes", "0.5"):
        with pytest.raises(ValueError):
            parse_label(bad)
    parts = parse_path("CheXpert-v1.0/valid/patient64541/study12/view3_lateral.jpg")
    assert (parts.split, parts.patient, parts.study, parts.view_index, parts.view) == (
        "valid", "patient64541", 12, 3, "lateral",
    )  # fmt: skip
    with pytest.raises(DataError, match="not in the CheXpert layout"):
        parse_path("train/patient1/study1/view1_frontal.jpg")

"""The CheXpert test set's labels: either published format -> one CheXpert-format table, image by image.
Pure functions over data frames and file listings; `chexpertnet test-labels` reads and writes the files.

- Study level, ``groundtruth.csv`` (cheXpert-test-set-labels): ``Study`` (``CheXpert-v1.0/test/patient64741/study1``)
  and the 14 observations as 0/1; every image of the study gets the study's labels.
- Image level, ``test_labels.csv`` (CheXlocalize's download): ``Path`` (``test/patient64741/study1/view1_frontal.jpg``,
  any prefix before ``test/``) and the 14 observations; no Sex, Age, Frontal/Lateral or AP/PA columns.

The table has CheXpert's columns (Sex, Age and AP/PA blank, Frontal/Lateral from the file name), Paths
``<folder>/test/patientN/studyN/viewN_<view>.jpg``, labels ``1.0``/``0.0``, rows sorted by Path.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence

import pandas as pd

from chexpertnet.data.chexpert import csv_line
from chexpertnet.errors import DataError
from chexpertnet.observations import CSV_COLUMNS, OBSERVATIONS

_STUDY = re.compile(r"(?:^|/)test/(patient\d+)/study(\d+)/?$")
_IMAGE = re.compile(r"(?:^|/)test/(patient\d+)/study(\d+)/(view\d+_(?:frontal|lateral))\.jpg$")
_VIEW_FILE = re.compile(r"^view\d+_(?:frontal|lateral)\.jpg$")


def label_format(columns: Sequence[str], source: str) -> str:
    """'study' or 'image', from the columns; an error naming what is missing otherwise."""
    missing = [o for o in OBSERVATIONS if o not in columns]
    if missing:
        raise DataError(f"{source}: the observation column(s) {missing} are missing; a test label file has the "
                        f"14 CheXpert observations and either Study (groundtruth.csv) or Path "
                        f"(test_labels.csv)")  # fmt: skip
    if "Study" in columns:
        return "study"
    if "Path" in columns:
        return "image"
    raise DataError(f"{source}: neither a Study column (study-level groundtruth.csv) nor a Path column (image-level "
                    f"test_labels.csv)")  # fmt: skip


def _labels(row: Mapping, source: str, position: int) -> list[str]:
    out = []
    for o in OBSERVATIONS:
        value = str(row[o]).strip()
        try:
            number = float(value)
        except ValueError:
            number = float("nan")
        if number not in (0.0, 1.0):
            raise DataError(f"{source}: line {csv_line(position)}, {o} is {value!r}; test labels are 0 or 1 (the "
                            f"radiologists' majority)")  # fmt: skip
        out.append("1.0" if number == 1.0 else "0.0")
    return out


def _row(folder: str, patient: str, study: str, view_file: str, labels: list[str]) -> list[str]:
    view = "Frontal" if "_frontal" in view_file else "Lateral"
    return [f"{folder}/test/{patient}/study{int(study)}/{view_file}", "", "", view, "", *labels]


def _keys(frame: pd.DataFrame, column: str, pattern: re.Pattern, shape: str, source: str,
          describe: Callable[[re.Match], str]) -> Iterator[tuple]:  # fmt: skip
    """(position, row, match) of every row, its ``column`` matched by ``pattern``; an error naming the line for a
    value that does not match (``shape`` says what is expected) or one listed twice (``describe`` names it)."""
    seen = set()
    for position, row in enumerate(frame.to_dict("records")):
        m = pattern.search(str(row[column]).strip())
        if m is None:
            raise DataError(f"{source}: line {csv_line(position)}, {column} {row[column]!r} is not {shape!r}")
        if m.groups() in seen:
            raise DataError(f"{source}: line {csv_line(position)}, {describe(m)} is listed twice")
        seen.add(m.groups())
        yield position, row, m


def _study_name(m: re.Match) -> str:
    return f"study {m.group(1)}/study{int(m.group(2))}"


def _image_name(m: re.Match) -> str:
    return f"image {'/'.join(m.groups())}.jpg"


def from_study_labels(frame: pd.DataFrame, images: Mapping[tuple[str, int], Sequence[str]], source: str,
                      folder: str = "CheXpert-v1.0-small") -> pd.DataFrame:  # fmt: skip
    """Study-level labels and the image files of each (patient, study) -> the image table."""
    rows = []
    for position, row, m in _keys(frame, "Study", _STUDY, "<...>/test/patientN/studyN", source, _study_name):
        key = (m.group(1), int(m.group(2)))
        files = sorted(f for f in images.get(key, []) if _VIEW_FILE.match(f))
        if not files:
            raise DataError(f"{source}: line {csv_line(position)}, study {key[0]}/study{key[1]} has no image "
                            f"(viewN_frontal.jpg or viewN_lateral.jpg) in its folder; check the test images' "
                            f"root")  # fmt: skip
        labels = _labels(row, source, position)
        rows += [_row(folder, key[0], str(key[1]), f, labels) for f in files]
    return pd.DataFrame(rows, columns=list(CSV_COLUMNS)).sort_values("Path", kind="mergesort", ignore_index=True)


def from_image_labels(frame: pd.DataFrame, source: str, folder: str = "CheXpert-v1.0-small") -> pd.DataFrame:
    """Image-level labels -> the image table."""
    rows = []
    for position, row, m in _keys(frame, "Path", _IMAGE, "<...>/test/patientN/studyN/viewN_frontal|lateral.jpg",
                                  source, _image_name):  # fmt: skip
        rows.append(_row(folder, m.group(1), m.group(2), m.group(3) + ".jpg", _labels(row, source, position)))
    return pd.DataFrame(rows, columns=list(CSV_COLUMNS)).sort_values("Path", kind="mergesort", ignore_index=True)


def image_file(path: str) -> str:
    """A table Path -> the image below the test images' root: ``test/patientN/studyN/viewN_x.jpg``."""
    return path.split("/", 1)[1]

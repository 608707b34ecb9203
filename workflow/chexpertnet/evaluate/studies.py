"""Study-level files of the CheXpert test set, checked and joined: pure functions over data frames (no file I/O).

The published test set is scored study by study (one study per patient): ``groundtruth.csv`` and the benchmark
radiologists' ``bc4.csv`` etc. have a ``Study`` column (``CheXpert-v1.0/test/patient64741/study1``) and one 0/1
column per observation, in any order; the leaderboard's predictions (scores) and decisions (0/1) the same with the
observations they predict. The workflow's own files are image-level (a ``Path`` column,
``CheXpert-v1.0-small/test/patient64741/study1/view1_frontal.jpg``): their labels go to the study as "positive when
any image is", their scores as ``evaluation.aggregate`` says (the mean or the max of the study's images).

A study is known by ``patientN/studyM`` whatever comes before it, so the files may differ in their prefixes. Every
error is a :class:`~chexpertnet.errors.DataError` naming the file, the line (the header is line 1), the
study and the value at fault.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import pandas as pd

from chexpertnet.data.chexpert import csv_line
from chexpertnet.errors import DataError
from chexpertnet.evaluate.metrics import aggregate_by_patient
from chexpertnet.observations import OBSERVATIONS

_STUDY = re.compile(r"(?:^|/)(patient[^/]+)/(study\d+)(?:/[^/]+)?/?$")
SHOWN = 5


def study_key(value: str) -> str | None:
    """``.../patientN/studyM`` or ``.../patientN/studyM/viewK_x.jpg`` -> ``patientN/studyM``; None otherwise."""
    m = _STUDY.search(str(value).strip())
    return f"{m.group(1)}/{m.group(2)}" if m else None


def patient_of(study: str) -> str:
    return study.split("/", 1)[0]


def key_column(frame: pd.DataFrame, source: str) -> str:
    """'Study' (a study-level file) or 'Path' (an image-level one)."""
    for column in ("Study", "Path"):
        if column in frame.columns:
            return column
    raise DataError(f"{source}: neither a Study column (a study-level file such as groundtruth.csv) nor a Path "
                    f"column (the workflow's image-level files); columns are {list(frame.columns)}")  # fmt: skip


def observations_of(frame: pd.DataFrame, source: str) -> list[str]:
    """The CheXpert observations among the frame's columns, in CheXpert's order; an error when there is none."""
    found = [o for o in OBSERVATIONS if o in frame.columns]
    if not found:
        raise DataError(f"{source}: no column is a CheXpert observation ({', '.join(OBSERVATIONS)})")
    return found


def require_columns(frame: pd.DataFrame, observations: Sequence[str], source: str, why: str) -> None:
    missing = [o for o in observations if o not in frame.columns]
    if missing:
        raise DataError(f"{source}: no column for {missing}, which {why}; give a file with every one of them")


def _keys(frame: pd.DataFrame, column: str, source: str) -> list[str]:
    keys = []
    for position, value in enumerate(frame[column].astype(str)):
        key = study_key(value)
        if key is None:
            raise DataError(f"{source}: line {csv_line(position)}, {column} {value!r} does not name a study "
                            f"(.../patientN/studyM{'/viewK_frontal.jpg' if column == 'Path' else ''})")  # fmt: skip
        keys.append(key)
    return keys


def _numbers(frame: pd.DataFrame, observations: Sequence[str], source: str, binary: bool) -> np.ndarray:
    """(rows, J) floats; every cell 0/1 (``binary``) or a finite number, else an error naming line and value."""
    out = np.empty((len(frame), len(observations)))
    for j, o in enumerate(observations):
        text = frame[o].astype(str).str.strip()
        values = pd.to_numeric(text, errors="coerce").to_numpy(dtype=float)
        bad = ~np.isin(values, (0.0, 1.0)) if binary else ~np.isfinite(values)
        if bad.any():
            position = int(np.flatnonzero(bad)[0])
            want = "0 or 1" if binary else "a finite number"
            raise DataError(f"{source}: line {csv_line(position)}, {o} is {frame[o].iloc[position]!r} for study "
                            f"{study_key(frame.iloc[position][key_column(frame, source)])}; it must be "
                            f"{want}")  # fmt: skip
        out[:, j] = values
    return out


def _once(keys: list[str], source: str) -> None:
    seen: dict[str, int] = {}
    for position, key in enumerate(keys):
        if key in seen:
            raise DataError(f"{source}: line {csv_line(position)}, study {key} is listed twice (also line "
                            f"{csv_line(seen[key])}); give each study once")  # fmt: skip
        seen[key] = position


def binary_by_study(frame: pd.DataFrame, observations: Sequence[str], source: str, what: str) -> pd.DataFrame:
    """0/1 values per study (labels, a reader's reads, decisions), index the study keys, columns ``observations``.
    Study-level files list each study once; image-level ones (``Path``) are positive when any image of the study is.
    ``what`` says in an error why the observations are needed."""
    column = key_column(frame, source)
    require_columns(frame, observations, source, what)
    keys = _keys(frame, column, source)
    values = _numbers(frame, observations, source, binary=True)
    if column == "Study":
        _once(keys, source)
        return pd.DataFrame(values, index=pd.Index(keys, name="study"), columns=list(observations))
    ids, _, labels = aggregate_by_patient(np.array(keys), values, values)
    return pd.DataFrame(labels, index=pd.Index(ids, name="study"), columns=list(observations))


def scores_by_study(frame: pd.DataFrame, observations: Sequence[str], source: str, aggregate: str = "mean"
                    ) -> pd.DataFrame:  # fmt: skip
    """Scores per study (any finite numbers): a study-level file's as they are, an image-level file's aggregated
    over the study's images (``aggregate``: mean or max)."""
    column = key_column(frame, source)
    keys = _keys(frame, column, source)
    values = _numbers(frame, observations, source, binary=False)
    if column == "Study":
        _once(keys, source)
        return pd.DataFrame(values, index=pd.Index(keys, name="study"), columns=list(observations))
    ids, scores, _ = aggregate_by_patient(np.array(keys), values, np.zeros_like(values), aggregate)
    return pd.DataFrame(scores, index=pd.Index(ids, name="study"), columns=list(observations))


def _line_of(frame: pd.DataFrame, source: str, study: str) -> str:
    column = key_column(frame, source)
    for position, value in enumerate(frame[column].astype(str)):
        if study_key(value) == study:
            return f"line {csv_line(position)}, "
    return ""


def aligned(table: pd.DataFrame, studies: pd.Index, frame: pd.DataFrame, source: str, labels: str, what: str
            ) -> pd.DataFrame:  # fmt: skip
    """``table`` (from ``frame`` of file ``source``) in the order of the labels' ``studies``: an error for a study of
    the labels that it lacks and for one that is not in the labels (``labels`` names the labels file, ``what``
    says what the file is)."""
    extra = table.index.difference(studies)
    if len(extra):
        study = extra[0]
        raise DataError(f"{source}: {_line_of(frame, source, study)}study {study} is not in the labels ({labels}); "
                        f"{len(extra)} such stud{'y' if len(extra) == 1 else 'ies'}: give {what} of the labels' "
                        f"studies")  # fmt: skip
    missing = studies.difference(table.index)
    if len(missing):
        shown = ", ".join(missing[:SHOWN]) + (f" and {len(missing) - SHOWN} more" if len(missing) > SHOWN else "")
        raise DataError(f"{source}: lacks {len(missing)} stud{'y' if len(missing) == 1 else 'ies'} of the labels "
                        f"({labels}): {shown}; give {what} of every study of the labels")  # fmt: skip
    return table.loc[studies]

"""Reading and validating CheXpert-format CSVs (real CheXpert-v1.0(-small) or the phantom).

The checks are pure functions over data frames and path lists; ``validate_dataset`` is the one entry point that
touches files. Every failure raises :class:`DataError` with a message that names the file, the CSV line and the
column at fault and says how to fix it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from chexpertnet.data.images import check_decodes
from chexpertnet.errors import DataError
from chexpertnet.observations import CSV_COLUMNS, OBSERVATIONS, SPLITS

#: Path layout: <dataset dir>/<split>/patientNNNNN/studyN/viewN_frontal|lateral.jpg (CheXpert's JPEGs; your own
#: images may be .png of any bit depth or .dcm, read by chexpertnet.data.images)
PATH_RE = re.compile(
    r"^(?P<dataset>CheXpert-v1\.0(?:-small)?)/(?P<split>train|valid|test)/(?P<patient>patient\d+)/"
    r"study(?P<study>\d+)/view(?P<view_index>\d+)_(?P<view>frontal|lateral)\.(?:jpg|png|dcm)$"
)
PATH_EXAMPLE = "CheXpert-v1.0-small/train/patient00001/study1/view1_frontal.jpg"
MAX_LISTED = 10


@dataclass(frozen=True)
class PathParts:
    dataset: str
    split: str
    patient: str
    study: int
    view_index: int
    view: str  # "frontal" | "lateral"


def parse_path(path: str) -> PathParts:
    m = PATH_RE.match(path)
    if m is None:
        raise DataError(f"Path {path!r} is not in the CheXpert layout (expected e.g. {PATH_EXAMPLE!r})")
    d = m.groupdict()
    return PathParts(d["dataset"], d["split"], d["patient"], int(d["study"]), int(d["view_index"]), d["view"])


def csv_line(row_position: int) -> int:
    """1-based line number in the CSV file of the data row at 0-based position ``row_position`` (header is line 1)."""
    return row_position + 2


def _listing(items: Sequence[str]) -> str:
    shown = "\n  ".join(items[:MAX_LISTED])
    more = f"\n  ... and {len(items) - MAX_LISTED} more" if len(items) > MAX_LISTED else ""
    return f"\n  {shown}{more}"


def read_csv(path: str | os.PathLike, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Read a CheXpert CSV with every cell as a string (blank stays ''), so validation sees the raw text; only
    ``columns``, if given."""
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False, usecols=columns)
    except FileNotFoundError:
        raise DataError(
            f"{path}: file not found. Set dataset.root to the folder that contains CheXpert-v1.0-small/"
        ) from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataError(
            f"{path}: not a readable CSV ({exc}). Restore the original file (CheXpert's from its archive)"
        ) from exc


def check_columns(columns: Sequence[str], source: str) -> None:
    columns = list(columns)
    missing = [c for c in CSV_COLUMNS if c not in columns]
    extra = [c for c in columns if c not in CSV_COLUMNS]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing column(s) {missing}")
        if extra:
            parts.append(f"unexpected column(s) {extra}")
        raise DataError(
            f"{source}: line 1 (header): {'; '.join(parts)}. The header must be exactly: {','.join(CSV_COLUMNS)}"
        )
    if columns != list(CSV_COLUMNS):
        raise DataError(f"{source}: line 1 (header): columns out of order: {misplaced(columns)}. Expected: "
                        f"{','.join(CSV_COLUMNS)}")  # fmt: skip


def misplaced(columns: Sequence[str]) -> str:
    """Which columns of a header with CheXpert's columns in another order are out of place: two that trade places
    are said to be swapped (the commonest mistake), any others by position (1-based, as a spreadsheet counts)."""
    wrong = [i for i, (have, want) in enumerate(zip(columns, CSV_COLUMNS, strict=True)) if have != want]
    swaps, seen, said = [], set(), []
    for i in wrong:
        j = list(CSV_COLUMNS).index(columns[i])
        if i not in seen and columns[j] == CSV_COLUMNS[i]:
            seen |= {i, j}
            swaps.append(f"{columns[i]!r} and {columns[j]!r} are swapped (columns {i + 1} and {j + 1})")
    said += swaps
    said += [f"column {i + 1} is {columns[i]!r} where {CSV_COLUMNS[i]!r} belongs" for i in wrong if i not in seen]
    return "; ".join(said[:MAX_LISTED]) + (f"; ... and {len(said) - MAX_LISTED} more" if len(said) > MAX_LISTED else "")


def parse_label(text: str) -> float | None:
    """'1.0'/'1' -> 1.0, '0.0' -> 0.0, '-1.0' -> -1.0, '' -> None (blank); anything else raises ValueError."""
    text = text.strip()
    if text == "":
        return None
    value = float(text)  # raises ValueError on non-numbers
    if value not in (1.0, 0.0, -1.0):
        raise ValueError(text)
    return value


def check_labels(frame: pd.DataFrame, source: str, split: str) -> None:
    """Train labels: 1.0, 0.0, -1.0 or blank. Valid labels (the radiologists' gold standard): 1.0 or 0.0."""
    allowed = "1.0, 0.0, -1.0 or blank" if split == "train" else "1.0 or 0.0 (the validation set is gold standard)"
    bad = []
    for column in OBSERVATIONS:
        for position, text in enumerate(frame[column].tolist()):
            try:
                value = parse_label(text)
                if split != "train" and value not in (1.0, 0.0):
                    raise ValueError(text)
            except ValueError:
                bad.append(f"line {csv_line(position)}, column {column!r}: {text!r}")
    if bad:
        hint = " (blank means 'not mentioned')" if split == "train" else ""  # blanks are refused outside train
        raise DataError(f"{source}: {len(bad)} label(s) not in {{{allowed}}}:{_listing(bad)}\nFix these cells{hint}.")


def check_paths(frame: pd.DataFrame, source: str, split: str, folder: str | None = None) -> None:
    """Each Path follows the patient/study/view layout of ``split`` (in the dataset folder ``folder``, if given), is
    unique, and agrees with Frontal/Lateral."""
    bad, wrong_split, wrong_view, wrong_folder = [], [], [], []
    for position, (path, orientation) in enumerate(zip(frame["Path"], frame["Frontal/Lateral"], strict=True)):
        m = PATH_RE.match(path)
        line = csv_line(position)
        if m is None:
            bad.append(f"line {line}: {path!r}")
        elif folder is not None and m["dataset"] != folder:
            wrong_folder.append(f"line {line}: {path!r}")
        elif m["split"] != split:
            wrong_split.append(f"line {line}: {path!r}")
        elif orientation.lower() != m["view"]:
            wrong_view.append(f"line {line}: Frontal/Lateral is {orientation!r} but the path says {m['view']!r}")
    if bad:
        raise DataError(
            f"{source}: {len(bad)} Path value(s) not in the CheXpert layout (expected e.g. {PATH_EXAMPLE!r}):"
            f"{_listing(bad)}\nPaths are relative to the folder that contains CheXpert-v1.0-small/."
        )
    if wrong_folder:
        other = PATH_RE.match(wrong_folder[0].split(": ", 1)[1].strip("'"))["dataset"]
        raise DataError(
            f"{source}: {len(wrong_folder)} Path value(s) are in {other}/, not in {folder}/ where this CSV is read "
            f"from:{_listing(wrong_folder)}\nIf your images are {other}, set dataset.folder: {other} (the folder "
            f"under dataset.root that holds this CSV and the images); otherwise restore {folder}'s own CSV."
        )
    if wrong_split:
        raise DataError(
            f"{source}: {len(wrong_split)} Path value(s) point outside the {split!r} split:{_listing(wrong_split)}\n"
            f"Every path in {split}.csv must begin with 'CheXpert-v1.0-small/{split}/'."
        )
    if wrong_view:
        raise DataError(
            f"{source}: column 'Frontal/Lateral' disagrees with the Path:{_listing(wrong_view)}\n"
            f"It must be 'Frontal' for view*_frontal.* images and 'Lateral' for view*_lateral.* images."
        )
    first: dict[str, int] = {}
    duplicated = []
    for position, path in enumerate(frame["Path"]):
        if path in first:
            duplicated.append(f"line {csv_line(position)} repeats line {first[path]}: {path!r}")
        else:
            first[path] = csv_line(position)
    if duplicated:
        raise DataError(f"{source}: {len(duplicated)} Path value(s) listed twice:{_listing(duplicated)}\n"
                        "Keep one row per image.")  # fmt: skip


def check_not_empty(frame: pd.DataFrame, source: str) -> None:
    if len(frame) == 0:
        raise DataError(f"{source}: the split is empty (a header and no rows). Restore the CSV from the archive.")


def check_patient_overlap(train: pd.DataFrame, valid: pd.DataFrame, train_source: str, valid_source: str) -> None:
    """No patient may be in both splits (it would leak training images into the evaluation)."""
    train_patients = set(patients_of(train["Path"]))
    both = sorted(set(patients_of(valid["Path"])) & train_patients)
    if both:
        raise DataError(
            f"{len(both)} patient(s) appear in both {train_source} and {valid_source}:{_listing(both)}\n"
            f"Remove them from one of the two splits."
        )


def patients_of(paths: Iterable[str]) -> list[str]:
    return [parse_path(p).patient for p in paths]


def in_chunks(function: Callable[[Sequence], list], items: Sequence, threads: int, chunk: int = 512) -> list:
    """``function`` over consecutive chunks of ``items`` on ``threads`` threads, the results joined in order. One
    task per chunk, not per item: 223k futures alone would take some 300 MB and seconds of overhead."""
    chunks = [items[i : i + chunk] for i in range(0, len(items), chunk)]
    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        return [result for results in pool.map(function, chunks) for result in results]


def _missing_in(files: Sequence[tuple[str, str]]) -> list[str]:
    return [path for path, file in files if not os.path.isfile(file)]


def find_missing(root: str | os.PathLike, paths: Sequence[str], threads: int = 1, chunk: int = 512) -> list[str]:
    """The paths (in their order) that are not files under ``root``, checked by ``threads`` threads (a stat
    releases the GIL; on a network file system each one is a round trip, so they overlap)."""
    return in_chunks(_missing_in, [(p, os.path.join(root, p)) for p in paths], threads, chunk)


def decode_error(file: str | os.PathLike) -> str | None:
    """Fully decode one image as the cache will (a JPEG at reduced scale through draft mode, which still reads every
    coded block; a .dcm with pydicom).

    Returns None when the image decodes, else the reason.
    """
    try:
        check_decodes(file)
        return None
    except Exception as exc:  # PIL raises many types (OSError, SyntaxError, ValueError, ...)
        return f"{type(exc).__name__}: {exc}"


def _undecodable_in(files: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(path, error) for path, file in files if (error := decode_error(file)) is not None]


def find_undecodable(root: str | os.PathLike, paths: Sequence[str], threads: int = 1) -> list[tuple[str, str]]:
    """(path, reason) of each image that does not decode, in the paths' order."""
    return in_chunks(_undecodable_in, [(p, os.path.join(root, p)) for p in paths], threads, chunk=64)


def check_images(root: str | os.PathLike, paths: Sequence[str], source: str, threads: int = 1) -> None:
    missing = find_missing(root, paths, threads)
    if missing:
        line = {path: csv_line(position) for position, path in enumerate(paths)}
        listed = [f"line {line[path]}: {path}" for path in missing]
        raise DataError(
            f"{source}: {len(missing)} of {len(paths)} listed image(s) are missing under {root}:{_listing(listed)}\n"
            f"Download/extract the complete dataset there, or set dataset.root to the folder that contains it."
        )
    broken = find_undecodable(root, paths, threads)
    if broken:
        items = [f"{p} ({e})" for p, e in broken]
        raise DataError(
            f"{source}: {len(broken)} image(s) cannot be decoded:{_listing(items)}\n"
            f"Replace them with intact copies (CheXpert's from its archive; your own .png or .dcm files from their "
            f"source)."
        )


def validate_split(frame: pd.DataFrame, source: str, split: str, folder: str | None = None) -> None:
    """All the checks that need only the CSV (no image files)."""
    check_columns(frame.columns, source)
    check_not_empty(frame, source)
    check_paths(frame, source, split, folder)
    check_labels(frame, source, split)


def validate_dataset(
    root: str | os.PathLike, csvs: dict[str, str | os.PathLike], threads: int = 1, folder: str | None = None
) -> dict:
    """Validate train and valid CSVs and their images; return a summary. Raises DataError on the first problem.

    ``folder``: the dataset folder the CSVs are read from (CheXpert-v1.0-small or CheXpert-v1.0), which every Path
    must begin with."""
    frames = {}
    for split in SPLITS:
        source = str(csvs[split])
        frame = read_csv(source)
        validate_split(frame, source, split, folder)
        frames[split] = frame
    check_patient_overlap(frames["train"], frames["valid"], str(csvs["train"]), str(csvs["valid"]))
    for split in SPLITS:
        check_images(root, frames[split]["Path"].tolist(), str(csvs[split]), threads)
    summary = {}
    for split, frame in frames.items():
        parts = [parse_path(p) for p in frame["Path"]]
        summary[split] = {
            "images": len(frame),
            "patients": len({p.patient for p in parts}),
            "studies": len({(p.patient, p.study) for p in parts}),
            "frontal": sum(p.view == "frontal" for p in parts),
            "lateral": sum(p.view == "lateral" for p in parts),
        }
    return summary




def require_validated(report_file: str | os.PathLike | None, csv: str | os.PathLike) -> None:
    """Refuse a CSV that is not one the validation step passed (nothing runs on unvalidated data)."""
    if report_file is None:
        return
    import json

    from chexpertnet.fileio import sha256_file

    report = json.loads(Path(report_file).read_text())
    if sha256_file(csv) not in report["csv_sha256"].values():
        raise DataError(f"{csv} is not the CSV that {report_file} validated (it changed since): rerun validation")


def default_root(csv: str | os.PathLike) -> Path:
    """The folder that CSV paths are relative to: CheXpert's CSVs sit in the dataset folder under it."""
    return Path(csv).absolute().parent.parent

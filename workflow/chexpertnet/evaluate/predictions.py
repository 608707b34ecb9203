"""Reading the predict step's CSVs of every run (experiment, seed) into patient-level scores."""

from __future__ import annotations

import os
from collections.abc import Iterable

import pandas as pd

from chexpertnet.data.chexpert import patients_of, read_csv
from chexpertnet.errors import DataError
from chexpertnet.evaluate.scoring import PatientScores, join_labels


def load_experiments(
    labels_csv: str | os.PathLike, runs: Iterable[tuple[str, int, str | os.PathLike]], aggregate: str = "mean"
) -> dict[str, PatientScores]:
    """{experiment: PatientScores} from (experiment, seed, predictions CSV) triples, in the order experiments first
    appear; seeds sorted. Every image must have a label, and every seed of an experiment must predict the same
    images; errors name the file and say how to fix it."""
    return score_frames(labels_csv, [(name, seed, str(path), None) for name, seed, path in runs], aggregate)


def load_epochs(
    labels_csv: str | os.PathLike, runs: Iterable[tuple[str, int, str | os.PathLike]], aggregate: str = "mean"
) -> dict[str, list[PatientScores]]:
    """{experiment: [PatientScores of epoch 1, 2, ...]} from the trainings' per-epoch prediction CSVs (column
    ``epoch``); every seed of an experiment must have the same epochs."""
    frames = []
    epochs_of: dict[str, set] = {}
    for name, seed, path in runs:
        table = pd.read_csv(path, dtype={"Path": str})
        if "epoch" not in table.columns:
            raise DataError(f"{path}: no 'epoch' column; it is not a training's valid_epochs.csv (rerun the training)")
        found = tuple(sorted(table["epoch"].unique()))
        if epochs_of.setdefault(name, {found}) != {found}:
            raise DataError(f"{path}: seed {seed} of {name} has epochs {found}, its other seeds "
                            f"{sorted(epochs_of[name])[0]}; rerun its training")  # fmt: skip
        for epoch, part in table.groupby("epoch", sort=True):
            frames.append((f"{name}\0{int(epoch)}", seed, str(path), part.drop(columns="epoch")))
    scored = score_frames(labels_csv, frames, aggregate)
    out: dict[str, list[PatientScores]] = {}
    for key, scores in scored.items():
        name, _ = key.split("\0")
        out.setdefault(name, []).append(scores)
    return out


def score_frames(
    labels_csv: str | os.PathLike, runs: Iterable[tuple[str, int, str, pd.DataFrame | None]], aggregate: str = "mean"
) -> dict[str, PatientScores]:
    """As :func:`load_experiments` for (key, seed, file name, frame or None to read the file) entries."""
    labels = read_csv(labels_csv)
    grouped: dict[str, list[tuple[int, str, pd.DataFrame | None]]] = {}
    for name, seed, path, frame in runs:
        grouped.setdefault(name, []).append((int(seed), str(path), frame))
    out = {}
    for name, entries in grouped.items():
        paths, image_scores, image_labels, seeds = None, [], None, []
        for seed, path, given in sorted(entries, key=lambda e: e[0]):
            seeds.append(seed)
            frame = pd.read_csv(path, dtype={"Path": str}) if given is None else given
            try:
                p, scores, image_labels = join_labels(frame, labels, path, str(labels_csv))
            except ValueError as e:
                raise DataError(str(e)) from None
            if paths is not None and p != paths:
                raise DataError(
                    f"{path}: seed {seed} of {name} predicts other images than its other seeds; rerun its predict step"
                )
            paths = p
            image_scores.append(scores)
        out[name] = PatientScores.from_images(patients_of(paths), image_scores, image_labels, aggregate, tuple(seeds))
    return out

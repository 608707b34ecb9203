"""Reading the predict step's CSVs of every run (experiment, seed) into patient-level scores."""

from __future__ import annotations

import os
from collections.abc import Iterable

import pandas as pd

from chexpertnet.chexpert import DataError, patients_of, read_csv
from chexpertnet.scoring import PatientScores, join_labels


def load_experiments(
    labels_csv: str | os.PathLike, runs: Iterable[tuple[str, int, str | os.PathLike]], aggregate: str = "mean"
) -> dict[str, PatientScores]:
    """{experiment: PatientScores} from (experiment, seed, predictions CSV) triples, in the order experiments first
    appear; seeds sorted. Every image must have a label, and every seed of an experiment must predict the same
    images; errors name the file and say how to fix it."""
    labels = read_csv(labels_csv)
    grouped: dict[str, list[tuple[int, str]]] = {}
    for name, seed, path in runs:
        grouped.setdefault(name, []).append((int(seed), str(path)))
    out = {}
    for name, entries in grouped.items():
        paths, image_scores, image_labels = None, [], None
        for seed, path in sorted(entries):
            frame = pd.read_csv(path, dtype={"Path": str})
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
        out[name] = PatientScores.from_images(patients_of(paths), image_scores, image_labels, aggregate)
    return out

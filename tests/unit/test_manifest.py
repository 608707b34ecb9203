"""Labels after the uncertainty policy, the frontal substitution rule and the paper's class weights."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from chexpertnet.chexpert import read_csv
from chexpertnet.cli import main
from chexpertnet.manifest import (
    MASK_PREFIX,
    build_manifest,
    class_counts,
    class_weights,
    frontal_substitution,
    label_classes,
    weights_table,
)
from chexpertnet.observations import OBSERVATIONS

RAW = pd.DataFrame({"a": ["1.0", "0.0", "-1.0", ""], "b": ["", "-1.0", "-1.0", "1.0"]})


@pytest.mark.parametrize(
    ("uncertainty", "blank", "classes", "mask"),
    [
        ("multiclass", "negative", [[1, 0], [0, 2], [2, 2], [0, 1]], [[1, 1], [1, 1], [1, 1], [1, 1]]),
        ("ones", "negative", [[1, 0], [0, 1], [1, 1], [0, 1]], [[1, 1], [1, 1], [1, 1], [1, 1]]),
        ("zeros", "negative", [[1, 0], [0, 0], [0, 0], [0, 1]], [[1, 1], [1, 1], [1, 1], [1, 1]]),
        ("ignore", "negative", [[1, 0], [0, 0], [0, 0], [0, 1]], [[1, 1], [1, 0], [0, 0], [1, 1]]),
        ("multiclass", "ignore", [[1, 0], [0, 2], [2, 2], [0, 1]], [[1, 0], [1, 1], [1, 1], [0, 1]]),
    ],
)
def test_label_policies(uncertainty, blank, classes, mask):
    got_classes, got_mask = label_classes(RAW, uncertainty, blank)
    np.testing.assert_array_equal(got_classes, classes)
    np.testing.assert_array_equal(got_mask, mask)


def test_unknown_policy_named():
    with pytest.raises(ValueError, match="'maybe' is not one of"):
        label_classes(RAW, "maybe", "negative")


def test_class_weights_are_the_papers_and_zero_for_absent_classes():
    counts = np.array([[6, 3, 1], [10, 0, 0], [0, 0, 0]])
    w = class_weights(counts)
    np.testing.assert_allclose(w[0], [10 / 6, 10 / 3, 10 / 1])
    np.testing.assert_array_equal(w[1], [1.0, 0.0, 0.0])
    np.testing.assert_array_equal(w[2], [0.0, 0.0, 0.0])
    assert np.isfinite(w).all()


def test_class_counts_skip_masked():
    classes = np.array([[0, 1], [2, 1], [2, 0]])
    mask = np.array([[1, 0], [1, 1], [0, 1]])
    np.testing.assert_array_equal(class_counts(classes, mask), [[1, 0, 1], [1, 1, 0]])


def _frame(rows):
    return pd.DataFrame(rows, columns=["Path", "patient", "view"])


def test_frontal_substitution_keeps_counts_per_patient_and_is_seeded():
    rows = [
        ("p1f1", "p1", "frontal"), ("p1l1", "p1", "lateral"), ("p1l2", "p1", "lateral"),
        ("p2f1", "p2", "frontal"), ("p2f2", "p2", "frontal"), ("p2l1", "p2", "lateral"),
        ("p3f1", "p3", "frontal"),
        ("p4l1", "p4", "lateral"), ("p4l2", "p4", "lateral"),
    ]  # fmt: skip
    frame = _frame(rows)
    out, report = frontal_substitution(frame, seed=3)
    assert (out["view"] == "frontal").all()
    # counts kept for every patient that has a frontal image; the lateral-only patient is dropped and reported
    kept = frame[frame["patient"] != "p4"]
    assert out.groupby("patient").size().to_dict() == kept.groupby("patient").size().to_dict()
    assert report["patients_dropped"] == ["p4"] and report["images_dropped"] == 2
    assert report["patients_substituted"] == 2 and report["images_substituted"] == 3
    subs = out[out["substitutes_for"] != ""]
    # each substitute is a frontal of the same patient as the lateral it replaces; each lateral replaced once
    assert sorted(subs["substitutes_for"]) == ["p1l1", "p1l2", "p2l1"]
    for path, patient, replaced in zip(subs["Path"], subs["patient"], subs["substitutes_for"], strict=True):
        assert path.startswith(patient + "f") and replaced.startswith(patient + "l")
    again, _ = frontal_substitution(frame, seed=3)
    pd.testing.assert_frame_equal(out, again)
    draws = {tuple(frontal_substitution(frame, seed=s)[0]["Path"]) for s in range(20)}
    assert len(draws) > 1, "the seed must change which frontal images are drawn"


def test_build_manifest_both_and_frontal(dataset):
    _, csvs = dataset
    table = read_csv(csvs["train"])
    both, summary = build_manifest(table, "both", "multiclass", "negative", seed=0)
    assert len(both) == 8 and summary["images_after"] == 8 and (both["substitutes_for"] == "").all()
    assert list(both["patient"].unique()) == ["patient00001", "patient00002", "patient00003", "patient00004"]
    frontal, summary = build_manifest(table, "frontal", "multiclass", "negative", seed=0)
    # 8 images; patient 4 (1 lateral only) dropped; laterals of patients 1 and 2 substituted
    assert summary["images_before"] == 8 and summary["images_after"] == 7
    assert summary["patients_dropped"] == ["patient00004"] and summary["images_substituted"] == 3
    assert (frontal["view"] == "frontal").all() and summary["lateral_after"] == 0
    # a substitute carries the labels of the frontal image it is (the image decides the labels)
    by_path = both.set_index("Path")
    for _, row in frontal.iterrows():
        assert list(row[list(OBSERVATIONS)]) == list(by_path.loc[row["Path"], list(OBSERVATIONS)])


def test_valid_frontal_is_frontal_only(dataset):
    _, csvs = dataset
    frontal, summary = build_manifest(read_csv(csvs["valid"]), "frontal", "multiclass", "negative", seed=0)
    assert list(frontal["Path"].str.endswith("_frontal.jpg")) == [True, True]
    assert summary["images_substituted"] == 0 and summary["split"] == "valid"


def test_manifest_cli_writes_manifest_summary_and_weights(dataset, tmp_path):
    _, csvs = dataset
    out = tmp_path / "m" / "train.csv"
    assert main(["manifest", "--csv", str(csvs["train"]), "--views", "frontal", "--seed", "1", "--out", str(out)]) == 0
    manifest = pd.read_csv(out)
    weights = pd.read_csv(out.with_suffix(".weights.csv"))
    assert list(weights["observation"]) == list(OBSERVATIONS)
    counts = weights[["n_negative", "n_positive", "n_uncertain"]].to_numpy()
    assert counts.sum(axis=1).tolist() == [len(manifest)] * 14  # blank -> negative, nothing masked
    assert (manifest[[MASK_PREFIX + o for o in OBSERVATIONS]] == 1).all().all()
    np.testing.assert_allclose(weights[["w_negative", "w_positive", "w_uncertain"]], class_weights(counts))
    assert out.with_suffix(".summary.json").exists()


def test_weights_table_counts_match_manifest(dataset):
    _, csvs = dataset
    manifest, _ = build_manifest(read_csv(csvs["train"]), "both", "ignore", "ignore", seed=0)
    table = weights_table(manifest)
    assert (table["n_ignored"] + table[["n_negative", "n_positive", "n_uncertain"]].sum(axis=1) == 8).all()
    assert (table["n_uncertain"] == 0).all() and (table["w_uncertain"] == 0).all()

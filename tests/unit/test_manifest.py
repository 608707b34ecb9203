"""Labels after the uncertainty policy, the frontal substitution rule and the paper's class weights."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from chexpertnet.cli import main
from chexpertnet.data.chexpert import read_csv
from chexpertnet.data.manifest import (
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


def reference_frontal_substitution(frame: pd.DataFrame, seed: int) -> tuple[pd.DataFrame, dict]:
    """The rule as first written, one patient at a time (kept here as the reference): patients in sorted order;
    each one's frontal images, then for each of its k laterals one frontal drawn by ``integers(0, n_frontal,
    size=k)`` from one generator seeded once; patients without a frontal image are dropped."""
    rng = np.random.default_rng(seed)
    out, substituted, dropped = [], [], []
    for patient, rows in frame.groupby("patient", sort=True):
        frontal = rows[rows["view"] == "frontal"]
        lateral = rows[rows["view"] == "lateral"]
        if len(frontal) == 0:
            dropped.append(patient)
            continue
        block = frontal.assign(substitutes_for="")
        if len(lateral):
            picks = rng.integers(0, len(frontal), size=len(lateral))
            extra = frontal.iloc[picks].assign(substitutes_for=lateral["Path"].to_numpy())
            block = pd.concat([block, extra])
            substituted.append(patient)
        out.append(block)
    rows = pd.concat(out, ignore_index=True) if out else frame.iloc[:0].assign(substitutes_for="")
    report = {
        "patients_substituted": len(substituted),
        "images_substituted": int((rows["substitutes_for"] != "").sum()),
        "patients_dropped": dropped,
        "images_dropped": int(frame["patient"].isin(dropped).sum()),
    }
    return rows, report


def synthetic_training_rows(n_patients: int, seed: int) -> pd.DataFrame:
    """CheXpert-like rows in a shuffled order: 0-6 frontal and 0-4 lateral images per patient (some lateral-only,
    some with one frontal, some with no lateral), with labels, so the rows' other columns travel along."""
    rng = np.random.default_rng(seed)
    rows = []
    for p in rng.permutation(n_patients):
        patient = f"patient{p:05d}"
        n_frontal = int(rng.choice([0, 1, 1, 2, 3, 6], p=[0.05, 0.3, 0.2, 0.25, 0.15, 0.05]))
        n_lateral = int(rng.integers(0, 5)) if n_frontal else int(rng.integers(1, 3))
        for view, count in (("frontal", n_frontal), ("lateral", n_lateral)):
            rows += [(f"{patient}/study{i + 1}/view1_{view}.jpg", patient, view) for i in range(count)]
    frame = pd.DataFrame(rows, columns=["Path", "patient", "view"]).sample(frac=1, random_state=seed)
    frame = frame.reset_index(drop=True)
    for observation in OBSERVATIONS[:3]:
        frame[observation] = rng.integers(0, 3, len(frame)).astype(np.int8)
    return frame


@pytest.mark.parametrize("seed", [0, 1, 12345])
def test_vectorised_frontal_substitution_equals_the_reference(seed):
    frame = synthetic_training_rows(1500, seed)
    assert len(frame) > 3000
    out, report = frontal_substitution(frame, seed)
    expected, expected_report = reference_frontal_substitution(frame, seed)
    pd.testing.assert_frame_equal(out, expected)
    assert report == expected_report
    # the cases the rule distinguishes all occur
    views = frame.groupby("patient")["view"]
    assert report["patients_dropped"] and report["images_dropped"] > len(report["patients_dropped"])
    assert views.apply(lambda v: (v == "frontal").sum() == 1 and (v == "lateral").sum() > 1).any()
    assert report["images_substituted"] == (frame["view"] == "lateral").sum() - report["images_dropped"]


def test_frontal_substitution_of_no_substitutable_rows_is_empty():
    frame = _frame([("p1l1", "p1", "lateral")])
    out, report = frontal_substitution(frame, seed=0)
    _, expected_report = reference_frontal_substitution(frame, seed=0)
    assert len(out) == 0 and list(out.columns) == [*frame.columns, "substitutes_for"]
    assert report == expected_report == {
        "patients_substituted": 0, "images_substituted": 0, "patients_dropped": ["p1"], "images_dropped": 1,
    }  # fmt: skip


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

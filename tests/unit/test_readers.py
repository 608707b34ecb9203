"""chexpertnet readers: every number against scikit-learn on the expanded data, the curve's ties, the pairing of the
bootstrap, the readers' files in the CheXpert test set's layouts, and bad input (exit 2, a message, nothing written)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import matthews_corrcoef, recall_score, roc_auc_score, roc_curve

from chexpertnet.cli import main
from chexpertnet.evaluate.metrics import bootstrap_counts
from chexpertnet.evaluate.roc import roc_points, sensitivity_at
from chexpertnet.observations import COMPETITION_TASKS, OBSERVATIONS

PREFIX = "CheXpert-v1.0/test"


def studies(n: int, first: int = 64541) -> list[str]:
    return [f"{PREFIX}/patient{first + i}/study1" for i in range(n)]


def write(path, frame: pd.DataFrame) -> str:
    frame.to_csv(path, index=False, lineterminator="\n")
    return str(path)


def study_frame(keys, values: np.ndarray, columns) -> pd.DataFrame:
    frame = pd.DataFrame(values, columns=list(columns))
    frame.insert(0, "Study", keys)
    return frame


@pytest.fixture
def files(tmp_path):
    """groundtruth.csv (14 observations), three readers with the columns in other orders and the studies shuffled,
    leaderboard-style predictions of the five competition tasks (scores outside [0, 1]) and decisions."""
    rng = np.random.default_rng(7)
    n = 120
    keys = studies(n)
    y = (rng.random((n, 14)) < 0.35).astype(int)
    gt = study_frame(keys, y, OBSERVATIONS)
    gt = gt[["Study", *sorted(OBSERVATIONS)]]  # groundtruth.csv's order is alphabetical
    competition = [OBSERVATIONS.index(o) for o in COMPETITION_TASKS]
    scores = 3 * y[:, competition] + rng.normal(0, 2.5, (n, 5)) - 1  # outside [0, 1]
    readers = {}
    for r, (flip, seed) in enumerate(((0.12, 1), (0.2, 2), (0.3, 3))):
        reads = np.where(np.random.default_rng(seed).random((n, 14)) < flip, 1 - y, y)
        frame = study_frame(keys, reads, OBSERVATIONS)[["Study", *reversed(OBSERVATIONS)]]
        shuffled = frame.sample(frac=1, random_state=r)
        readers[f"bc{4 + 2 * r}"] = (reads, write(tmp_path / f"bc{4 + 2 * r}.csv", shuffled))
    decisions = (scores > 0.5).astype(int)
    paths = {
        "labels": write(tmp_path / "groundtruth.csv", gt),
        "predictions": write(tmp_path / "model_predictions.csv",
                             study_frame(keys, scores, COMPETITION_TASKS).sample(frac=1, random_state=9)),
        "decisions": write(tmp_path / "model_decisions.csv", study_frame(keys, decisions, COMPETITION_TASKS)),
        **{name: path for name, (_, path) in readers.items()},
    }  # fmt: skip
    return {"y": y, "scores": scores, "decisions": decisions, "readers": readers, "paths": paths, "n": n}


def run(paths: dict, tmp_path, *extra: str, readers=None) -> tuple[int, pd.DataFrame | None]:
    out = tmp_path / "out" / "readers.csv"
    argv = ["readers", "--labels", paths["labels"], "--predictions", paths["predictions"], "--readers",
            *(readers or [paths[k] for k in paths if k.startswith("bc")]), "--out", str(out),
            "--counts", str(tmp_path / "out" / "counts.csv"), "--resamples", "200", *extra]  # fmt: skip
    code = main(argv)
    return code, (pd.read_csv(out) if out.exists() else None)


def test_every_number_equals_scikit_learn(files, tmp_path):
    reader_files = [p for _, p in files["readers"].values()]
    code, table = run(files["paths"], tmp_path, "--decisions", files["paths"]["decisions"], readers=reader_files)
    assert code == 0
    assert len(table) == 5 * 3 and set(table["observation"]) == set(COMPETITION_TASKS)
    for j, observation in enumerate(COMPETITION_TASKS):
        y = files["y"][:, OBSERVATIONS.index(observation)]
        s = files["scores"][:, j]
        fpr, tpr, _ = roc_curve(y, s, drop_intermediate=False)
        for name, (reads, _) in files["readers"].items():
            row = table[(table["observation"] == observation) & (table["reader"] == name)].iloc[0]
            read = reads[:, OBSERVATIONS.index(observation)]
            sensitivity = recall_score(y, read)
            specificity = recall_score(1 - y, 1 - read)
            reader_fpr = ((read == 1) & (y == 0)).sum() / (y == 0).sum()
            model = np.interp(reader_fpr, fpr, tpr)
            assert row["sensitivity"] == pytest.approx(sensitivity, abs=1e-6)
            assert row["specificity"] == pytest.approx(specificity, abs=1e-6)
            assert row["auc"] == pytest.approx(roc_auc_score(y, s), abs=1e-6)
            assert row["model_sensitivity"] == pytest.approx(model, abs=1e-6)
            assert row["below"] == int(model > sensitivity)
            assert row["reader_mcc"] == pytest.approx(matthews_corrcoef(y, read), abs=1e-6)
            assert row["model_mcc"] == pytest.approx(matthews_corrcoef(y, files["decisions"][:, j]), abs=1e-6)
            assert row["sensitivity_low"] <= row["sensitivity"] <= row["sensitivity_high"]
    counts = pd.read_csv(tmp_path / "out" / "counts.csv").set_index("observation")
    below = table.groupby("observation")["below"].sum()
    assert (counts.loc[below.index, "readers_below"] == below).all()
    shares = counts[[f"share_{k}" for k in range(4)]]
    assert np.allclose(shares.sum(axis=1), 1.0)


def test_intervals_are_percentiles_of_scikit_learn_on_the_resampled_studies(files, tmp_path):
    """The paired bootstrap redone by hand: each resample's studies repeated as drawn, every quantity of the model
    and the reader computed by scikit-learn on that same expanded data."""
    resamples, seed = 60, 3
    name, (reads, path) = next(iter(files["readers"].items()))
    code, table = run(files["paths"], tmp_path, "--decisions", files["paths"]["decisions"], "--resamples",
                      str(resamples), "--seed", str(seed), readers=[path])  # fmt: skip
    assert code == 0
    counts = bootstrap_counts(files["n"], resamples, seed)  # one study per patient, patients in the labels' order
    observation = "Edema"
    j, k = COMPETITION_TASKS.index(observation), OBSERVATIONS.index(observation)
    draws = {key: [] for key in ("sensitivity", "specificity", "auc", "sensitivity_gap", "mcc_gap", "below")}
    for c in counts:
        take = np.repeat(np.arange(files["n"]), c)
        y, s, read, decided = files["y"][take, k], files["scores"][take, j], reads[take, k], files["decisions"][take, j]
        fpr, tpr, _ = roc_curve(y, s, drop_intermediate=False)
        reader_fpr = ((read == 1) & (y == 0)).sum() / (y == 0).sum()
        sensitivity = recall_score(y, read)
        draws["sensitivity"].append(sensitivity)
        draws["specificity"].append(recall_score(1 - y, 1 - read))
        draws["auc"].append(roc_auc_score(y, s))
        draws["sensitivity_gap"].append(np.interp(reader_fpr, fpr, tpr) - sensitivity)
        draws["mcc_gap"].append(matthews_corrcoef(y, decided) - matthews_corrcoef(y, read))
    row = table[(table["observation"] == observation) & (table["reader"] == name)].iloc[0]
    for key in ("sensitivity", "specificity", "auc", "sensitivity_gap", "mcc_gap"):
        low, high = np.percentile(draws[key], [2.5, 97.5])
        assert row[f"{key}_low"] == pytest.approx(low, abs=1e-6), key
        assert row[f"{key}_high"] == pytest.approx(high, abs=1e-6), key


def _curve_through(tmp_path, reader_point: tuple[int, int]) -> tuple[pd.DataFrame, dict]:
    """10 positives and 10 negatives; scores so that the curve rises to 7 true positives at no false positive, runs
    flat to a corner at (3 false positives, 7 true positives) and on, and a reader with (true positives, false
    positives) = ``reader_point``."""
    # descending scores: 7 positives, 4 negatives, then 3 positives and 6 negatives
    y = np.array([1] * 7 + [0] * 4 + [1] * 3 + [0] * 6)
    s = np.linspace(2, 0, 20)
    tp, fp = reader_point
    read = np.zeros(20, dtype=int)
    read[np.flatnonzero(y == 1)[:tp]] = 1
    read[np.flatnonzero(y == 0)[:fp]] = 1
    keys = studies(20)
    paths = {
        "labels": write(tmp_path / "gt.csv", study_frame(keys, np.tile(y[:, None], (1, 14)), OBSERVATIONS)),
        "predictions": write(tmp_path / "p.csv", study_frame(keys, s[:, None], ["Edema"])),
        "bc4": write(tmp_path / "bc4.csv", study_frame(keys, np.tile(read[:, None], (1, 14)), OBSERVATIONS)),
    }
    code, table = run(paths, tmp_path)
    assert code == 0
    return table.iloc[0], {"y": y, "s": s, "read": read}


@pytest.mark.parametrize(("point", "below"), [((7, 3), 0), ((8, 3), 0), ((6, 3), 1), ((5, 4), 1), ((8, 2), 0)])
def test_a_point_on_the_curve_is_not_below_it(tmp_path, point, below):
    """(7 TP, 3 FP) is a vertex of the curve: a tie, not below. (8, 3) and (8, 2) lie above the curve (which is at
    7 true positives there); (6, 3) and (5, 4) below it."""
    row, data = _curve_through(tmp_path, point)
    fpr, tpr, _ = roc_curve(data["y"], data["s"], drop_intermediate=False)
    expected = np.interp(point[1] / 10, fpr, tpr)
    assert row["model_sensitivity"] == pytest.approx(expected, abs=1e-7)
    assert row["sensitivity"] == point[0] / 10
    assert row["below"] == below
    if point == (7, 3):
        assert row["model_sensitivity"] == row["sensitivity"] == 0.7  # exactly: the tie is not rounding's


def test_a_point_on_a_sloped_segment_is_a_tie(tmp_path):
    """Tied scores between positives and negatives make a sloped segment (constant scores: the diagonal); a reader
    a third of the way along it is on the curve (to rounding), not below."""
    y = np.array([1, 1, 0, 1, 0, 0] * 5)
    # constant scores: every study tied, the curve is the diagonal from (0, 0) to (1, 1)
    keys = studies(30)
    read = np.zeros(30, dtype=int)
    read[np.flatnonzero(y == 1)[:5]] = 1  # sensitivity 1/3
    read[np.flatnonzero(y == 0)[:5]] = 1  # false-positive rate 1/3
    paths = {
        "labels": write(tmp_path / "gt.csv", study_frame(keys, np.tile(y[:, None], (1, 14)), OBSERVATIONS)),
        "predictions": write(tmp_path / "p.csv", study_frame(keys, np.full((30, 1), 0.3), ["Edema"])),
        "bc4": write(tmp_path / "bc4.csv", study_frame(keys, np.tile(read[:, None], (1, 14)), OBSERVATIONS)),
    }
    code, table = run(paths, tmp_path)
    assert code == 0
    row = table.iloc[0]
    assert row["auc"] == 0.5  # constant scores: the diagonal
    assert row["model_sensitivity"] == pytest.approx(1 / 3, abs=1e-7) and row["below"] == 0


def test_a_reader_identical_to_the_models_decisions_has_a_zero_width_mcc_difference(files, tmp_path):
    """The model and the reader are scored on the same resampled studies: with the same decisions their MCCs agree
    in every resample."""
    decisions = pd.read_csv(files["paths"]["decisions"])
    same = decisions.copy()
    for o in OBSERVATIONS:
        if o not in same:
            same[o] = 0
    reader = write(tmp_path / "twin.csv", same.sample(frac=1, random_state=4))
    code, table = run(files["paths"], tmp_path, "--decisions", files["paths"]["decisions"], readers=[reader])
    assert code == 0
    assert (table["mcc_gap"] == 0).all() and (table["mcc_gap_low"] == 0).all() and (table["mcc_gap_high"] == 0).all()
    assert (table["reader_mcc_high"] > table["reader_mcc_low"]).all()  # the MCC itself does vary


def test_image_level_predictions_are_aggregated_to_the_study(files, tmp_path):
    """The workflow's predictions (Path, one row per image) give a study the mean (or max) of its images."""
    rng = np.random.default_rng(1)
    gt = pd.read_csv(files["paths"]["labels"])
    rows = []
    for study in gt["Study"]:
        for view in ("view1_frontal", "view2_lateral")[: rng.integers(1, 3)]:
            rows.append({"Path": study.replace("CheXpert-v1.0/", "CheXpert-v1.0-small/") + f"/{view}.jpg",
                         **{o: rng.random() for o in OBSERVATIONS}})  # fmt: skip
    images = pd.DataFrame(rows)
    paths = {**files["paths"], "predictions": write(tmp_path / "images.csv", images)}
    for how in ("mean", "max"):
        code, table = run(paths, tmp_path, "--aggregate", how)
        assert code == 0 and set(table["observation"]) == set(OBSERVATIONS)
        study = images.assign(Study=images["Path"].str.rsplit("/", n=1).str[0].str.replace("-small", ""))
        per_study = study.groupby("Study")[list(OBSERVATIONS)].agg(how).loc[gt["Study"]]
        for o in ("Edema", "Support Devices"):
            row = table[(table["observation"] == o)].iloc[0]
            assert row["auc"] == pytest.approx(roc_auc_score(gt[o], per_study[o]), abs=1e-7)


def test_the_figure_and_markdown(files, tmp_path):
    figure, md = tmp_path / "f" / "roc.png", tmp_path / "f" / "readers.md"
    code, _ = run(files["paths"], tmp_path, "--decisions", files["paths"]["decisions"], "--figure", str(figure),
                  "--markdown", str(md), readers=[p for _, p in files["readers"].values()])  # fmt: skip
    assert code == 0 and figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = md.read_text()
    assert "| PlE | bc4 |" in text and "Δ MCC [95% CI]" in text and "paired patient bootstrap" in text


def test_sensitivity_at_a_rate_matches_numpy_interp_on_random_curves():
    rng = np.random.default_rng(3)
    for _ in range(50):
        n = int(rng.integers(5, 40))
        y = rng.integers(0, 2, n)
        y[:2] = [0, 1]
        s = rng.integers(0, 6, n).astype(float)  # many ties
        fpr, tpr = roc_points(s, y, np.ones((1, n)))
        ref_fpr, ref_tpr, _ = roc_curve(y, s, drop_intermediate=False)
        assert np.array_equal(fpr[0], ref_fpr) and np.array_equal(tpr[0], ref_tpr)
        rates = np.r_[ref_fpr, rng.random(5)]
        got = [sensitivity_at(fpr, tpr, np.array([r]))[0] for r in rates]
        assert np.allclose(got, np.interp(rates, ref_fpr, ref_tpr), atol=1e-12)


def test_few_positives_get_point_estimates_only(tmp_path):
    keys = studies(40)
    y = np.zeros((40, 14), dtype=int)
    y[:4, :] = 1  # 4 positives
    y[4:30, 5] = 1  # Edema: 30 positives, 10 negatives
    s = y[:, [5]] + np.linspace(0, 0.5, 40)[:, None]
    paths = {
        "labels": write(tmp_path / "gt.csv", study_frame(keys, y, OBSERVATIONS)),
        "predictions": write(tmp_path / "p.csv", study_frame(keys, np.c_[s, s], ["Edema", "Fracture"])),
        "bc4": write(tmp_path / "bc4.csv", study_frame(keys, y, OBSERVATIONS)),
    }
    code, table = run(paths, tmp_path)
    assert code == 0
    table = table.set_index("observation")
    assert not table.loc["Edema", "unstable"] and table.loc["Edema", "sensitivity_low"] == 1.0
    assert table.loc["Fracture", "unstable"] and np.isnan(table.loc["Fracture", "sensitivity_low"])
    assert table.loc["Fracture", "sensitivity"] == 1.0


def test_the_reader_intervals_cover_in_simulation():
    """Readers with known sensitivity 0.8 and specificity 0.9, 60 positive and 140 negative patients: the 95%
    intervals of the sensitivity and specificity cover the truth in about 95% of 300 simulated test sets."""
    from chexpertnet.evaluate.readers import evaluate

    rng = np.random.default_rng(11)
    keys = pd.Index([f"patient{i}/study1" for i in range(200)])
    covered = {"sensitivity": 0, "specificity": 0}
    trials = 300
    for t in range(trials):
        y = np.r_[np.ones(60), np.zeros(140)].astype(int)
        read = np.where(y == 1, rng.random(200) < 0.8, rng.random(200) < 0.1).astype(int)
        frame = pd.DataFrame({"Edema": y}, index=keys)
        table, _, _ = evaluate(frame, pd.DataFrame({"Edema": rng.random(200)}, index=keys),
                               {"r": pd.DataFrame({"Edema": read}, index=keys)}, resamples=400, seed=t)  # fmt: skip
        row = table.iloc[0]
        covered["sensitivity"] += row["sensitivity_low"] <= 0.8 <= row["sensitivity_high"]
        covered["specificity"] += row["specificity_low"] <= 0.9 <= row["specificity_high"]
    for key, hits in covered.items():
        assert hits / trials >= 0.91, (key, hits / trials)


BAD = [
    ("reader lacks a study", "bc4", lambda f: f.iloc[1:], "lacks 1 study of the labels", "patient64541/study1"),
    ("study not in the labels", "bc4", lambda f: pd.concat([f, f.iloc[[0]].assign(Study=f"{PREFIX}/patient9/study1")]),
     "study patient9/study1 is not in the labels", "line 122"),
    ("value other than 0/1", "bc4", lambda f: f.assign(Edema=f["Edema"].astype(object).where(f.index != 5, "2")),
     "line 7, Edema is '2'", "it must be 0 or 1"),
    ("blank read", "bc4", lambda f: f.assign(Edema=f["Edema"].astype(object).where(f.index != 0, "")),
     "line 2, Edema is ''", "0 or 1"),
    ("observation the labels lack", "labels", lambda f: f.drop(columns=["Edema"]), "no column for ['Edema']",
     "groundtruth.csv"),
    ("predictions short of the labels", "predictions", lambda f: f.iloc[:-3], "lacks 3 studies of the labels",
     "patient64658/study1, patient64659/study1, patient64660/study1"),
    ("a study twice", "predictions", lambda f: pd.concat([f, f.iloc[[2]]]),
     "line 122, study patient64543/study1 is listed twice", "also line 4"),
    ("a score that is not a number", "predictions", lambda f: f.assign(Edema=f["Edema"].astype(object).where(
        f.index != 3, "high")), "Edema is 'high'", "a finite number"),
    ("no Study column", "bc4", lambda f: f.rename(columns={"Study": "study"}), "neither a Study column", "bc4.csv"),
]


@pytest.mark.parametrize(("case", "which", "edit", "message", "names"), BAD, ids=[b[0] for b in BAD])
def test_bad_input_exits_2_naming_the_file_and_writes_nothing(files, tmp_path, capsys, case, which, edit, message,
                                                              names):  # fmt: skip
    paths = dict(files["paths"])
    frame = pd.read_csv(paths[which], dtype=str, keep_default_na=False)
    if which == "bc4":  # in the labels' order, so that the line numbers are known
        frame = frame.set_index("Study").loc[pd.read_csv(paths["labels"])["Study"]].reset_index()
    if which == "predictions":
        frame = frame.set_index("Study").loc[pd.read_csv(paths["labels"])["Study"]].reset_index()
    bad = tmp_path / "bad" / f"{which if which != 'labels' else 'groundtruth'}.csv"
    bad.parent.mkdir()
    write(bad, edit(frame))
    paths[which] = str(bad)
    out = tmp_path / "out"
    code, table = run(paths, tmp_path, "--markdown", str(out / "r.md"), "--figure", str(out / "r.png"),
                      readers=[paths["bc4"], paths["bc6"]])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and table is None
    assert message in err and names in err and str(bad) in err, err
    assert not out.exists() or not any(out.iterdir())

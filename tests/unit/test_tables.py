"""Experiment tables over seeds, paired comparisons, the paper beside us, and the tables/figures commands."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.metrics import roc_auc_score

from chexpertnet.cli import main
from chexpertnet.evaluate import tables as T
from chexpertnet.evaluate.metrics import holm
from chexpertnet.evaluate.scoring import (
    MEAN_DEFINED,
    MEAN_ESTIMABLE,
    MEAN_ROWS,
    PatientScores,
    compare,
    experiment_table,
    score_table,
)
from chexpertnet.observations import ABBREVIATIONS, CSV_COLUMNS, OBSERVATIONS
from conftest import REPO

MEAN_ROWS_LIST = list(MEAN_ROWS)

PAPER = yaml.safe_load((REPO / "workflow/data/paper_values.yaml").read_text())["experiments"]


def test_holm_matches_the_hand_computed_adjustment():
    np.testing.assert_allclose(holm(np.array([0.01, 0.04, 0.03, np.nan])), [0.03, 0.06, 0.06, np.nan])
    np.testing.assert_allclose(holm(np.array([0.5, 0.9])), [1.0, 1.0])
    assert np.isnan(holm(np.array([np.nan]))).all()


def _runs(seeds=3, patients=120, seed=0):
    rng = np.random.default_rng(seed)
    labels = (rng.random((patients, 14)) < 0.3).astype(float)
    labels[:, 12] = 0  # Fracture undefined
    scores = np.stack([rng.normal(labels * (0.5 + 0.2 * s), 1.0) for s in range(seeds)])
    return PatientScores(np.array([f"p{i:04d}" for i in range(patients)]), scores, labels)


def test_seed_mean_auc_by_epoch_is_each_seeds_mean_over_observations_defined_at_every_epoch():
    from chexpertnet.evaluate.epochs import seed_mean_auc_by_epoch

    per_epoch = [_runs(seeds=2, seed=e) for e in range(3)]
    per_epoch[1].labels[:, 4] = 0  # Lung Lesion undefined at epoch 2: left out of every epoch's mean
    got = seed_mean_auc_by_epoch(per_epoch)
    assert got.shape == (2, 3)
    used = [j for j in range(14) if j not in (4, 12)]
    for e, runs in enumerate(per_epoch):
        for s in range(2):
            expected = np.mean([roc_auc_score(runs.labels[:, j], runs.scores[s][:, j]) for j in used])
            assert got[s, e] == pytest.approx(expected, abs=1e-12)
    for runs in per_epoch:
        runs.labels[:] = 0
    assert np.isnan(seed_mean_auc_by_epoch(per_epoch)).all()


def test_experiment_table_is_mean_and_sd_over_seeds():
    runs = _runs()
    table = experiment_table(runs, resamples=300).set_index("observation")
    for j, o in enumerate(OBSERVATIONS):
        if o == "Fracture":
            assert math.isnan(table.loc[o, "auc"]) and math.isnan(table.loc[o, "sd"])
            continue
        per_seed = [roc_auc_score(runs.labels[:, j], s[:, j]) for s in runs.scores]
        assert table.loc[o, "auc"] == pytest.approx(np.mean(per_seed), abs=1e-12)
        assert table.loc[o, "sd"] == pytest.approx(np.std(per_seed, ddof=1), abs=1e-12)
        assert table.loc[o, "ci_low"] <= table.loc[o, "auc"] <= table.loc[o, "ci_high"]
    defined = [o for o in OBSERVATIONS if o != "Fracture"]
    assert table.loc[MEAN_DEFINED, "auc"] == pytest.approx(table.loc[defined, "auc"].mean(), abs=1e-12)
    assert (table["seeds"] == 3).all()


def test_one_seed_table_equals_the_score_step():
    runs = _runs(seeds=1)
    patients = np.repeat(runs.patients, 2)  # two images per patient, identical scores
    image_scores, image_labels = np.repeat(runs.scores[0], 2, axis=0), np.repeat(runs.labels, 2, axis=0)
    one = score_table(patients, image_scores, image_labels, resamples=300)
    table = experiment_table(runs, resamples=300)
    pd.testing.assert_frame_equal(one, table.drop(columns=["sd", "seeds"]))
    assert table["sd"].isna().all()


def test_compare_identical_experiments_gives_zero_and_p_1_and_detects_a_gain():
    runs = _runs(seeds=2)
    one = PatientScores(runs.patients, runs.scores[:1], runs.labels)
    same = compare(one, one, resamples=300).set_index("observation")
    defined = [o for o in same.index if o != "Fracture"]
    tested = [o for o in defined if o != MEAN_DEFINED]  # the mean over every defined observation: a point estimate
    assert (same.loc[defined, "delta"] == 0).all() and (same.loc[tested, "p"] == 1).all()
    # two seeds: the seeds' variation is drawn for each side, so Δ 0 gets an interval around 0 and a large p
    same = compare(runs, runs, resamples=300).set_index("observation")
    assert (same.loc[defined, "delta"] == 0).all() and (same.loc[tested, "p"] > 0.5).all()
    assert (same.loc[tested, "ci_low"] < 0).all() and (same.loc[tested, "ci_high"] > 0).all()
    assert math.isnan(same.loc[MEAN_DEFINED, "p"]) and math.isnan(same.loc[MEAN_DEFINED, "ci_low"])
    assert math.isnan(same.loc["Fracture", "delta"]) and math.isnan(same.loc["Fracture", "p_holm"])
    # the same two training seeds, each better by a like amount: paired seed by seed (with two unpaired seeds a side
    # the seeds' part is a t with 1 degree of freedom, and no gain of this size is detectable)
    runs = PatientScores(runs.patients, runs.scores, runs.labels, (0, 1))
    better = PatientScores(runs.patients, runs.scores + 2.0 * runs.labels, runs.labels, (0, 1))
    gain = compare(runs, better, resamples=2000).set_index("observation")
    assert gain.loc[MEAN_ESTIMABLE, "delta"] > 0.05 and gain.loc[MEAN_ESTIMABLE, "ci_low"] > 0
    assert gain.loc[MEAN_ESTIMABLE, "p"] < 0.05  # two seeds: the seeds' part is a t with 1 degree of freedom
    assert gain.loc[MEAN_ROWS_LIST, "p_holm"].isna().all()  # the means are not part of the Holm family
    # the grid's primary test, on one seed (patient sampling alone: every resample on the gain's side)
    gain1 = compare(one, PatientScores(one.patients, one.scores + 2.0 * one.labels, one.labels),
                    resamples=2000).set_index("observation")  # fmt: skip
    grid = T.delta_grid({"better": gain1.reset_index()})
    # one primary test, bold: the mean's CI; each observation's Holm-adjusted p (never 0: at least 2/2001, x 13)
    assert grid["mean"].iloc[0].startswith("**+") and grid["mean"].iloc[0].count("*") == 4
    assert gain1.loc["No Finding", "p_holm"] == pytest.approx(13 * 2 / 2001) and grid["NF"].iloc[0].count("*") == 4
    # DeLong beside the bootstrap: per observation, the seed-averaged test of delong_difference; none for the means
    from chexpertnet.evaluate.delong import delong_difference

    for j, o in enumerate(OBSERVATIONS):
        expected = delong_difference(runs.scores[..., j], better.scores[..., j], runs.labels[:, j], paired=True)
        assert gain.loc[o, "p_delong"] == pytest.approx(expected["p"], abs=1e-15, nan_ok=True)
        assert gain.loc[o, "delong_low"] == pytest.approx(expected["low"], abs=1e-15, nan_ok=True)
    assert gain.loc[MEAN_ROWS_LIST, "p_delong"].isna().all() and math.isnan(gain.loc["Fracture", "p_delong"])
    assert (gain.drop(index=["Fracture", *MEAN_ROWS_LIST])["p_delong"] < 0.05).all()
    assert (same.drop(index=["Fracture", *MEAN_ROWS_LIST])["p_delong"] == 1).all()


def test_compare_uses_only_patients_both_scored():
    runs = _runs(seeds=1)
    half = runs.subset(runs.patients[::2])
    result = compare(runs, half, resamples=100)
    assert (result["patients"] == len(half.patients)).all()
    with pytest.raises(ValueError, match="share no scored patient"):
        compare(runs.subset(runs.patients[:10]), runs.subset(runs.patients[10:20]), resamples=10)


def test_paper_vs_ours_recomputes_means_and_flags_the_papers_inconsistent_table_2():
    ours = {name: experiment_table(_runs(seeds=1, seed=i), resamples=100) for i, name in enumerate(PAPER)}
    frame = T.paper_vs_ours(PAPER, ours)
    values = frame[frame["abbreviation"] == "mean (values)"].set_index("experiment")
    stated = frame[frame["abbreviation"] == "mean (stated)"].set_index("experiment")
    assert values.loc["frontal", "paper"] == pytest.approx(0.8075, abs=5e-5)
    assert stated.loc["frontal", "paper"] == 0.7867 and "DISAGREES" in stated.loc["frontal", "note"]
    assert "DISAGREES" not in stated.loc["dataset_norm", "note"]  # 0.8381 vs 0.8383: within rounding
    assert "DISAGREES" not in stated.loc["scratch", "note"]
    assert math.isnan(values.loc["baseline", "paper"]) and stated.loc["baseline", "paper"] == 0.8236
    # the paper gives no baseline values: ours is still shown, the mean of our defined observations (by hand)
    base = ours["baseline"].set_index("abbreviation").loc[list(ABBREVIATIONS), "auc"]
    assert values.loc["baseline", "ours"] == pytest.approx(base.dropna().mean(), abs=1e-12)
    assert f"the mean of our {base.notna().sum()} defined observations" in values.loc["baseline", "note"]
    # the paper's stated mean is over every defined observation: ours beside it is mean_all, not the CI'd mean over
    # the observations with enough patients (here 40: about a third of the 120 patients are positive, so some fall out)
    rare = {name: experiment_table(_runs(seeds=1, seed=i), resamples=100, min_positives=40)
            for i, name in enumerate(PAPER)}  # fmt: skip
    beside = T.paper_vs_ours(PAPER, rare)
    for name, table in rare.items():
        by = table.set_index("abbreviation")
        defined = by.loc[list(ABBREVIATIONS), "auc"].dropna()
        assert by.loc["mean_all", "auc"] == pytest.approx(defined.mean(), abs=1e-12)
        assert by.loc["mean", "positives"] < by.loc["mean_all", "positives"] == len(defined)
        row = beside[(beside["experiment"] == name) & (beside["abbreviation"] == "mean (stated)")].iloc[0]
        assert row["ours"] == by.loc["mean_all", "auc"] != by.loc["mean", "auc"]
    row = frame[(frame["experiment"] == "scratch") & (frame["abbreviation"] == "LL")].iloc[0]
    assert row["paper"] == 0.206 and row["difference"] == pytest.approx(row["ours"] - 0.206)
    assert math.isnan(frame[(frame["experiment"] == "frontal") & (frame["abbreviation"] == "F")]["paper"].iloc[0])
    md = T.paper_vs_ours_markdown(frame, PAPER)
    assert "0.7867" in md and "0.8075" in md


def test_experiment_markdown_shows_abbreviations_na_and_sd():
    table = experiment_table(_runs(seeds=2), resamples=100)
    md = T.experiment_markdown("x", {"views": "both"}, table, PAPER["frontal"], 100, "mean")
    header = md.splitlines()[4]
    assert header == "| " + " | ".join([*ABBREVIATIONS, "mean_all"]) + " |"
    assert "n/a" in md and "±" in md and "Table 2" in md


# --- the commands end to end ----------------------------------------------------------------------------------------
def _write_dataset(tmp_path, experiments=("baseline", "frontal"), seeds=(0, 1)):
    rng = np.random.default_rng(11)
    paths = [f"CheXpert-v1.0-small/valid/patient{p:05d}/study1/view{v}_{'frontal' if v == 1 else 'lateral'}.jpg"
             for p in range(1, 81) for v in (1, 2)]  # fmt: skip
    labels = pd.DataFrame(np.repeat(rng.random((80, 14)) < 0.3, 2, axis=0), columns=list(OBSERVATIONS)).astype(float)
    labels["Fracture"] = 0.0
    frame = pd.DataFrame({"Path": paths, "Sex": "Male", "Age": 50, "Frontal/Lateral": "Frontal", "AP/PA": ""})
    pd.concat([frame, labels], axis=1)[list(CSV_COLUMNS)].to_csv(tmp_path / "valid.csv", index=False)
    runs = []
    for e, name in enumerate(experiments):
        for seed in seeds:
            keep = [i for i, p in enumerate(paths) if name != "frontal" or p.endswith("frontal.jpg")]
            pred = pd.DataFrame({"Path": [paths[i] for i in keep]})
            pred[list(OBSERVATIONS)] = rng.random((len(keep), 14)) * 0.5 + labels.to_numpy()[keep] * (0.2 + 0.1 * e)
            pred.to_csv(tmp_path / f"{name}{seed}.csv", index=False)
            (tmp_path / f"{name}{seed}.pt").write_bytes(f"checkpoint {name} {seed}".encode())
            (tmp_path / f"{name}{seed}.jsonl").write_text(
                "\n".join(json.dumps(r) for r in [
                    {"event": "train", "epoch": 1, "step": 2, "loss": 3.0},
                    {"event": "epoch", "epoch": 1, "step": 2, "valid_loss": 0.6},
                ]) + "\n"
            )  # fmt: skip
            runs.append((name, seed))
    return runs


def _tables_args(tmp_path, runs, out):
    args = ["tables", "--labels", str(tmp_path / "valid.csv"), "--paper", str(REPO / "workflow/data/paper_values.yaml"),
            "--resamples", "200", "--out-dir", str(out), "--config-hash", "abc"]  # fmt: skip
    for name in sorted({n for n, _ in runs}):
        args += ["--experiment", name, "frontal" if name == "frontal" else "both", "imagenet", "pretrained",
                 "multiclass", "3"]  # fmt: skip
    for name, seed in runs:
        args += ["--run", name, str(seed), str(tmp_path / f"{name}{seed}.csv"), str(tmp_path / f"{name}{seed}.pt")]
    return args


def test_tables_command_writes_every_table_byte_identically_with_provenance(tmp_path):
    runs = _write_dataset(tmp_path)
    assert main(_tables_args(tmp_path, runs, tmp_path / "a")) == 0
    assert main(_tables_args(tmp_path, runs, tmp_path / "b")) == 0
    stems = ["baseline", "frontal", "comparison", "claims", "paper_vs_ours"]
    for stem in stems:
        for suffix in (".csv", ".md", ".html"):
            a, b = (tmp_path / d / f"{stem}{suffix}" for d in ("a", "b"))
            assert a.read_bytes() == b.read_bytes(), f"{stem}{suffix} differs between two runs"
        provenance = json.loads((tmp_path / "a" / f"{stem}.provenance.json").read_text())
        checkpoints = provenance["inputs"]["checkpoints"]
        assert len(checkpoints) == 4 and all(len(h) == 64 for h in checkpoints.values())
        assert provenance["settings"]["bootstrap_resamples"] == 200
        assert provenance["settings"]["config_hash"] == "abc"
        assert provenance["settings"]["experiments"]["frontal"]["seeds"] == [0, 1]
        assert set(provenance["outputs"]) == {str(tmp_path / "a" / f"{stem}{s}") for s in (".csv", ".md", ".html")}
        assert {"commit", "dirty"} <= set(provenance["git"]) and provenance["packages"]["numpy"]
        assert provenance["created"]
    comparison = pd.read_csv(tmp_path / "a/comparison.csv")
    assert set(comparison["experiment"]) == {"frontal"} and (comparison["patients"] == 80).all()
    md = (tmp_path / "a/baseline.md").read_text()
    assert "±" in md and "n/a" in md
    comparison_md = (tmp_path / "a/comparison.md").read_text()
    assert "| frontal | frontal |" in comparison_md and "| baseline | both |" in comparison_md
    assert "Δ mean AUC" in comparison_md and "## ΔAUC per observation" in comparison_md
    assert "## DeLong's test per observation (p-value, secondary)" in comparison_md and "Sun & Xu 2014" in comparison_md
    assert "One primary test, bold in the grid" in comparison_md  # the legend names it
    delong_row = next(line for line in comparison_md.split("## DeLong")[1].splitlines() if line.startswith("| frontal"))
    expected = comparison.set_index("abbreviation")["p_delong"]
    assert delong_row.split(" | ")[1].strip("*") == T.fmt_p(expected["NF"])
    assert expected.drop(index=["F", "mean", "mean5", "mean_all"]).notna().all()  # Fracture: no positive, no test
    assert expected[["F", "mean", "mean5", "mean_all"]].isna().all()
    claims = pd.read_csv(tmp_path / "a/claims.csv").set_index("claim")
    assert claims.loc["1", "compared"] == "frontal − baseline" and claims.loc["1", "verdict"] in (
        "supported", "contradicted", "inconclusive")  # fmt: skip
    assert claims.loc["4", "verdict"] == "inconclusive (not run)"  # no scratch experiment was given


def test_tables_command_rejects_predictions_without_labels_and_leaves_nothing(tmp_path, capsys):
    runs = _write_dataset(tmp_path, experiments=("baseline",), seeds=(0,))
    pred = pd.read_csv(tmp_path / "baseline0.csv")
    pred.loc[0, "Path"] = "CheXpert-v1.0-small/valid/patient99999/study1/view1_frontal.jpg"
    pred.to_csv(tmp_path / "baseline0.csv", index=False)
    assert main(_tables_args(tmp_path, runs, tmp_path / "out")) == 2
    err = capsys.readouterr().err
    assert "baseline0.csv" in err and "patient99999" in err and "have no label" in err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_tables_command_with_a_test_set_needs_every_runs_test_predictions(tmp_path, capsys):
    runs = _write_dataset(tmp_path, experiments=("baseline", "frontal"), seeds=(0,))
    args = [*_tables_args(tmp_path, runs, tmp_path / "out"), "--test-labels", str(tmp_path / "valid.csv")]
    assert main(args) == 2  # labels without predictions
    assert "--test-labels and --test-run go together" in capsys.readouterr().err
    one = ["--test-run", "baseline", "0", str(tmp_path / "baseline0.csv")]
    assert main(args + one) == 2  # the frontal run's test predictions are missing
    assert "give one for every --run" in capsys.readouterr().err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    # with every run's: the test tables exist beside valid's (here the same files, so the same AUCs), titled so
    both = [*one, "--test-run", "frontal", "0", str(tmp_path / "frontal0.csv")]
    assert main(args + both) == 0
    out = tmp_path / "out"
    assert (out / "test.baseline.csv").read_text() == (out / "baseline.csv").read_text()
    assert (out / "test.comparison.csv").read_text() == (out / "comparison.csv").read_text()
    assert (out / "test.comparison.md").read_text().startswith("# Experiments against the baseline, on the test set")
    assert not (out / "test.paper_vs_ours.csv").exists()


def test_figures_command_writes_roc_and_learning_curves(tmp_path):
    runs = _write_dataset(tmp_path, seeds=(0,))
    args = ["figures", "--labels", str(tmp_path / "valid.csv"), "--roc", str(tmp_path / "f/roc.png"),
            "--learning-curves", str(tmp_path / "f/lc.png")]  # fmt: skip
    for name, seed in runs:
        args += ["--run", name, str(seed), str(tmp_path / f"{name}{seed}.csv"), str(tmp_path / f"{name}{seed}.jsonl")]
        predictions = pd.read_csv(tmp_path / f"{name}{seed}.csv")
        epochs = pd.concat([predictions.assign(epoch=1), predictions.assign(epoch=2)])
        epochs.to_csv(tmp_path / f"{name}{seed}.epochs.csv", index=False)
        args += ["--epochs-run", name, str(seed), str(tmp_path / f"{name}{seed}.epochs.csv")]
    assert main(args) == 0
    for png in ("roc.png", "lc.png"):
        assert (tmp_path / "f" / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in (tmp_path / "f").iterdir()) == ["lc.png", "roc.png"]


def test_no_p_value_is_written_as_zero():
    """A DeLong p of 1e-20 is written as 1e-20, not 0.000000; an underflow is the smallest double, not 0."""
    from chexpertnet.evaluate.delong import delong_difference

    frame = pd.DataFrame({"observation": ["Edema"], "delta": [0.3], "p": [2 / 2001], "p_holm": [0.0123],
                          "p_delong": [1e-20]})  # fmt: skip
    row = T.to_csv(frame).splitlines()[1].split(",")
    assert [float(x) for x in row[2:]] == pytest.approx([2 / 2001, 0.0123, 1e-20], rel=1e-5)
    assert "0.000000" not in T.to_csv(frame)
    y = np.r_[np.ones(200), np.zeros(200)]
    strong = delong_difference(np.r_[np.zeros(200), np.zeros(200)] + np.random.default_rng(0).random(400),
                               np.r_[np.ones(200) * 10, np.zeros(200)] + np.random.default_rng(1).random(400), y)
    assert strong["p"] > 0

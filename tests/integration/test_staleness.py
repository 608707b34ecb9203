"""Only what is stale reruns: code edits (by the modules each step runs), config edits and a new seed. Each case's
plan is checked with `snakemake -n` on the finished tiny run (which jobs, and why), and one real run after all of the
edits together checks the outcome: exactly the stale outputs are rewritten, every other file keeps its bytes and
its modification time."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from workflow_helpers import planned_jobs, snakemake, tiny_config

pytestmark = pytest.mark.integration

TRAINING_AND_AFTER = {"pretrain_synthetic", "train", "score", "tables", "figures", "cam", "operating_points",
                      "decision_tables", "report"}  # fmt: skip
# the steps that read the AUC or bootstrap code (the operating points' bootstrap, the tables' formatting)
EVALUATION = {"score", "tables", "figures", "operating_points", "decision_tables", "report"}
DATA = {"phantom", "validate", "cache", "manifest", "stats"}
RUNS = sum(len(e["seeds"]) for e in tiny_config()["experiments"].values())  # trainings of the tiny config


@pytest.fixture(scope="module")
def up_to_date_copy(tiny_run: Path, tmp_path_factory) -> tuple[Path, Path]:
    """(home, template): a copy of the finished tiny run brought up to date at ``home``, kept as ``template``. A copy
    in another folder plans the report again (the report step's parameters name the Snakefile's path), so each test
    gets its copy at the one path that the copy was brought up to date at."""
    home = tmp_path_factory.mktemp("staleness") / "wf"
    shutil.copytree(tiny_run, home, symlinks=True)
    assert set(plan(home)[0]) <= {"report"}, "a copy of the finished run plans more than its report"
    snakemake(home, "--configfile", "config/tiny.yaml")
    template = shutil.copytree(home, home.parent / "template", symlinks=True)
    return home, template


@pytest.fixture
def workdir(up_to_date_copy: tuple[Path, Path]) -> Path:
    """This test's own copy of the finished tiny run, edited freely: the shared run stays as it was built, and no
    test sees another's edits."""
    home, template = up_to_date_copy
    shutil.rmtree(home, ignore_errors=True)
    return shutil.copytree(template, home, symlinks=True)


def edit(path: Path, change: Callable[[str], str]) -> None:
    text = path.read_text()
    assert change(text) != text, f"the edit changes nothing in {path.name}"
    path.write_text(change(text))


def plan(workdir: Path, config: str = "config/tiny.yaml"):
    result = snakemake(workdir, "--configfile", config, "-n")
    return planned_jobs(result), result.stdout + result.stderr


def module(workdir: Path, name: str) -> Path:
    return workdir / "workflow/chexpertnet" / f"{name}.py"


def trained(text: str) -> list[str]:
    """The models that the plan trains, as '<experiment>/seed<seed>'."""
    return sorted(re.findall(r"output: results/phantom/models/(\w+/seed\d+)/model\.pt", text))


def add_function(text: str) -> str:
    return text + "\n\ndef _staleness_probe():\n    return 1\n"


def test_nothing_reruns_on_an_up_to_date_tree_or_after_comment_and_readme_edits(workdir):
    assert plan(workdir)[0] == {}
    def comment_after_import(text: str) -> str:
        return text.replace("import torch\n", "import torch  # torch\n\n", 1)

    edit(module(workdir, "evaluate/metrics"), lambda t: t + "\n# a comment\n")
    edit(module(workdir, "train/loop"), comment_after_import)
    edit(module(workdir, "localize/cam"), lambda t: t.replace('"""', '"""Edited docs. ', 1))
    edit(workdir / "README.md", lambda t: t.replace("# CheXpertNet", "# Edited", 1))
    assert (workdir / "README.md").read_text().startswith("# Edited")
    assert plan(workdir)[0] == {}, "comments, blank lines, docstrings and the README are not code"


def test_editing_the_cam_module_reruns_only_cams_and_the_report(workdir):
    edit(module(workdir, "localize/cam"), add_function)
    jobs, text = plan(workdir)
    assert set(jobs) == {"cam", "report"}, text
    assert "params have changed since last execution" in text


def test_a_real_change_in_the_auc_code_reruns_evaluation_and_no_training(workdir):
    """The trainings log no AUC: the weights do not depend on the evaluation code."""

    def change(text: str) -> str:
        return text.replace("return (rank_sum - positives", "return 1.0 * (rank_sum - positives", 1)

    edit(module(workdir, "evaluate/auc"), change)
    jobs, text = plan(workdir)
    assert set(jobs) == EVALUATION, text
    assert jobs["score"] == RUNS and trained(text) == []


def test_editing_the_metrics_module_reruns_scoring_tables_figures_report_not_training(workdir):
    edit(module(workdir, "evaluate/metrics"), add_function)
    jobs, text = plan(workdir)
    assert set(jobs) == EVALUATION, text
    assert jobs["score"] == RUNS


@pytest.mark.parametrize(
    ("name", "rules"),
    [("evaluate/claims", {"tables", "report"}), ("data/testset", set()), ("localize/chexlocalize", {"cam", "report"})],
)
def test_editing_a_module_reruns_only_the_rules_that_run_it(workdir, name, rules):
    """Claims are evaluated by the tables job only; the test set's labels (no test split here) by no job at all;
    CheXlocalize's metrics by the CAM job (the phantom writes its truth with the names alone: it does not rerun)."""
    edit(module(workdir, name), add_function)
    jobs, text = plan(workdir)
    assert set(jobs) == rules, text


@pytest.mark.parametrize("name", ["train/model", "train/loss", "train/loop"])
def test_editing_the_model_or_training_reruns_training_and_after_not_the_data(workdir, name):
    edit(module(workdir, name), add_function)
    jobs, text = plan(workdir)
    # the synthetic pretraining runs the model, not the training loop or its loss
    expected = TRAINING_AND_AFTER if name == "train/model" else TRAINING_AND_AFTER - {"pretrain_synthetic"}
    assert set(jobs) == expected, text
    assert jobs["train"] == RUNS and not set(jobs) & DATA


def test_editing_the_phantom_reruns_everything(workdir):
    edit(module(workdir, "phantom/signatures/lungs"), add_function)  # a module deep in the subpackage
    jobs, text = plan(workdir)
    assert set(jobs) == DATA | TRAINING_AND_AFTER - {"pretrain_synthetic"}, text  # it reads no phantom data


def test_changing_one_experiment_reruns_only_its_jobs_and_the_tables(workdir):
    config = yaml.safe_load((workdir / "config/tiny.yaml").read_text())
    config["experiments"]["scratch"]["normalization"] = "dataset"
    (workdir / "config/changed.yaml").write_text(yaml.safe_dump(config))
    jobs, text = plan(workdir, "config/changed.yaml")
    assert jobs == {"train": 1, "score": 1, "tables": 1, "figures": 1, "operating_points": 1, "decision_tables": 1,
                    "report": 1}, text  # fmt: skip
    assert trained(text) == ["scratch/seed0"]


def test_adding_a_seed_runs_only_the_new_seed(workdir):
    config = yaml.safe_load((workdir / "config/tiny.yaml").read_text())
    config["experiments"]["frontal"]["seeds"] = [0, 1]
    (workdir / "config/seeds.yaml").write_text(yaml.safe_dump(config))
    jobs, text = plan(workdir, "config/seeds.yaml")
    assert jobs == {"train": 1, "score": 1, "tables": 1, "figures": 1, "operating_points": 1, "decision_tables": 1,
                    "report": 1}, text  # fmt: skip
    assert trained(text) == ["frontal/seed1"]


def files(results: Path) -> dict[str, tuple[int, str]]:
    """{path: (modification time, SHA-256)} of every result file but logs and benchmarks (rewritten by any run)."""
    return {
        str(p.relative_to(results)): (p.stat().st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest())
        for p in sorted(results.rglob("*"))
        if p.is_file() and p.relative_to(results).parts[0] not in ("logs", "benchmarks")
    }


def test_a_real_run_after_several_edits_rewrites_exactly_the_stale_outputs(workdir):
    results = workdir / "results/phantom"
    before = files(results)
    for name, change in (("localize/cam", add_function), ("evaluate/metrics", add_function),
                         ("train/loop", lambda t: t + "\n# comment\n")):
        path = module(workdir, name)
        path.write_text(change(path.read_text()))
    (workdir / "README.md").write_text((workdir / "README.md").read_text() + "\nEdited.\n")
    config = yaml.safe_load((workdir / "config/tiny.yaml").read_text())
    config["experiments"]["scratch"]["normalization"] = "dataset"
    config["experiments"]["frontal"]["seeds"] = [0, 1]
    (workdir / "config/changed.yaml").write_text(yaml.safe_dump(config))
    snakemake(workdir, "--configfile", "config/changed.yaml")
    after = files(results)

    def run(experiment: str, seed: int) -> set[str]:
        model = f"models/{experiment}/seed{seed}"
        outputs = {f"{model}/{f}" for f in ("model.pt", "history.jsonl", "config.json", "throughput.json",
                                            "valid_epochs.csv")}  # fmt: skip
        return outputs | {f"predictions/{experiment}/seed{seed}.csv", f"scores/{experiment}/seed{seed}.csv",
                          f"operating_points/{experiment}/seed{seed}.csv"}

    new = set(after) - set(before)
    rewritten = {p for p in before if p in after and after[p][0] != before[p][0]}
    assert not set(before) - set(after), "files disappeared"
    archived = {p for p in new if p.startswith("archive/tables/v0002/")}  # the new tables, kept as version 2
    assert "archive/tables/v0002/version.json" in archived and "archive/tables/v0002/comparison.csv" in archived
    assert new - archived == run("frontal", 1), sorted(new)
    expected = run("scratch", 0)  # its factor changed: trained again
    expected |= {f"{kind}/{e}/seed0.csv" for e in config["experiments"] if e != "scratch"
                 for kind in ("scores", "operating_points")}  # metrics.py  # fmt: skip
    expected |= {p for p in before if p.split("/")[0] in ("tables", "figures", "cam")} | {"report.html"}
    assert rewritten == expected, {"not rewritten": sorted(expected - rewritten),
                                   "rewritten too": sorted(rewritten - expected)}  # fmt: skip
    # the untouched files kept their bytes too (the data, the other models and their predictions among them)
    assert all(after[p] == before[p] for p in before if p not in rewritten)
    for experiment, seed in (("scratch", 0), ("frontal", 1)):
        model = results / f"models/{experiment}/seed{seed}"
        assert json.loads((model / "throughput.json").read_text())["start_step"] == 0
    stats = json.loads((results / "stats/both-multiclass.json").read_text())
    resolved = json.loads((results / "models/scratch/seed0/config.json").read_text())
    assert resolved["normalization"] == "dataset" and resolved["mean"] == [stats["mean"]] * 3


def test_editing_the_csv_checks_reruns_the_steps_that_read_csvs_not_the_phantom_nor_the_pretraining(workdir):
    """The error every stage raises lives in chexpertnet/errors.py, not beside the CSV checks: an edit to those
    checks reruns validation and what follows it, not the phantom's generation or the synthetic pretraining (which
    read no CSV)."""
    edit(module(workdir, "data/chexpert"), add_function)
    jobs, text = plan(workdir)
    assert {"validate", "cache", "manifest", "train", "score", "tables", "cam", "report"} <= set(jobs), text
    assert not {"phantom", "pretrain_synthetic", "fetch_weights"} & set(jobs), text

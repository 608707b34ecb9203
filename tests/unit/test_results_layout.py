"""The results layout is the one source of every path under results/<name>/: each template reads back into the
fields it was filled with, every target of the default and the paper's plans is one of its templates, and the rule
files write no results path of their own."""

from __future__ import annotations

import copy
import re
import string

import pytest
import yaml

from chexpertnet.plan import layout as L
from chexpertnet.plan import workflow as P
from conftest import REPO

SAMPLE = {
    "folder": "CheXpert-v1.0", "split": "valid", "suffix": ".weights.csv", "views": "frontal", "uncertainty": "ones",
    "experiment": "dataset_norm", "seed": "12", "name": "test.comparison", "stem": "sensitivity_0.9",
    "file": "figure1.png", "chexlocalize_split": "val", "old": "3", "new": "4",
}  # fmt: skip


def fields_of(template: str) -> list[str]:
    return [name for _, name, _, _ in string.Formatter().parse(template) if name]


@pytest.mark.parametrize("kind", sorted(L.TEMPLATES))
def test_every_path_reads_back_into_its_fields(kind):
    layout = L.Layout("results/my-data", "CheXpert-v1.0")
    values = {f: SAMPLE[f] for f in fields_of(L.TEMPLATES[kind]) if f != "folder"}
    path = layout.path(kind, **values)
    assert path.startswith("results/my-data/") and "{" not in path
    assert layout.match(kind, path) == values
    assert layout.match(kind, path.replace("results/my-data/", "results/other/", 1)) is None  # another run's file


def test_patterns_leave_the_fields_not_given_as_wildcards():
    layout = L.Layout("results/phantom")
    assert layout.pattern("model") == "results/phantom/models/{experiment}/seed{seed}/model.pt"
    assert layout.pattern("cache", suffix=".npy") == "results/phantom/cache/{split}.npy"
    assert layout.pattern("view_csv") == "results/phantom/data/validated/CheXpert-v1.0-small/{split}.csv"
    with pytest.raises(KeyError, match=r"model needs \['seed'\]"):
        layout.path("model", experiment="baseline")


def test_a_table_name_with_dots_and_a_compound_suffix_are_told_apart():
    layout = L.Layout("results/phantom")
    for name, suffix in (("test.comparison", ".provenance.json"), ("baseline.epochs", ".csv"), ("claims", ".md")):
        path = layout.path("table", name=name, suffix=suffix)
        assert layout.match("table", path) == {"name": name, "suffix": suffix}
    with pytest.raises(KeyError, match=r"suffix '\.txt'"):
        layout.path("table", name="claims", suffix=".txt")


def test_a_split_and_a_suffix_are_told_apart():
    layout = L.Layout("results/phantom")
    assert layout.match("cache", "results/phantom/cache/train.histograms.npy") == {"split": "train",
                                                                                  "suffix": ".histograms.npy"}
    assert layout.match("manifest", "results/phantom/manifests/both-zeros/test.summary.json") == {
        "views": "both", "uncertainty": "zeros", "split": "test", "suffix": ".summary.json"}
    assert layout.match("cache", "results/phantom/cache/extra/train.npy") is None


def template_regexes(results: str) -> list[re.Pattern]:
    return [L._regex(results, folder, kind) for kind in L.TEMPLATES for folder in ("CheXpert-v1.0-small",)]


@pytest.mark.parametrize("which", ["default", "paper"])
def test_every_target_is_a_layout_path(which, tmp_path):
    from conftest import write_dataset

    if which == "default":
        config = yaml.safe_load((REPO / "config/config.yaml").read_text())
    else:
        write_dataset(tmp_path / "root")
        config = copy.deepcopy(yaml.safe_load((REPO / "config/chexpert.yaml").read_text()))
        config["dataset"]["root"] = str(tmp_path / "root")
    plan = P.Plan(config)
    regexes = template_regexes(plan.results)
    outside = [t for t in plan.all_targets() if not any(r.fullmatch(t) for r in regexes)]
    assert outside == []


def test_the_rule_files_write_no_results_path_of_their_own():
    """Every path a rule names under results/ comes from the layout (PATH(...) or the plan): an f-string in a rule
    file may only begin with the logs' or benchmarks' folder."""
    hand_made = []
    for smk in sorted((REPO / "workflow/rules").glob("*.smk")):
        for n, line in enumerate(smk.read_text().splitlines(), 1):
            for literal in re.findall(r'f"(\{[A-Z_]+\}[^"]*)"', line):
                if not literal.startswith(("{LOGS}", "{BENCHMARKS}")):
                    hand_made.append(f"{smk.name}:{n}: {literal}")
            if re.search(r'"results/', line):
                hand_made.append(f"{smk.name}:{n}: {line.strip()}")
    assert hand_made == []

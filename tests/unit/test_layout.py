"""The package's layout follows the workflow's stages: imports run one way (shared helpers, data, training,
evaluation or localization, phantom, commands), no cycles, each stage documented, and the rule files stay glue.
The import graph is read here with `ast` from the files on disk, not with the code-hash module under test."""

from __future__ import annotations

import ast
from pathlib import Path

from chexpertnet.codehash import module_closure
from conftest import REPO

SOURCE = REPO / "workflow"
PACKAGE = SOURCE / "chexpertnet"
SHARED = {"observations", "fileio", "markup", "plotting", "codehash", "errors"}
STAGES = ("data", "train", "evaluate", "localize")
# Lower ranks are imported by higher ones, never the other way; evaluation and localization are peers that import
# neither each other, and so are the phantom and the plan (whose results layout `chexpertnet predict` reads).
RANK = {"shared": 0, "data": 1, "train": 2, "evaluate": 3, "localize": 3, "phantom": 4, "plan": 4, "commands": 5,
        "cli": 6, "__main__": 7, "__init__": 0}  # fmt: skip
EXPECTED = {
    "data": {"chexpert", "dataroot", "dataview", "manifest", "cache", "stats", "testset", "simulated_readers",
             "images", "contact_sheet"},
    "train": {"model", "loss", "augment", "loop", "checkpoint", "fingerprint", "numerics", "pretrain", "synthetic",
              "weights", "predict", "safeload", "gpuslots", "compilecache", "cuda_advice", "throughput", "faults",
              "resume"},
    "evaluate": {"auc", "delong", "metrics", "scoring", "predictions", "tables", "claims", "epochs", "figures",
                 "versions", "versions_report", "provenance", "binary", "roc", "studies", "readers", "readers_text",
                 "operating_points", "operating_points_text", "calibration", "subgroups",
                 "precision_recall"},
    "localize": {"cam", "cam_figure", "localization", "chexlocalize", "chexlocalize_ids", "chexlocalize_maps",
                 "chexlocalize_images", "model_maps", "pointing_game"},
}  # fmt: skip


def modules() -> dict[str, Path]:
    return {
        ".".join(p.relative_to(SOURCE).with_suffix("").parts).removesuffix(".__init__"): p
        for p in PACKAGE.rglob("*.py")
    }


def group(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1:
        return "__init__"
    if parts[1] in SHARED:
        return "shared"
    return parts[1]


def imports(module: str, path: Path, known: set[str]) -> set[str]:
    """Package modules that ``module`` imports (absolute imports only: the package uses no relative ones)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}: relative import"
            submodules = [f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in known]
            names = submodules or [node.module]  # `from package import module` imports the module
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        found |= {n for n in names if n in known and n != module}
    return found


def graph() -> dict[str, set[str]]:
    mods = modules()
    return {m: imports(m, p, set(mods)) for m, p in mods.items()}


def test_the_tree_shows_the_four_stages_and_only_shared_helpers_at_the_top():
    mods = modules()
    for stage, names in EXPECTED.items():
        assert {m.split(".")[2] for m in mods if m.startswith(f"chexpertnet.{stage}.")} == names, stage
    top = {m.split(".")[1] for m in mods if m.count(".") == 1} - {"commands", "phantom", *STAGES}
    assert top == SHARED | {"cli", "__main__", "plan"}


def test_no_import_from_a_lower_stage_to_a_higher_one():
    wrong = []
    for module, targets in graph().items():
        for target in targets:
            a, b = group(module), group(target)
            if b == "__init__" or a == b:
                continue
            if RANK[b] >= RANK[a]:
                wrong.append(f"{module} ({a}) imports {target} ({b})")
    assert not wrong, "\n".join(wrong)


def test_the_import_graph_has_no_cycle():
    g = graph()
    state: dict[str, int] = {}

    def visit(m: str, path: list[str]) -> None:
        state[m] = 1
        for t in sorted(g[m]):
            if state.get(t) == 1:
                raise AssertionError("cycle: " + " -> ".join([*path[path.index(t) :], t]))
            if t not in state:
                visit(t, [*path, t])
        state[m] = 2

    for m in sorted(g):
        if m not in state:
            visit(m, [m])


def test_training_runs_no_evaluation_or_localization_code():
    """A change in the evaluation code must retrain nothing: the training's code hash covers none of it."""
    for command in ("train", "pretrain", "predict_cache", "fetch_weights"):
        closure = module_closure(SOURCE, f"chexpertnet.commands.{command}")
        assert not [m for m in closure if m.startswith(("chexpertnet.evaluate", "chexpertnet.localize"))], command
    assert "chexpertnet.train.loss" in module_closure(SOURCE, "chexpertnet.commands.train")


def test_each_stage_says_what_it_takes_writes_and_which_rules_run_it():
    for stage in STAGES:
        doc = ast.get_docstring(ast.parse((PACKAGE / stage / "__init__.py").read_text()))
        assert doc and "Takes in:" in doc and "Writes:" in doc and "rule" in doc, stage
        # nothing but the docstring: importing a stage runs none of its modules (and no code hash grows by it)
        assert len(ast.parse((PACKAGE / stage / "__init__.py").read_text()).body) == 1, stage


def test_rule_files_are_short_and_say_what_they_hold():
    files = sorted((REPO / "workflow/rules").glob("*.smk"))
    assert {f.stem for f in files} >= {"common", "data", "train", "evaluate", "cam"}
    for f in files:
        lines = f.read_text().splitlines()
        assert len(lines) <= 300, f"{f.name}: {len(lines)} lines"
        assert lines[0].startswith("# "), f"{f.name} opens without a comment"


def test_no_text_speaks_of_how_the_software_was_developed():
    """The README, docs, configs, code and benchmarks speak of the software, its machines and dates."""
    import re
    import subprocess

    listed = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    found = []
    for name in listed:
        path = REPO / name
        if path.suffix not in (".md", ".py", ".yaml", ".smk", ".rst", ".toml", ".sh", "") or not path.is_file():
            continue
        if name == "tests/unit/test_layout.py":  # this test, which names the words
            continue
        for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            cleaned = re.sub(r"start_new_session|scope=\"session\"|whole session", "", line)
            if re.search(r"\b(issues?|sessions?)\b", cleaned, flags=re.IGNORECASE):
                found.append(f"{name}:{n}: {line.strip()[:80]}")
    assert found == []

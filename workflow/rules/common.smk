# Helpers shared by every rule: config access, the experiment table, paths, per-rule code hashes.
import ast
import hashlib
import shlex
import sys
from pathlib import Path

from snakemake_interface_executor_plugins.settings import DeploymentMethod

DATASET = config["dataset"]["name"]
RESULTS = f"results/{DATASET}"
LOGS = f"{RESULTS}/logs"
BENCHMARKS = f"{RESULTS}/benchmarks"
PACKAGE_DIR = Path(workflow.basedir) / "workflow"
CONDA_ENV = "../../envs/chexpertnet.yaml"

VIEWS = ("both", "frontal")
UNCERTAINTY = ("multiclass", "ones", "zeros", "ignore")
SPLITS = ("train", "valid")


wildcard_constraints:
    split="|".join(SPLITS),
    views="|".join(VIEWS),
    uncertainty="|".join(UNCERTAINTY),


def shell_prefix():
    """Every shell command runs with this checkout's package first on the Python path and, unless conda
    environments are in use, with the interpreter that runs Snakemake first on PATH: the rules' `python` is then
    the right one whether or not an environment is activated (Snakemake's shell inherits the caller's PATH).
    """
    prefix = f"set -euo pipefail; export PYTHONPATH={shlex.quote(str(PACKAGE_DIR))}; "
    if DeploymentMethod.CONDA not in workflow.deployment_settings.deployment_method:
        prefix += (
            f'export PATH={shlex.quote(str(Path(sys.executable).parent))}:"$PATH"; '
        )
    return prefix


shell.prefix(shell_prefix())


# ---------------------------------------------------------------------------------------------------------------
# Data locations
def data_root():
    """The folder that contains the dataset folder (CheXpert-v1.0-small/)."""
    if config["dataset"]["source"] == "phantom":
        return f"{RESULTS}/data"
    root = config["dataset"].get("root")
    if not root:
        raise ValueError(
            "config: dataset.root is not set; set it to the folder that contains "
            f"{config['dataset'].get('folder', 'CheXpert-v1.0-small')}/ (for example --config "
            "dataset='{name: chexpert, source: chexpert, root: /data/chexpert}')"
        )
    return root


DATA_FOLDER = config["dataset"].get("folder", "CheXpert-v1.0-small")


def split_csv(split):
    return f"{data_root()}/{DATA_FOLDER}/{split}.csv"


def variant(views, uncertainty):
    return f"{views}-{uncertainty}"


def experiment_variants():
    """The (views, uncertainty) manifest variants that the configured experiments need, sorted."""
    return sorted(
        {(e["views"], e["uncertainty"]) for e in config["experiments"].values()}
    )


def manifest_path(views, uncertainty, split, kind="csv"):
    suffix = {"csv": ".csv", "summary": ".summary.json", "weights": ".weights.csv"}[
        kind
    ]
    return f"{RESULTS}/manifests/{variant(views, uncertainty)}/{split}{suffix}"


def all_targets():
    targets = [f"{RESULTS}/validation.json"]
    targets += [
        f"{RESULTS}/cache/{split}{suffix}"
        for split in SPLITS
        for suffix in (".npy", ".index.csv")
    ]
    for views, uncertainty in experiment_variants():
        for split in SPLITS:
            targets += [
                manifest_path(views, uncertainty, split, kind)
                for kind in ("csv", "summary", "weights")
            ]
        targets.append(f"{RESULTS}/stats/{variant(views, uncertainty)}.json")
    return targets


# ---------------------------------------------------------------------------------------------------------------
# Code-aware staleness. Snakemake reruns a job when its params change, but it does not see the Python modules that
# a command imports. Each rule therefore gets, as a param, a hash of the syntax trees (comments and formatting do not
# count) of exactly the package modules its subcommand imports, followed transitively.
def _module_file(name):
    parts = name.split(".")
    base = PACKAGE_DIR.joinpath(*parts)
    return base / "__init__.py" if base.is_dir() else base.with_suffix(".py")


def _imported_modules(name):
    tree = ast.parse(_module_file(name).read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(
                a.name for a in node.names if a.name.split(".")[0] == "chexpertnet"
            )
        elif (
            isinstance(node, ast.ImportFrom)
            and node.module
            and node.module.split(".")[0] == "chexpertnet"
        ):
            found.add(node.module)
            for (
                alias
            ) in node.names:  # `from chexpertnet import phantom` imports a module
                if _module_file(f"{node.module}.{alias.name}").exists():
                    found.add(f"{node.module}.{alias.name}")
    return found


def module_closure(*names):
    seen, todo = set(), list(names)
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(_imported_modules(name) - seen)
    return sorted(seen)


def code_hash(command):
    """Hash of the modules that `chexpertnet <command>` runs (the CLI entry point included)."""
    digest = hashlib.sha256()
    for name in module_closure(
        "chexpertnet.__main__", f"chexpertnet.commands.{command}"
    ):
        digest.update(name.encode())
        digest.update(ast.dump(ast.parse(_module_file(name).read_text())).encode())
    return digest.hexdigest()[:16]

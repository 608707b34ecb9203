# Glue between Snakemake and the plan (chexpertnet/plan/, which holds the logic and is unit-tested): the plan of
# this config, the names the rules use, the wildcard constraints, the shell prefix, and thin wrappers that take
# Snakemake's objects (wildcards, input, output, ancient) and call the plan. Code hashes: the end of this file.
import contextlib
import functools
import os
import shlex
import sys
from pathlib import Path

from snakemake_interface_executor_plugins.settings import DeploymentMethod
from snakemake_interface_storage_plugins.exceptions import FileOrDirectoryNotFoundError

# This checkout's package, first on sys.path since the Snakefile's config check (for the plan and the code hashes;
# the jobs get it through PYTHONPATH)
PACKAGE_DIR = Path(workflow.basedir) / "workflow"
from chexpertnet import codehash, fileio  # standard library only
from chexpertnet.plan import flags, requests
from chexpertnet.plan import workflow as plan

PLAN = plan.Plan(config, preview=plan.is_dry_run(sys.argv))
if PLAN.preview:
    print(
        f"dataset.root is not set: a plan only, with the sizes of {PLAN.folder} as published "
        f"({plan.PUBLISHED_ROWS['train']:,} train and {plan.PUBLISHED_ROWS['valid']} valid images); the data is not "
        "there yet. Set dataset.root to the folder that contains it to run.",
        file=sys.stderr,
    )

# Every results path is the layout's (chexpertnet/plan/layout.py): PATH("model") has {experiment} and {seed} open
PATH = PLAN.layout.pattern
LOGS = PLAN.logs
BENCHMARKS = PLAN.benchmarks
CONDA_ENV = "../../envs/chexpertnet.yaml"
DATA_FOLDER = PLAN.folder
REAL_DATA = PLAN.real_data
# the claims' notes say which claims the phantom can test
PHANTOM_FLAG = "" if REAL_DATA else "--phantom"
VALIDATION = PLAN.validation
TEST = PLAN.test
TEST_REPORT = PLAN.test_report
IMAGENET_WEIGHTS = plan.IMAGENET_WEIGHTS
SYNTHETIC_WEIGHTS = PLAN.synthetic_weights
GPUS_PER_TRAINING = PLAN.gpus_per_training
ARCHIVE = PLAN.archive
PAPER_VALUES = plan.PAPER_VALUES
TABLE_NAMES = PLAN.table_names
VERSION_FILES = plan.VERSION_FILES
REPORT_CAPTIONS = plan.REPORT_CAPTIONS


wildcard_constraints:
    split="train|valid|test",
    views="|".join(plan.VIEWS),
    uncertainty="|".join(plan.UNCERTAINTY),
    experiment="|".join(sorted(config["experiments"])),
    seed=r"\d+",
    old=r"\d+",
    new=r"\d+",


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
# Data. The validated view (chexpertnet.data.dataview) holds copies of the validated CSVs and links to the image
# folders, at a path that does not depend on dataset.root; every step after validation reads the data through it.
# For real data the view's files are inputs marked ancient, and each CSV's content enters through a stamp (the stamp
# job; its SHA-256, computed here at DAG time, is the stamp rule's only parameter): moving the data to another root
# re-runs validation only (its input paths changed), while a changed CSV re-runs its stamp and so everything that
# reads it. (A parameter on the readers themselves would not do: Snakemake does not look at jobs downstream of a job
# that must run, such as validation, when all they take from it is ancient.) The phantom is made by the workflow
# itself, so its view is an ordinary input and has no stamps.
data_threads = PLAN.data_threads
split_csv = PLAN.split_csv
validate_input = PLAN.validate_input
view_csv = PLAN.view_csv
csv_stamp = PLAN.csv_stamp
PHANTOM_OUTPUTS = PLAN.phantom_outputs()
PHANTOM_READERS = PLAN.phantom_readers()


def validated(path):
    """An input made by the validate rule, as later steps take it (see above)."""
    return ancient(path) if REAL_DATA else path


def view_folder(wildcards, output):
    """The view's root, from the validate rule's outputs (<view>/<folder>/train.csv)."""
    return str(Path(output.train).parent.parent)


def test_view_folder(wildcards, output):
    """The view's root, from the test_labels rule's outputs (<view>/<folder>/test.csv)."""
    return str(Path(output.csv).parent.parent)


@functools.lru_cache(maxsize=None)
def _file_sha256(path, size, mtime_ns):
    """fileio.sha256_file, once per (path, size, modification time) in this Snakemake process."""
    return fileio.sha256_file(path)


def csv_digest(wildcards):
    """SHA-256 of the split's CSV at dataset.root, at DAG time (real data only: the stamp rule's parameter)."""
    if PLAN.preview:
        return "unknown-before-the-data"
    csv = split_csv(wildcards.split)
    st = os.stat(csv)
    return _file_sha256(csv, st.st_size, st.st_mtime_ns)


def split_stamp(wildcards):
    return csv_stamp(wildcards.split)


def split_report(wildcards):
    return validated(PLAN.split_report(wildcards.split))


# ---------------------------------------------------------------------------------------------------------------
# Cluster requests (chexpertnet/plan/requests.py): a request that needs a file not made yet shows as <TBD> in a dry run.
@contextlib.contextmanager
def to_be_determined():
    try:
        yield
    except requests.NotYetKnown as missing:
        raise FileOrDirectoryNotFoundError(Path(str(missing))) from None


def cache_mem_mb(wildcards, input):
    with to_be_determined():
        return PLAN.requests.cache_mem_mb(input.csv)


def stats_mem_mb(wildcards, input):
    with to_be_determined():
        return PLAN.requests.stats_mem_mb(input.index, input.manifest)


def train_mem_mb(wildcards, input):
    with to_be_determined():
        return PLAN.requests.train_mem_mb(list(input))


def train_runtime_min(wildcards, input):
    with to_be_determined():
        return PLAN.requests.train_runtime_min(
            PLAN.epochs_of(wildcards.experiment), input.train_manifest
        )


# ---------------------------------------------------------------------------------------------------------------
# Training
TRAIN_THREADS = requests.train_threads(config["train"])
TRAIN_ARGS = flags.train_args(config)


def train_inputs(wildcards):
    return PLAN.train_inputs(wildcards.experiment)


def train_priority(wildcards):
    return PLAN.train_priority(wildcards.experiment)


def experiment_args(wildcards, input):
    name = wildcards.experiment
    return flags.experiment_args(PLAN.experiment(name), PLAN.epochs_of(name), input)


# ---------------------------------------------------------------------------------------------------------------
# Evaluation and CAMs
run_files = PLAN.run_files
test_run_files = PLAN.test_run_files
table_files = PLAN.table_files
epoch_table_files = PLAN.epoch_table_files
version_files = PLAN.version_files
experiment_manifests = PLAN.experiment_manifests
EXPERIMENT_FACTOR_ARGS = flags.experiment_factor_args(
    config["experiments"], PLAN.epochs_of
)
config_json = PLAN.config_json
config_hash = PLAN.config_hash
report_targets = PLAN.report_targets
all_targets = PLAN.all_targets


def predict_test_inputs(wildcards):
    return PLAN.predict_test_inputs(wildcards.experiment, wildcards.seed)


def tables_run_args(wildcards, input):
    return flags.run_flags("--run", PLAN.runs(), input.predictions, input.models)


def figures_run_args(wildcards, input):
    return flags.run_flags("--run", PLAN.runs(), input.predictions, input.histories)


def epochs_run_args(wildcards, input):
    return flags.run_flags("--epochs-run", PLAN.runs(), input.epochs)


def test_tables_args(wildcards, input):
    labels = input.test_labels if TEST else None
    return flags.test_tables_args(PLAN.runs(), labels, input.test_predictions)


def manifest_args(wildcards, input):
    return " ".join(f"--manifest {shlex.quote(m)}" for m in input.manifests)


def output_dir(wildcards, output):
    """The folder of the rule's first output file."""
    return str(Path(output[0]).parent)


def with_validated(inputs, *keys):  # the named inputs as the validated view's
    return inputs | {key: validated(inputs[key]) for key in keys if key in inputs}


def operating_points_inputs(wildcards):
    inputs = PLAN.operating_points_inputs(wildcards.experiment, wildcards.seed)
    return with_validated(inputs, "labels", "test_labels")


def operating_points_args(wildcards, input, output):
    return flags.operating_points_args(
        PLAN.operating_points, PLAN.readers, input, list(output.decisions)
    )


def readers_inputs(wildcards):
    inputs = PLAN.readers_inputs(wildcards.experiment, wildcards.seed)
    return with_validated(inputs, "labels")


def readers_decisions_arg(wildcards, input):
    return flags.readers_decisions_arg(input.get("decisions"))


DECISION_INPUTS = PLAN.decision_tables_inputs()


def decision_tables_args(wildcards, input):
    return flags.decision_tables_args(
        PLAN.operating_points_runs(), PLAN.readers_runs(), input
    )


def cam_inputs(wildcards):
    return with_validated(
        PLAN.cam_inputs(wildcards.experiment, wildcards.seed), "labels"
    )


def cam_args(wildcards, input):
    thresholds = config["cam"]["chexlocalize_thresholds"]
    return flags.cam_args(config["cam"], input, "valid", thresholds)


def cam_test_inputs(wildcards):
    return with_validated(
        PLAN.cam_test_inputs(wildcards.experiment, wildcards.seed), "labels"
    )


def cam_test_args(wildcards, input):  # valid's thresholds; no boxes (valid's truth)
    return flags.cam_args(config["cam"], input, "test", input.get("thresholds"))


def chexlocalize_maps_inputs(wildcards):
    inputs = PLAN.chexlocalize_maps_inputs(wildcards.experiment, wildcards.seed)
    return with_validated(inputs, "labels")


# ---------------------------------------------------------------------------------------------------------------
# Code-aware staleness: each rule's params hold a hash of exactly the package modules its subcommand imports
# (chexpertnet/codehash.py; comments, docstrings and formatting do not count), read from this checkout.
def code_hash(command):
    return codehash.code_hash(command, PACKAGE_DIR)


def upstream_code_args():
    """`--code STEP=HASH` for every step whose outputs the tables depend on (recorded in each version)."""
    return " ".join(f"--code {s}={code_hash(s)}" for s in PLAN.upstream_steps())

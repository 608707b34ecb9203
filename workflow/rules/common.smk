# Helpers shared by every rule: config access, the experiment table, paths, per-rule code hashes.
import functools
import hashlib
import json
import math
import os
import re
import shlex
import sys
from pathlib import Path

from snakemake_interface_executor_plugins.settings import DeploymentMethod
from snakemake_interface_storage_plugins.exceptions import FileOrDirectoryNotFoundError

PACKAGE_DIR = Path(workflow.basedir) / "workflow"
# This checkout's package first (for the code hashes below; the jobs get it through PYTHONPATH)
sys.path.insert(0, str(PACKAGE_DIR))
from chexpertnet import codehash, dataroot, fileio  # standard library only

DATASET = config["dataset"]["name"]
RESULTS = f"results/{DATASET}"
LOGS = f"{RESULTS}/logs"
BENCHMARKS = f"{RESULTS}/benchmarks"
CONDA_ENV = "../../envs/chexpertnet.yaml"

VIEWS = ("both", "frontal")
UNCERTAINTY = ("multiclass", "ones", "zeros", "ignore")
SPLITS = ("train", "valid")


wildcard_constraints:
    split="train|valid|test",
    views="|".join(VIEWS),
    uncertainty="|".join(UNCERTAINTY),
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
    problem = dataroot.dataset_root_problem(
        root, config["dataset"].get("folder", "CheXpert-v1.0-small")
    )
    if problem:
        raise ValueError(problem)
    return root


DATA_FOLDER = config["dataset"].get("folder", "CheXpert-v1.0-small")


def data_threads(n):
    """Threads of the image steps (validate, cache): n on real data; one on the phantom, whose few thousand
    small images take seconds, so these steps never wait for two free cores while a training holds one.
    """
    return n if config["dataset"]["source"] == "chexpert" else 1


def split_csv(split):
    """The split's CSV where the data live (dataset.root): validation's input, and DAG-time sizes. For the test
    split, its labels file (either published format), which `chexpertnet test-labels` turns into the CSV.
    """
    if split == "test":
        return TEST["labels"]
    return f"{data_root()}/{DATA_FOLDER}/{split}.csv"


# The optional test split: dataset.test for real data (the CheXpert test set's labels, study- or image-level, and
# the folder that contains test/), phantom.test_patients for the phantom (which writes its labels in the study-level
# format). Its CSV joins the validated view (the test_labels rule), with its own report in place of validation.json.
def test_source():
    if config["dataset"]["source"] == "phantom":
        if config["phantom"].get("test_patients", 0) > 0:
            return {
                "labels": f"{RESULTS}/data/test_groundtruth.csv",
                "images": f"{RESULTS}/data/{DATA_FOLDER}",
            }
        return None
    return config["dataset"].get("test")


TEST = test_source()
TEST_REPORT = f"{RESULTS}/test_labels.json"
TEST_RESULTS = f"{RESULTS}/test"


# The validated view (chexpertnet.dataview): copies of the validated CSVs and links to the image folders, at a path
# that does not depend on dataset.root. Every step after validation reads the data through it. For real data the
# view's files are inputs marked ancient, and each CSV's content enters through a stamp (the stamp job; its SHA-256,
# computed here at DAG time, is the stamp rule's only parameter): moving the data to another root re-runs
# validation only (its input paths changed), while a changed CSV re-runs its stamp and so everything that reads it.
# (A parameter on the readers themselves would not do: Snakemake does not look at jobs downstream of a job that must
# run, such as validation, when all they take from it is ancient.) The phantom is made by the workflow itself, so
# its view is an ordinary input and has no stamps.
VIEW = f"{RESULTS}/data/validated"
VALIDATION = f"{RESULTS}/validation.json"
REAL_DATA = config["dataset"]["source"] != "phantom"


def view_csv(split):
    return f"{VIEW}/{DATA_FOLDER}/{split}.csv"


def view_folder(wildcards, output):
    """The view's root, from the validate rule's outputs (<view>/<folder>/train.csv)."""
    return str(Path(output.train).parent.parent)


def test_view_folder(wildcards, output):
    """The view's root, from the test_labels rule's outputs (<view>/<folder>/test.csv)."""
    return str(Path(output.csv).parent.parent)


def validated(path):
    """An input made by the validate rule, as later steps take it (see above)."""
    return ancient(path) if REAL_DATA else path


@functools.lru_cache(maxsize=None)
def _file_sha256(path, size, mtime_ns):
    """fileio.sha256_file, once per (path, size, modification time) in this Snakemake process."""
    return fileio.sha256_file(path)


def csv_digest(wildcards):
    """SHA-256 of the split's CSV at dataset.root, at DAG time (real data only: the stamp rule's parameter)."""
    st = os.stat(split_csv(wildcards.split))
    return _file_sha256(split_csv(wildcards.split), st.st_size, st.st_mtime_ns)


def csv_stamp(split):
    """The stamp of a split's CSV content, as an input of the steps that read the CSV (none for the phantom)."""
    return f"{VIEW}/{split}.sha256.json" if REAL_DATA else []


def split_stamp(wildcards):
    return csv_stamp(wildcards.split)


def split_report(wildcards):
    """The report that lists the split's CSV as checked: validation.json, or the test labels' own."""
    return validated(TEST_REPORT if wildcards.split == "test" else VALIDATION)


def phantom_test_labels():
    """The phantom's test labels file, an output of the phantom rule when it has a test split."""
    return [TEST["labels"]] if TEST and config["dataset"]["source"] == "phantom" else []


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


# ---------------------------------------------------------------------------------------------------------------
# Training. Priorities: the short data steps (50) run before anything else, then the synthetic pretraining (10),
# which gates three of the four default trainings, then the trainings (5) before predictions, scores and CAMs (0):
# no core idles while a long job holds the other, and the last training starts as early as it can.
IMAGENET_WEIGHTS = "resources/densenet121-imagenet.pth"
SYNTHETIC_WEIGHTS = f"{RESULTS}/pretrained/densenet121-synthetic.pt"
GPUS_PER_TRAINING = 1 if config["train"]["device"] == "cuda" else 0
# A training on a GPU keeps two CPU threads busy: its loop (kernel launches) and the thread that prefetches batches
# from the cache; on the CPU, train.threads compute threads besides.
TRAINING_THREADS_ON_GPU = 2


def train_threads():
    if config["train"]["device"] == "cuda":
        return TRAINING_THREADS_ON_GPU
    return config["train"]["threads"]


# ---------------------------------------------------------------------------------------------------------------
# Cluster requests that follow the data. Snakemake passes each job's `input` to these functions: memory follows the
# sizes of the input files (Snakemake's input.size_mb), the training's wall time its number of images. In a dry run,
# input files not made yet count with the size they will have: an image cache exactly (rows of its split's CSV x
# image.cache_size squared, plus its 128-byte header), a cache's histograms as rows x 1 KB, a per-image table (cache
# index, manifest) as its split's CSV. Without the CSVs (the phantom before it is generated), such a request shows
# as <TBD>; Snakemake computes every request again from the real files once a job's inputs exist.
MB = 1 << 20
NPY_HEADER_BYTES = 128
HISTOGRAM_ROW_BYTES = 256 * 4
# Memory of the cache and statistics jobs: a fixed part (the cache's two 64 MB windows, decoding threads, Python)
# plus what the per-image tables they read take in pandas, per MB of CSV. Measured at 223,414 images
# (docs/benchmarks.md): cache 290 MB, stats 240 MB; these requests are about 4x that.
CACHE_MEM_BASE_MB = 1000
STATS_MEM_BASE_MB = 1000
TABLE_MEM_PER_CSV_MB = 4
# A training's memory: all of its inputs, so that the page cache holds the image cache whole after the first epoch
# (cluster memory limits count it), plus the model, optimizer, batches, CUDA's host memory and the manifests.
TRAIN_MEM_MARGIN_MB = 8000
# A training's wall time: its images x epochs at a planning rate well below what was measured (164 images/s on an
# H200 at 320 px; 7.4 images/s on 2 CPU cores, docs/benchmarks.md), x1.5, plus 30 minutes; at least an hour, at
# most 23 hours (a training that runs out of time resumes from its last checkpoint when it is run again).
TRAIN_IMAGES_PER_S_GPU = 50
TRAIN_IMAGES_PER_S_CPU_THREAD_AT_320PX = 2
MAX_RUNTIME_MIN = 23 * 60
PLANNED_FILES = re.compile(
    rf"^{re.escape(RESULTS)}/(?:cache/(?P<split>train|valid)(?P<kind>\.npy|\.histograms\.npy|\.index\.csv)"
    r"|manifests/[^/]+/(?P<manifest_split>train|valid)\.csv"
    rf"|data/validated/{re.escape(DATA_FOLDER)}/(?P<view_split>train|valid)\.csv)$"
)


@functools.cache
def csv_rows(csv):
    """Data rows of a CSV: its lines but the header (CheXpert's cells hold no line breaks)."""
    lines = 0
    with open(csv, "rb") as f:
        for block in iter(functools.partial(f.read, 1 << 20), b""):
            lines += block.count(b"\n")
    return lines - 1


def planned_mb(file):
    """The size in MB that ``file``, an input not made yet, will have (see above); 0 for small files."""
    m = PLANNED_FILES.match(str(file))
    if m is None:
        return 0.0
    split = m["split"] or m["manifest_split"] or m["view_split"]
    csv = split_csv(split)
    if not os.path.exists(csv):  # the request is <TBD> until the data exist
        raise FileOrDirectoryNotFoundError(Path(csv))
    rows = csv_rows(csv)
    if m["kind"] == ".npy":
        return (NPY_HEADER_BYTES + rows * config["image"]["cache_size"] ** 2) / MB
    if m["kind"] == ".histograms.npy":
        return (NPY_HEADER_BYTES + rows * HISTOGRAM_ROW_BYTES) / MB
    return os.path.getsize(csv) / MB


def input_mb(input, names=None):
    """MB of a job's input files (all: Snakemake's input.size_mb; or the named ones), those not made yet as
    planned_mb says."""
    files = list(input) if names is None else [input[name] for name in names]
    if names is None and all(os.path.exists(f) for f in files):
        return input.size_mb
    return sum(
        os.path.getsize(f) / MB if os.path.exists(f) else planned_mb(f) for f in files
    )


def cache_mem_mb(wildcards, input):
    csv = input_mb(input, ["csv"])
    return math.ceil(CACHE_MEM_BASE_MB + TABLE_MEM_PER_CSV_MB * csv)


def stats_mem_mb(wildcards, input):
    tables = input_mb(input, ["index", "manifest"])
    return math.ceil(STATS_MEM_BASE_MB + TABLE_MEM_PER_CSV_MB * tables)


def train_mem_mb(wildcards, input):
    return math.ceil(input_mb(input) + TRAIN_MEM_MARGIN_MB)


def train_runtime_min(wildcards, input):
    manifest = input.train_manifest
    images = csv_rows(manifest) if os.path.exists(manifest) else None
    if images is None:
        csv = split_csv("train")
        if not os.path.exists(csv):
            raise FileOrDirectoryNotFoundError(Path(csv))
        # every variant has the CSV's image count (the frontal substitution keeps it)
        images = csv_rows(csv)
    if config["train"]["device"] == "cuda":
        rate = TRAIN_IMAGES_PER_S_GPU
    else:
        scale = (320 / config["image"]["crop_size"]) ** 2
        rate = TRAIN_IMAGES_PER_S_CPU_THREAD_AT_320PX * train_threads() * scale
    minutes = 30 + 1.5 * images * config["train"]["epochs"] / rate / 60
    return min(MAX_RUNTIME_MIN, max(60, math.ceil(minutes)))


def pretrained_file():
    """The backbone for `init: pretrained`: synthetic | torchvision | a path to a state dict."""
    source = config["train"]["pretrained"]
    if source == "synthetic":
        return SYNTHETIC_WEIGHTS
    if source == "torchvision":
        return IMAGENET_WEIGHTS
    return source


def experiment(wildcards):
    return config["experiments"][wildcards.experiment]


def train_inputs(wildcards):
    e = experiment(wildcards)
    inputs = {
        "train_manifest": manifest_path(e["views"], e["uncertainty"], "train"),
        "train_weights": manifest_path(
            e["views"], e["uncertainty"], "train", "weights"
        ),
        "valid_manifest": manifest_path(e["views"], e["uncertainty"], "valid"),
        "train_cache": f"{RESULTS}/cache/train.npy",
        "train_index": f"{RESULTS}/cache/train.index.csv",
        "valid_cache": f"{RESULTS}/cache/valid.npy",
        "valid_index": f"{RESULTS}/cache/valid.index.csv",
    }
    if e["init"] in ("pretrained", "frozen"):
        inputs["pretrained"] = pretrained_file()
    if e["normalization"] == "dataset":
        inputs["stats"] = (
            f"{RESULTS}/stats/{variant(e['views'], e['uncertainty'])}.json"
        )
    return inputs


# A frozen backbone trains the head only: about 0.45 of a full training's time on a CPU (measured: 45 s against
# 101 s per default training on AVX2 kernels).
FROZEN_COST = 0.45


def train_priority(wildcards):
    """Between 5 and 6, higher for a longer training (epochs x the share of the network trained): among the
    trainings that can start, the longest starts first, so the short ones fill the gaps at the end (on 2 cores, the
    default's frozen-backbone training last instead of third: 27 s less on AVX2 kernels).
    """
    e = experiment(wildcards)
    cost = epochs_of(e) * (FROZEN_COST if e["init"] == "frozen" else 1.0)
    return 5 + min(cost, 99) / 100


def experiment_args(wildcards, input):
    """The experiment's factors as `chexpertnet train` flags (part of the params, so a change reruns the job)."""
    e = experiment(wildcards)
    args = f"--init {e['init']} --normalization {e['normalization']} --epochs {epochs_of(e)}"
    if e["init"] in ("pretrained", "frozen"):
        args += f" --pretrained {input.pretrained}"
    if e["normalization"] == "dataset":
        args += f" --stats {input.stats}"
    return args


def epochs_of(e):
    """An experiment's epochs: its own `epochs`, else train.epochs."""
    return e.get("epochs", config["train"]["epochs"])


def train_args():
    t = config["train"]
    flags = [
        f"--batch-size {t['batch_size']}",
        f"--lr {t['lr']}",
        f"--betas {t['betas'][0]} {t['betas'][1]}",
        f"--crop-size {config['image']['crop_size']}",
        "--hflip" if config["image"]["hflip"] else "--no-hflip",
        f"--device {t['device']}",
        "--fast" if t["fast"] else "--no-fast",
        "--deterministic" if t["deterministic"] else "--no-deterministic",
        f"--compile {t['compile']}",
        f"--log-every {t['log_every']}",
        f"--checkpoint-every {t['checkpoint_every']}",
    ]
    return " ".join(flags)


def runs():
    """(experiment, seed) of every configured training job."""
    return [
        (name, seed)
        for name, e in sorted(config["experiments"].items())
        for seed in e["seeds"]
    ]


# ---------------------------------------------------------------------------------------------------------------
# Evaluation: tables, figures and the report over every run
TABLES = f"{RESULTS}/tables"
FIGURES = f"{RESULTS}/figures"
PAPER_VALUES = "workflow/data/paper_values.yaml"
TABLE_NAMES = [*sorted(config["experiments"]), "comparison", "claims", "paper_vs_ours"]
# With a test split, the same tables on the test set, but the paper's values (its tables are on the validation set)
if TEST:
    TABLE_NAMES += [
        *(f"test.{name}" for name in sorted(config["experiments"])),
        "test.comparison",
        "test.claims",
    ]
EPOCH_TABLES = [f"{name}.epochs" for name in sorted(config["experiments"])]
REPORT_CAPTIONS = [
    f"workflow/report/{name}.rst"
    for name in (
        "workflow",
        "tables",
        "versions",
        "roc",
        "learning_curves",
        "cam",
        "localization",
    )
]
RUN_FILES = {
    "model": "models/{experiment}/seed{seed}/model.pt",
    "history": "models/{experiment}/seed{seed}/history.jsonl",
    "epochs": "models/{experiment}/seed{seed}/valid_epochs.csv",
    "predictions": "predictions/{experiment}/seed{seed}.csv",
    "scores": "scores/{experiment}/seed{seed}.csv",
}

if config["evaluation"]["baseline"] not in config["experiments"]:
    raise ValueError(
        f"config: evaluation.baseline is {config['evaluation']['baseline']!r}, which is not one of the "
        f"experiments {sorted(config['experiments'])}; name one of them"
    )


def run_files(kind):
    """One file of the given kind per (experiment, seed), in runs() order."""
    return [
        f"{RESULTS}/{RUN_FILES[kind].format(experiment=name, seed=seed)}"
        for name, seed in runs()
    ]


def test_run_files(kind):
    """One test-set file of the given kind (predictions, scores) per (experiment, seed), in runs() order; none
    without a test split."""
    if not TEST:
        return []
    return [f"{TEST_RESULTS}/{kind}/{name}/seed{seed}.csv" for name, seed in runs()]


def test_tables_args(wildcards, input):
    """`--test-labels FILE --test-run EXPERIMENT SEED PREDICTIONS` per run (nothing without a test split)."""
    if not TEST:
        return ""
    runs_ = " ".join(
        f"--test-run {name} {seed} {shlex.quote(p)}"
        for (name, seed), p in zip(runs(), input.test_predictions)
    )
    return f"--test-labels {shlex.quote(input.test_labels)} {runs_}"


def predict_test_inputs(wildcards):
    e = experiment(wildcards)
    return {
        "model": f"{RESULTS}/models/{wildcards.experiment}/seed{wildcards.seed}/model.pt",
        "manifest": manifest_path(e["views"], e["uncertainty"], "test"),
        "cache": f"{RESULTS}/cache/test.npy",
        "index": f"{RESULTS}/cache/test.index.csv",
    }


def experiment_manifests():
    return [
        manifest_path(views, uncertainty, split)
        for views, uncertainty in experiment_variants()
        for split in (*SPLITS, *(["test"] if TEST else []))
    ]


def table_files(suffix):
    return [f"{TABLES}/{name}{suffix}" for name in TABLE_NAMES]


def epoch_table_files(suffix):
    return [f"{TABLES}/{name}{suffix}" for name in EPOCH_TABLES]


def epochs_run_args(wildcards, input):
    """`--epochs-run EXPERIMENT SEED FILE` per run, in runs() order."""
    return " ".join(
        f"--epochs-run {name} {seed} {shlex.quote(f)}"
        for (name, seed), f in zip(runs(), input.epochs)
    )


def experiment_factor_args():
    return " ".join(
        f"--experiment {name} {e['views']} {e['normalization']} {e['init']} {e['uncertainty']} {epochs_of(e)}"
        for name, e in sorted(config["experiments"].items())
    )


def run_flags(predictions, others):
    """`--run EXPERIMENT SEED PREDICTIONS OTHER` per run, in runs() order."""
    return " ".join(
        f"--run {name} {seed} {shlex.quote(p)} {shlex.quote(o)}"
        for (name, seed), p, o in zip(runs(), predictions, others)
    )


def tables_run_args(wildcards, input):
    return run_flags(input.predictions, input.models)


def figures_run_args(wildcards, input):
    return run_flags(input.predictions, input.histories)


def output_dir(wildcards, output):
    """The folder of the rule's first output file."""
    return str(Path(output[0]).parent)


def manifest_args(wildcards, input):
    return " ".join(f"--manifest {shlex.quote(m)}" for m in input.manifests)


ARCHIVE = f"{RESULTS}/archive/tables"
VERSION_FILES = ["history", "latest_diff"]


def version_files(suffix):
    return [f"{TABLES}/{name}{suffix}" for name in VERSION_FILES]


def upstream_code_args():
    """`--code STEP=HASH` for every step whose outputs the tables depend on (recorded in each version)."""
    steps = [
        "validate",
        "cache",
        "manifest",
        "stats",
        "train",
        "score",
        "tables",
    ]
    if config["dataset"]["source"] == "phantom":
        steps.insert(0, "phantom")
    if config["train"]["pretrained"] == "synthetic":
        steps.insert(steps.index("train"), "pretrain")
    if TEST:
        steps[steps.index("score") : steps.index("score")] = ["test_labels", "predict"]
    return " ".join(f"--code {step}={code_hash(step)}" for step in steps)


def config_json():
    """The run's config, for the tables' provenance and the nested report. For real data, dataset.root is the
    validated view (VIEW): the same content at a path that does not move with the data, so moving the data re-runs
    neither (a changed CSV re-runs them through its stamp), and the nested report's DAG is that of the run.
    """
    portable = json.loads(json.dumps(config))
    if REAL_DATA:
        portable["dataset"]["root"] = VIEW
    return json.dumps(portable, sort_keys=True, separators=(",", ":"))


def config_hash():
    return hashlib.sha256(config_json().encode()).hexdigest()[:16]


def cam_runs():
    """(experiment, seed) with CAMs: the first seed of each experiment named in cam.experiments."""
    unknown = sorted(set(config["cam"]["experiments"]) - set(config["experiments"]))
    if unknown:
        raise ValueError(
            f"config: cam.experiments names {unknown}, which are not experiments {sorted(config['experiments'])}"
        )
    return [
        (name, config["experiments"][name]["seeds"][0])
        for name in config["cam"]["experiments"]
    ]


def cam_files(name, seed):
    folder = f"{RESULTS}/cam/{name}/seed{seed}"
    return [
        f"{folder}/{f}"
        for f in (
            "figure1.png",
            "localization.csv",
            "localization.md",
            "localization.html",
            "chexlocalize.csv",
        )
    ]


def cam_inputs(wildcards):
    e = experiment(wildcards)
    inputs = {
        "model": f"{RESULTS}/models/{wildcards.experiment}/seed{wildcards.seed}/model.pt",
        "manifest": manifest_path(e["views"], e["uncertainty"], "valid"),
        "cache": f"{RESULTS}/cache/valid.npy",
        "index": f"{RESULTS}/cache/valid.index.csv",
        "predictions": f"{RESULTS}/predictions/{wildcards.experiment}/seed{wildcards.seed}.csv",
        "labels": validated(view_csv("valid")),
        "stamp": csv_stamp("valid"),
    }
    if config["dataset"]["source"] == "phantom":
        inputs["boxes"] = f"{RESULTS}/data/phantom_truth.csv"
        inputs["chexlocalize"] = f"{RESULTS}/data/gt_segmentations_val.json"
    else:
        if config["cam"]["boxes"]:
            inputs["boxes"] = config["cam"]["boxes"]
        if config["cam"]["chexlocalize"]:
            inputs["chexlocalize"] = config["cam"]["chexlocalize"]
    return inputs


def cam_args(wildcards, input):
    c = config["cam"]
    args = "--observations " + " ".join(shlex.quote(o) for o in c["observations"])
    args += f" --per-observation {c['per_observation']} --seed {c['seed']}"
    args += f" --tolerance {c['tolerance_px']} --threshold {c['threshold']}"
    if "boxes" in input.keys():
        args += f" --boxes {shlex.quote(input.boxes)}"
    if "chexlocalize" in input.keys():
        args += f" --chexlocalize {shlex.quote(input.chexlocalize)} --chexlocalize-split valid"
    return args


def report_targets():
    """The files the report shows."""
    targets = [
        *table_files(".html"),
        *version_files(".html"),
        f"{FIGURES}/roc.png",
        f"{FIGURES}/learning_curves.png",
    ]
    for name, seed in cam_runs():
        figure, _, _, html, _ = cam_files(name, seed)
        targets += [figure, html]
    return targets


def all_targets():
    targets = [VALIDATION]
    targets += [
        f"{RESULTS}/cache/{split}{suffix}"
        for split in SPLITS
        for suffix in (".npy", ".index.csv", ".histograms.npy")
    ]
    for views, uncertainty in experiment_variants():
        for split in SPLITS:
            targets += [
                manifest_path(views, uncertainty, split, kind)
                for kind in ("csv", "summary", "weights")
            ]
        targets.append(f"{RESULTS}/stats/{variant(views, uncertainty)}.json")
    for name, seed in runs():
        targets.append(f"{RESULTS}/models/{name}/seed{seed}/model.pt")
        targets.append(f"{RESULTS}/predictions/{name}/seed{seed}.csv")
        targets.append(f"{RESULTS}/scores/{name}/seed{seed}.csv")
    targets += [*table_files(".csv"), *table_files(".md"), *report_targets()]
    targets += [*version_files(".csv"), *version_files(".md")]
    targets += [*epoch_table_files(".csv"), *epoch_table_files(".md")]
    for name, seed in cam_runs():
        targets += cam_files(name, seed)
    targets += test_run_files("predictions") + test_run_files("scores")
    targets.append(f"{RESULTS}/report.html")
    return targets


# ---------------------------------------------------------------------------------------------------------------
# Code-aware staleness: each rule's params hold a hash of exactly the package modules its subcommand imports
# (chexpertnet/codehash.py; comments, docstrings and formatting do not count), read from this checkout.
def code_hash(command):
    return codehash.code_hash(command, PACKAGE_DIR)

# Helpers shared by every rule: config access, the experiment table, paths, per-rule code hashes.
import hashlib
import json
import shlex
import sys
from pathlib import Path

from snakemake_interface_executor_plugins.settings import DeploymentMethod

PACKAGE_DIR = Path(workflow.basedir) / "workflow"
# This checkout's package first (for the code hashes below; the jobs get it through PYTHONPATH)
sys.path.insert(0, str(PACKAGE_DIR))
from chexpertnet import codehash  # standard library only

DATASET = config["dataset"]["name"]
RESULTS = f"results/{DATASET}"
LOGS = f"{RESULTS}/logs"
BENCHMARKS = f"{RESULTS}/benchmarks"
CONDA_ENV = "../../envs/chexpertnet.yaml"

VIEWS = ("both", "frontal")
UNCERTAINTY = ("multiclass", "ones", "zeros", "ignore")
SPLITS = ("train", "valid")


wildcard_constraints:
    split="|".join(SPLITS),
    views="|".join(VIEWS),
    uncertainty="|".join(UNCERTAINTY),
    experiment="|".join(sorted(config["experiments"])),
    seed=r"\d+",


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


def data_threads(n):
    """Threads of the image steps (validate, cache): n on real data; one on the phantom, whose few thousand
    small images take seconds, so these steps never wait for two free cores while a training holds one.
    """
    return n if config["dataset"]["source"] == "chexpert" else 1


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


# ---------------------------------------------------------------------------------------------------------------
# Training. Priorities: the short data steps (50) run before anything else, then the synthetic pretraining (10),
# which gates three of the four default trainings, then the trainings (5) before predictions, scores and CAMs (0):
# no core idles while a long job holds the other, and the last training starts as early as it can.
IMAGENET_WEIGHTS = "resources/densenet121-imagenet.pth"
SYNTHETIC_WEIGHTS = f"{RESULTS}/pretrained/densenet121-synthetic.pt"
GPUS_PER_TRAINING = 1 if config["train"]["device"] == "cuda" else 0
TRAIN_RUNTIME_MIN = 60 if config["dataset"]["source"] == "phantom" else 24 * 60


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
    if e["init"] == "pretrained":
        inputs["pretrained"] = pretrained_file()
    if e["normalization"] == "dataset":
        inputs["stats"] = (
            f"{RESULTS}/stats/{variant(e['views'], e['uncertainty'])}.json"
        )
    return inputs


def experiment_args(wildcards, input):
    """The experiment's factors as `chexpertnet train` flags (part of the params, so a change reruns the job)."""
    e = experiment(wildcards)
    args = f"--init {e['init']} --normalization {e['normalization']}"
    if e["init"] == "pretrained":
        args += f" --pretrained {input.pretrained}"
    if e["normalization"] == "dataset":
        args += f" --stats {input.stats}"
    return args


def train_args():
    t = config["train"]
    flags = [
        f"--batch-size {t['batch_size']}",
        f"--epochs {t['epochs']}",
        f"--lr {t['lr']}",
        f"--betas {t['betas'][0]} {t['betas'][1]}",
        f"--crop-size {config['image']['crop_size']}",
        "--hflip" if config["image"]["hflip"] else "--no-hflip",
        f"--device {t['device']}",
        "--fast" if t["fast"] else "--no-fast",
        "--deterministic" if t["deterministic"] else "--no-deterministic",
        f"--log-every {t['log_every']}",
        f"--checkpoint-every {t['checkpoint_every']}",
    ]
    return " ".join(flags)


def predict_inputs(wildcards):
    e = experiment(wildcards)
    return {
        "model": f"{RESULTS}/models/{wildcards.experiment}/seed{wildcards.seed}/model.pt",
        "manifest": manifest_path(e["views"], e["uncertainty"], "valid"),
        "cache": f"{RESULTS}/cache/valid.npy",
        "index": f"{RESULTS}/cache/valid.index.csv",
    }


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
TABLE_NAMES = [*sorted(config["experiments"]), "comparison", "paper_vs_ours"]
REPORT_CAPTIONS = [
    f"workflow/report/{name}.rst"
    for name in ("workflow", "tables", "roc", "learning_curves", "cam", "localization")
]
RUN_FILES = {
    "model": "models/{experiment}/seed{seed}/model.pt",
    "history": "models/{experiment}/seed{seed}/history.jsonl",
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


def experiment_manifests():
    return [
        manifest_path(views, uncertainty, split)
        for views, uncertainty in experiment_variants()
        for split in SPLITS
    ]


def table_files(suffix):
    return [f"{TABLES}/{name}{suffix}" for name in TABLE_NAMES]


def experiment_factor_args():
    return " ".join(
        f"--experiment {name} {e['views']} {e['normalization']} {e['init']} {e['uncertainty']}"
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


def config_json():
    return json.dumps(config, sort_keys=True, separators=(",", ":"))


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
        )
    ]


def cam_inputs(wildcards):
    inputs = {
        **predict_inputs(wildcards),
        "predictions": f"{RESULTS}/predictions/{wildcards.experiment}/seed{wildcards.seed}.csv",
        "labels": split_csv("valid"),
    }
    if config["dataset"]["source"] == "phantom":
        inputs["boxes"] = f"{RESULTS}/data/phantom_truth.csv"
    elif config["cam"]["boxes"]:
        inputs["boxes"] = config["cam"]["boxes"]
    return inputs


def cam_args(wildcards, input):
    c = config["cam"]
    args = "--observations " + " ".join(shlex.quote(o) for o in c["observations"])
    args += f" --per-observation {c['per_observation']} --seed {c['seed']}"
    args += f" --tolerance {c['tolerance_px']} --threshold {c['threshold']}"
    if "boxes" in input.keys():
        args += f" --boxes {shlex.quote(input.boxes)}"
    return args


def report_targets():
    """The files the report shows."""
    targets = [
        *table_files(".html"),
        f"{FIGURES}/roc.png",
        f"{FIGURES}/learning_curves.png",
    ]
    for name, seed in cam_runs():
        figure, _, _, html = cam_files(name, seed)
        targets += [figure, html]
    return targets


def all_targets():
    targets = [f"{RESULTS}/validation.json"]
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
    for name, seed in cam_runs():
        targets += cam_files(name, seed)
    targets.append(f"{RESULTS}/report.html")
    return targets


# ---------------------------------------------------------------------------------------------------------------
# Code-aware staleness: each rule's params hold a hash of exactly the package modules its subcommand imports
# (chexpertnet/codehash.py; comments, docstrings and formatting do not count), read from this checkout.
def code_hash(command):
    return codehash.code_hash(command, PACKAGE_DIR)

"""The workflow's plan as plain Python: from a validated config to every path, target list, command-line argument
and cluster request that the rules use. ``workflow/rules/common.smk`` builds one :class:`Plan` and wraps its methods
in the callables Snakemake wants (wildcards, input, output); everything else lives here, unit-tested directly.

Standard library only (and the package's own ``data.dataroot``, ``observations`` and ``plan.config_checks``): Snakemake
imports this module while it builds the DAG.

Cluster requests follow the data. Memory follows the sizes of a job's input files, a training's wall time its number
of images. In a dry run, input files not made yet count with the size they will have: an image cache exactly (rows
of its split's CSV x image.cache_size squared, plus its 128-byte header), a cache's histograms as rows x 1 KB, a
per-image table (cache index, manifest) as its split's CSV. Without the CSVs (the phantom before it is generated) a
request cannot be known yet: :class:`NotYetKnown`, which Snakemake shows as <TBD> and computes again once a job's
inputs exist.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import os
import re
import shlex

from chexpertnet.data import dataroot
from chexpertnet.observations import DATASET_DIR
from chexpertnet.plan import config_checks

VIEWS = ("both", "frontal")
UNCERTAINTY = ("multiclass", "ones", "zeros", "ignore")
SPLITS = ("train", "valid")
#: Config sections that neither the tables nor any step before them read
NOT_READ_BY_TABLES = ("cam",)
DEFAULT_FOLDER = DATASET_DIR  # the phantom writes this folder; real data may be either release (dataset.folder)

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
# A training's wall time (the cluster's runtime request): its images x its own epochs at the measured rate, times a
# safety factor, plus 30 minutes (start, cache reads, evaluation); at least an hour, at most 23 hours (a training
# that runs out of time resumes from its last checkpoint when it is run again). Measured rates (docs/benchmarks.md):
# 243.8 images/s on an H200 at 320 px, batch 16, bf16, eager (the compiled step is faster, but pays minutes of
# compilation and may be off); 3.7 images/s per CPU thread at 320 px (7.4 on 2 cores). The safety factor covers a
# slower GPU (an H100, an A100), a busy node and shared file systems.
TRAIN_IMAGES_PER_S_GPU = 243.8
TRAIN_IMAGES_PER_S_CPU_THREAD_AT_320PX = 3.7
RUNTIME_SAFETY = 2.0
MIN_RUNTIME_MIN = 60
MAX_RUNTIME_MIN = 23 * 60
# A training on a GPU keeps two CPU threads busy: its loop (kernel launches) and the thread that prefetches batches
# from the cache; on the CPU, train.threads compute threads besides.
TRAINING_THREADS_ON_GPU = 2
# A frozen backbone trains the head only: about 0.45 of a full training's time on a CPU (measured: 45 s against
# 101 s per default training on AVX2 kernels).
FROZEN_COST = 0.45

IMAGENET_WEIGHTS = "resources/densenet121-imagenet.pth"
# Inductor's caches for train.compile, shared by every training of the run (and by later runs)
COMPILE_CACHE = "resources/torch-compile-cache"
PAPER_VALUES = "workflow/data/paper_values.yaml"
REPORT_CAPTIONS = tuple(
    f"workflow/report/{name}.rst"
    for name in (
        "workflow", "experiment", "comparison", "claims", "paper_vs_ours", "versions", "roc", "learning_curves", "cam",
        "localization", "operating_points", "readers",
    )
)  # fmt: skip
#: The phantom's simulated radiologists (chexpertnet.data.simulated_readers.READERS; a test checks they agree),
#: whose reads of its test split `chexpertnet phantom-readers` writes
PHANTOM_READERS = ("phantom_reader1", "phantom_reader2", "phantom_reader3")
READER_FILES = {"csv": ".csv", "counts": ".counts.csv", "markdown": ".md", "figure": ".png"}
VERSION_FILES = ("history", "latest_diff")
RUN_FILES = {
    "model": "models/{experiment}/seed{seed}/model.pt",
    "history": "models/{experiment}/seed{seed}/history.jsonl",
    "epochs": "models/{experiment}/seed{seed}/valid_epochs.csv",
    "predictions": "predictions/{experiment}/seed{seed}.csv",
    "scores": "scores/{experiment}/seed{seed}.csv",
}
CAM_FILES = ("figure1.png", "localization.csv", "localization.md", "localization.html", "chexlocalize.csv")
MANIFEST_SUFFIXES = {"csv": ".csv", "summary": ".summary.json", "weights": ".weights.csv"}
# The steps whose outputs the tables depend on, in the order of the DAG (each version records their code hashes)
TABLE_UPSTREAM = ("validate", "cache", "manifest", "stats", "train", "score", "tables")


def operating_point_arg(rule: str | dict) -> str:
    """A rule of evaluation.operating_points as `chexpertnet operating-points --rule` takes it: youden,
    readers_specificity, {sensitivity: 0.9} -> sensitivity=0.9, {specificity: 0.95} -> specificity=0.95."""
    if isinstance(rule, str):
        return rule
    ((kind, target),) = rule.items()
    return f"{kind}={float(target):g}"


def table_caption(name: str) -> str:
    """The report caption of a result table (test.<name> shares <name>'s): experiment, comparison, claims or
    paper_vs_ours (workflow/report/<caption>.rst)."""
    kind = name.removeprefix("test.")
    return kind if kind in ("comparison", "claims", "paper_vs_ours") else "experiment"


class NotYetKnown(FileNotFoundError):
    """A request that depends on a file not made yet (the phantom's CSVs before it is generated)."""


@functools.cache
def csv_rows(csv: str) -> int:
    """Data rows of a CSV: its lines but the header (CheXpert's cells hold no line breaks)."""
    lines = 0
    with open(csv, "rb") as f:
        for block in iter(functools.partial(f.read, 1 << 20), b""):
            lines += block.count(b"\n")
    return lines - 1


def quote_all(flag: str, *rows: tuple) -> str:
    """``flag a b c`` per row, every value shell-quoted, joined by spaces."""
    return " ".join(f"{flag} " + " ".join(shlex.quote(str(v)) for v in row) for row in rows)


# A plan before the data (a dry run of a real-data config whose dataset.root is not set): the sizes of
# CheXpert-v1.0-small as published (both releases list the same images), and a CSV's size from its rows at the
# bytes per row of CheXpert's train.csv (about 120: the path, sex, age, view and 14 labels).
PUBLISHED_ROWS = {"train": 223_414, "valid": 234}
CSV_BYTES_PER_ROW = 120
PREVIEW_ROOT = "<dataset.root>"


def is_dry_run(argv: list[str]) -> bool:
    """Whether Snakemake's command line asks for a dry run (-n, --dry-run, --dryrun, or -n among short flags)."""
    for arg in argv[1:]:
        if arg in ("--dry-run", "--dryrun", "--just-print"):
            return True
        if re.fullmatch(r"-[A-Za-z]*n[A-Za-z]*", arg):
            return True
    return False


class Plan:
    """Paths, targets, arguments and requests of one run of the workflow (one config).

    ``preview``: Snakemake was asked for a dry run. A real-data config without dataset.root then plans from the
    published sizes (PUBLISHED_ROWS) instead of stopping at the root check, so the jobs and their cluster requests
    can be seen before the data is downloaded; any other run still stops there."""

    def __init__(self, config: dict, preview: bool = False):
        self.config = config
        self.dataset = config["dataset"]["name"]
        self.results = f"results/{self.dataset}"
        self.logs = f"{self.results}/logs"
        self.benchmarks = f"{self.results}/benchmarks"
        self.folder = config["dataset"].get("folder", DEFAULT_FOLDER)
        self.phantom = config["dataset"]["source"] == "phantom"
        self.real_data = not self.phantom
        self.preview = preview and self.real_data and not config["dataset"].get("root")
        # The validated view (chexpertnet.data.dataview): every step after validation reads the data through it.
        self.view = f"{self.results}/data/validated"
        self.validation = f"{self.results}/validation.json"
        self.test = self._test_source()
        self.test_report = f"{self.results}/test_labels.json"
        self.test_results = f"{self.results}/test"
        self.synthetic_weights = f"{self.results}/pretrained/densenet121-synthetic.pt"
        self.tables = f"{self.results}/tables"
        self.figures = f"{self.results}/figures"
        self.archive = f"{self.results}/archive/tables"
        self.gpus_per_training = 1 if config["train"]["device"] == "cuda" else 0
        names = sorted(config["experiments"])
        self.table_names = [*names, "comparison", "claims", "paper_vs_ours"]
        # With a test split, the same tables on the test set, but the paper's values (its tables are on valid)
        if self.test:
            self.table_names += [*(f"test.{name}" for name in names), "test.comparison", "test.claims"]
        self.epoch_tables = [f"{name}.epochs" for name in names]
        # Operating points (evaluation.operating_points) and radiologists on the ROC (dataset.test.readers, or the
        # phantom's simulated readers with its test split): evaluation steps after the predictions, no training
        self.readers = self._readers()
        self.operating_points = [
            rule for rule in map(operating_point_arg, config["evaluation"].get("operating_points", []))
            if rule != "readers_specificity" or self.readers  # the readers' rule where there are readers
        ]  # fmt: skip
        self.decision_tables = [
            *(["operating_points"] if self.operating_points else []),
            *(["test.operating_points"] if self.operating_points and self.test else []),
            *(["test.readers"] if self.readers else []),
        ]
        self._planned = re.compile(
            rf"^{re.escape(self.results)}/(?:cache/(?P<split>train|valid)(?P<kind>\.npy|\.histograms\.npy|\.index\.csv)"
            r"|manifests/[^/]+/(?P<manifest_split>train|valid)\.csv"
            rf"|data/validated/{re.escape(self.folder)}/(?P<view_split>train|valid)\.csv)$"
        )
        self._check()

    def _check(self) -> None:
        config_checks.refuse(config_checks.cross_problems(self.config), "config")

    # -----------------------------------------------------------------------------------------------------------
    # Data locations
    def data_root(self) -> str:
        """The folder that contains the dataset folder (CheXpert-v1.0-small/)."""
        if self.phantom:
            return f"{self.results}/data"
        if self.preview:
            return PREVIEW_ROOT
        root = self.config["dataset"].get("root")
        if not root:
            raise ValueError(
                f"config: dataset.root is not set; set it to the folder that contains {self.folder}/ (for example "
                "--config dataset='{name: chexpert, source: chexpert, root: /data/chexpert}')"
            )
        problem = dataroot.dataset_root_problem(root, self.folder)
        if problem:
            raise ValueError(problem)
        return root

    def _test_source(self) -> dict | None:
        """The optional test split: dataset.test for real data (the CheXpert test set's labels, study- or image-level,
        and the folder that contains test/), phantom.test_patients for the phantom (which writes its labels in the
        study-level format)."""
        if self.phantom:
            if self.config["phantom"].get("test_patients", 0) > 0:
                return {
                    "labels": f"{self.results}/data/test_groundtruth.csv",
                    "images": f"{self.results}/data/{self.folder}",
                }
            return None
        return self.config["dataset"].get("test")

    def _readers(self) -> list[str]:
        """The radiologists' reads of the test set: dataset.test.readers, or the phantom's simulated ones."""
        if not self.test:
            return []
        if self.phantom:
            return [f"{self.results}/data/readers/{name}.csv" for name in PHANTOM_READERS]
        return list(self.test.get("readers") or [])

    def phantom_readers(self) -> list[str]:
        """The phantom_readers rule's reads (with the phantom's test split), then its declaration."""
        if not (self.phantom and self.test):
            return []
        return [*self.readers, f"{self.results}/data/readers/declared.json"]

    def data_threads(self, n: int) -> int:
        """Threads of the image steps (validate, cache): n on real data; one on the phantom, whose few thousand
        small images take seconds, so these steps never wait for two free cores while a training holds one."""
        return n if self.real_data else 1

    def split_csv(self, split: str) -> str:
        """The split's CSV where the data live (dataset.root): validation's input, and DAG-time sizes. For the test
        split, its labels file (either published format), which `chexpertnet test-labels` turns into the CSV."""
        if split == "test":
            if not self.test:
                raise ValueError("config: no test split (set dataset.test, or phantom.test_patients above 0)")
            return self.test["labels"]
        return f"{self.data_root()}/{self.folder}/{split}.csv"

    def validate_input(self, split: str) -> str | list:
        """The split's CSV as the validate job's input; none in a plan before the data."""
        return [] if self.preview else self.split_csv(split)

    def split_rows(self, split: str) -> int:
        """Rows of the split's CSV where the data live (the published count in a plan before the data)."""
        if self.preview:
            return PUBLISHED_ROWS[split]
        csv = self.split_csv(split)
        if not os.path.exists(csv):
            raise NotYetKnown(csv)
        return csv_rows(csv)

    def split_csv_mb(self, split: str) -> float:
        if self.preview:
            return PUBLISHED_ROWS[split] * CSV_BYTES_PER_ROW / MB
        return os.path.getsize(self.split_csv(split)) / MB

    def view_csv(self, split: str) -> str:
        return f"{self.view}/{self.folder}/{split}.csv"

    def csv_stamp(self, split: str) -> str | list:
        """The stamp of a split's CSV content, as an input of the steps that read the CSV (none for the phantom)."""
        return f"{self.view}/{split}.sha256.json" if self.real_data else []

    def split_report(self, split: str) -> str:
        """The report that lists the split's CSV as checked: validation.json, or the test labels' own."""
        return self.test_report if split == "test" else self.validation

    def phantom_test_labels(self) -> list[str]:
        """The phantom's test labels file, an output of the phantom rule when it has a test split."""
        return [self.test["labels"]] if self.test and self.phantom else []

    def phantom_test_segmentations(self) -> list[str]:
        """The phantom's CheXlocalize truth of the test set, an output of the phantom rule with a test split."""
        return [f"{self.results}/data/gt_segmentations_test.json"] if self.test and self.phantom else []

    def chexlocalize_truth(self, split: str) -> str | None:
        """CheXlocalize's ground truth of a split: the phantom's own, or cam.chexlocalize(_test) for real data;
        the test set's only with a test split."""
        if split == "test" and not self.test:
            return None
        if self.phantom:
            return f"{self.results}/data/gt_segmentations_{'val' if split == 'valid' else 'test'}.json"
        return self.config["cam"].get("chexlocalize" if split == "valid" else "chexlocalize_test")

    # -----------------------------------------------------------------------------------------------------------
    # Experiments and their manifests
    def experiment(self, name: str) -> dict:
        return self.config["experiments"][name]

    def epochs_of(self, name: str) -> int:
        """An experiment's epochs: its own `epochs`, else train.epochs."""
        return self.experiment(name).get("epochs", self.config["train"]["epochs"])

    def runs(self) -> list[tuple[str, int]]:
        """(experiment, seed) of every configured training job, sorted by experiment."""
        return [(name, seed) for name, e in sorted(self.config["experiments"].items()) for seed in e["seeds"]]

    def variants(self) -> list[tuple[str, str]]:
        """The (views, uncertainty) manifest variants that the configured experiments need, sorted."""
        return sorted({(e["views"], e["uncertainty"]) for e in self.config["experiments"].values()})

    def manifest_path(self, views: str, uncertainty: str, split: str, kind: str = "csv") -> str:
        return f"{self.results}/manifests/{views}-{uncertainty}/{split}{MANIFEST_SUFFIXES[kind]}"

    def experiment_manifests(self) -> list[str]:
        splits = (*SPLITS, *(["test"] if self.test else []))
        return [self.manifest_path(v, u, split) for v, u in self.variants() for split in splits]

    def stats_path(self, views: str, uncertainty: str) -> str:
        return f"{self.results}/stats/{views}-{uncertainty}.json"

    # -----------------------------------------------------------------------------------------------------------
    # Training
    def train_threads(self) -> int:
        if self.config["train"]["device"] == "cuda":
            return TRAINING_THREADS_ON_GPU
        return self.config["train"]["threads"]

    def pretrained_file(self) -> str:
        """The backbone for `init: pretrained` or `frozen`: synthetic | torchvision | a path to a state dict."""
        source = self.config["train"]["pretrained"]
        if source == "synthetic":
            return self.synthetic_weights
        if source == "torchvision":
            return IMAGENET_WEIGHTS
        return source

    def run_file(self, kind: str, name: str, seed: int | str) -> str:
        return f"{self.results}/{RUN_FILES[kind].format(experiment=name, seed=seed)}"

    def train_inputs(self, name: str) -> dict[str, str]:
        e = self.experiment(name)
        v, u = e["views"], e["uncertainty"]
        inputs = {
            "train_manifest": self.manifest_path(v, u, "train"),
            "train_weights": self.manifest_path(v, u, "train", "weights"),
            "valid_manifest": self.manifest_path(v, u, "valid"),
            "train_cache": f"{self.results}/cache/train.npy",
            "train_index": f"{self.results}/cache/train.index.csv",
            "valid_cache": f"{self.results}/cache/valid.npy",
            "valid_index": f"{self.results}/cache/valid.index.csv",
        }
        if e["init"] in ("pretrained", "frozen"):
            inputs["pretrained"] = self.pretrained_file()
        if e["normalization"] == "dataset":
            inputs["stats"] = self.stats_path(v, u)
        return inputs

    def train_priority(self, name: str) -> float:
        """Between 5 and 6, higher for a longer training (epochs x the share of the network trained): among the
        trainings that can start, the longest starts first, so the short ones fill the gaps at the end (on 2 cores,
        the default's frozen-backbone training last instead of third: 27 s less on AVX2 kernels). The short data
        steps (50) run before anything else, then the synthetic pretraining (10), which gates the pretrained
        trainings, then the trainings before predictions, scores and CAMs (0)."""
        cost = self.epochs_of(name) * (FROZEN_COST if self.experiment(name)["init"] == "frozen" else 1.0)
        return 5 + min(cost, 99) / 100

    def experiment_args(self, name: str, pretrained: str | None = None, stats: str | None = None) -> str:
        """The experiment's factors as `chexpertnet train` flags (part of the params, so a change reruns the job);
        ``pretrained`` and ``stats`` are the job's input files of those names."""
        e = self.experiment(name)
        args = f"--init {e['init']} --normalization {e['normalization']} --epochs {self.epochs_of(name)}"
        if e["init"] in ("pretrained", "frozen"):
            args += f" --pretrained {pretrained}"
        if e["normalization"] == "dataset":
            args += f" --stats {stats}"
        return args

    def train_args(self) -> str:
        t = self.config["train"]
        flags = [
            f"--batch-size {t['batch_size']}",
            f"--lr {t['lr']}",
            f"--betas {t['betas'][0]} {t['betas'][1]}",
            f"--crop-size {self.config['image']['crop_size']}",
            "--hflip" if self.config["image"]["hflip"] else "--no-hflip",
            f"--device {t['device']}",
            "--fast" if t["fast"] else "--no-fast",
            "--deterministic" if t["deterministic"] else "--no-deterministic",
            f"--compile {t['compile']}",
            *([f"--compile-cache {COMPILE_CACHE}"] if t["compile"] != "off" else []),
            f"--log-every {t['log_every']}",
            f"--checkpoint-every {t['checkpoint_every']}",
        ]
        return " ".join(flags)

    # -----------------------------------------------------------------------------------------------------------
    # Cluster requests (see the module's docstring)
    def planned_mb(self, file: str | os.PathLike) -> float:
        """The size in MB that ``file``, an input not made yet, will have; 0 for small files."""
        m = self._planned.match(str(file))
        if m is None:
            return 0.0
        split = m["split"] or m["manifest_split"] or m["view_split"]
        rows = self.split_rows(split)
        if m["kind"] == ".npy":
            return (NPY_HEADER_BYTES + rows * self.config["image"]["cache_size"] ** 2) / MB
        if m["kind"] == ".histograms.npy":
            return (NPY_HEADER_BYTES + rows * HISTOGRAM_ROW_BYTES) / MB
        return self.split_csv_mb(split)

    def input_mb(self, files) -> float:
        """MB of input files, those not made yet as :meth:`planned_mb` says."""
        return sum(os.path.getsize(f) / MB if os.path.exists(f) else self.planned_mb(f) for f in files)

    def cache_mem_mb(self, csv: str) -> int:
        return math.ceil(CACHE_MEM_BASE_MB + TABLE_MEM_PER_CSV_MB * self.input_mb([csv]))

    def stats_mem_mb(self, index: str, manifest: str) -> int:
        return math.ceil(STATS_MEM_BASE_MB + TABLE_MEM_PER_CSV_MB * self.input_mb([index, manifest]))

    def train_mem_mb(self, inputs) -> int:
        """All of a training's input files plus the margin."""
        return math.ceil(self.input_mb(inputs) + TRAIN_MEM_MARGIN_MB)

    def train_runtime_min(self, name: str, train_manifest: str) -> int:
        """Wall time of a training of experiment ``name`` on the images of ``train_manifest`` (before it exists:
        the train CSV's, which every view variant keeps)."""
        images = csv_rows(train_manifest) if os.path.exists(train_manifest) else self.split_rows("train")
        scale = (320 / self.config["image"]["crop_size"]) ** 2  # the rate goes with the pixels per image
        if self.config["train"]["device"] == "cuda":
            rate = TRAIN_IMAGES_PER_S_GPU * scale
        else:
            rate = TRAIN_IMAGES_PER_S_CPU_THREAD_AT_320PX * self.train_threads() * scale
        minutes = 30 + RUNTIME_SAFETY * images * self.epochs_of(name) / rate / 60
        return min(MAX_RUNTIME_MIN, max(MIN_RUNTIME_MIN, math.ceil(minutes)))

    # -----------------------------------------------------------------------------------------------------------
    # Evaluation: files and arguments of the tables, figures and report over every run
    def run_files(self, kind: str) -> list[str]:
        """One file of the given kind per (experiment, seed), in runs() order."""
        return [self.run_file(kind, name, seed) for name, seed in self.runs()]

    def test_run_files(self, kind: str) -> list[str]:
        """One test-set file of the given kind (predictions, scores) per run; none without a test split."""
        if not self.test:
            return []
        return [f"{self.test_results}/{kind}/{name}/seed{seed}.csv" for name, seed in self.runs()]

    def predict_test_inputs(self, name: str, seed: int | str) -> dict[str, str]:
        e = self.experiment(name)
        return {
            "model": self.run_file("model", name, seed),
            "manifest": self.manifest_path(e["views"], e["uncertainty"], "test"),
            "cache": f"{self.results}/cache/test.npy",
            "index": f"{self.results}/cache/test.index.csv",
        }

    # -----------------------------------------------------------------------------------------------------------
    # Operating points and readers (per run), and their tables over every run
    def operating_points_file(self, name: str, seed: int | str) -> str:
        return f"{self.results}/operating_points/{name}/seed{seed}.csv"

    def decision_stems(self) -> list[str]:
        """One decisions file per rule: youden, sensitivity_0.9, ..."""
        return [rule.replace("=", "_") for rule in self.operating_points]

    def decision_file(self, name: str, seed: int | str, stem: str) -> str:
        return f"{self.test_results}/decisions/{name}/seed{seed}/{stem}.csv"

    def decision_outputs(self) -> list[str]:
        """The operating_points rule's test decisions (with {experiment} and {seed}); none without a test split."""
        if not self.test:
            return []
        return [self.decision_file("{experiment}", "{seed}", stem) for stem in self.decision_stems()]

    def readers_file(self, name: str, seed: int | str, kind: str) -> str:
        return f"{self.test_results}/readers/{name}/seed{seed}{READER_FILES[kind]}"

    def operating_points_runs(self) -> list[tuple[str, int]]:
        return self.runs() if self.operating_points else []

    def readers_runs(self) -> list[tuple[str, int]]:
        return self.runs() if self.readers else []

    def operating_points_inputs(self, name: str, seed: int | str) -> dict[str, str | list]:
        """The validation predictions and labels; with a test split its predictions and labels; the readers where
        a rule needs them."""
        inputs = {
            "predictions": self.run_file("predictions", name, seed),
            "labels": self.view_csv("valid"),
            "stamp": self.csv_stamp("valid"),
        }
        if self.test:
            inputs |= {
                "test_predictions": f"{self.test_results}/predictions/{name}/seed{seed}.csv",
                "test_labels": self.view_csv("test"),
                "test_stamp": self.csv_stamp("test"),
            }
        if "readers_specificity" in self.operating_points:
            inputs["readers"] = self.readers
        return inputs

    def operating_points_args(self, inputs, decisions: list[str]) -> str:
        """The command's flags beyond the validation files: the rules, the test set, the readers, the decisions."""
        args = " ".join(f"--rule {shlex.quote(r)}" for r in self.operating_points)
        if self.test:
            args += f" --test-predictions {shlex.quote(inputs['test_predictions'])}"
            args += f" --test-labels {shlex.quote(inputs['test_labels'])}"
            args += f" --decisions-dir {shlex.quote(os.path.dirname(decisions[0]))}"
        if "readers_specificity" in self.operating_points:
            args += " --readers " + " ".join(shlex.quote(r) for r in self.readers)
        return args

    def readers_inputs(self, name: str, seed: int | str) -> dict[str, str | list]:
        """The test predictions and labels, the readers and, with operating points, the decisions of the first rule
        (whose MCC then sits beside the readers')."""
        inputs = {
            "predictions": f"{self.test_results}/predictions/{name}/seed{seed}.csv",
            "labels": self.view_csv("test"),
            "stamp": self.csv_stamp("test"),
            "readers": self.readers,
        }
        if self.operating_points:
            inputs["decisions"] = self.decision_file(name, seed, self.decision_stems()[0])
        return inputs

    @staticmethod
    def readers_decisions_arg(decisions: str | None) -> str:
        return f"--decisions {shlex.quote(decisions)}" if decisions else ""

    def decision_table_files(self, suffix: str) -> list[str]:
        return [f"{self.tables}/{name}{suffix}" for name in self.decision_tables]

    def decision_tables_inputs(self) -> dict[str, list[str]]:
        return {
            "operating_points": [self.operating_points_file(n, s) for n, s in self.operating_points_runs()],
            "readers": [self.readers_file(n, s, "csv") for n, s in self.readers_runs()],
            "counts": [self.readers_file(n, s, "counts") for n, s in self.readers_runs()],
        }

    def decision_tables_args(self, inputs) -> str:
        args = quote_all("--operating-points", *((n, s, f) for (n, s), f in
                                                  zip(self.operating_points_runs(), inputs.operating_points,
                                                      strict=True)))  # fmt: skip
        readers = quote_all("--readers-run", *((n, s, f, c) for (n, s), f, c in
                                               zip(self.readers_runs(), inputs.readers, inputs.counts,
                                                   strict=True)))  # fmt: skip
        return f"{args} {readers}".strip()

    def table_files(self, suffix: str) -> list[str]:
        return [f"{self.tables}/{name}{suffix}" for name in self.table_names]

    def epoch_table_files(self, suffix: str) -> list[str]:
        return [f"{self.tables}/{name}{suffix}" for name in self.epoch_tables]

    def version_files(self, suffix: str) -> list[str]:
        return [f"{self.tables}/{name}{suffix}" for name in VERSION_FILES]

    def run_flags(self, flag: str, *per_run: list[str]) -> str:
        """``flag EXPERIMENT SEED FILE...`` per run, in runs() order, one file from each list."""
        runs = self.runs()
        for files in per_run:
            if len(files) != len(runs):
                raise ValueError(f"{flag}: {len(files)} files for {len(runs)} runs")
        return quote_all(flag, *((name, seed, *files) for (name, seed), *files in zip(runs, *per_run, strict=True)))

    def test_tables_args(self, test_labels: str, test_predictions: list[str]) -> str:
        """`--test-labels FILE --test-run EXPERIMENT SEED PREDICTIONS` per run (nothing without a test split)."""
        if not self.test:
            return ""
        return f"--test-labels {shlex.quote(test_labels)} {self.run_flags('--test-run', test_predictions)}"

    def experiment_factor_args(self) -> str:
        return " ".join(
            f"--experiment {name} {e['views']} {e['normalization']} {e['init']} {e['uncertainty']} "
            f"{self.epochs_of(name)}"
            for name, e in sorted(self.config["experiments"].items())
        )

    def upstream_steps(self) -> list[str]:
        """The steps whose outputs the tables depend on (each version records their code hashes)."""
        steps = list(TABLE_UPSTREAM)
        if self.phantom:
            steps.insert(0, "phantom")
        if self.config["train"]["pretrained"] == "synthetic":
            steps.insert(steps.index("train"), "pretrain")
        if self.test:
            steps[steps.index("score") : steps.index("score")] = ["test_labels", "predict_cache"]
        return steps

    def config_json(self) -> str:
        """The run's config, for the tables' provenance and the nested report. For real data, dataset.root is the
        validated view: the same content at a path that does not move with the data, so moving the data re-runs
        neither (a changed CSV re-runs them through its stamp), and the nested report's DAG is that of the run."""
        portable = json.loads(json.dumps(self.config))
        if self.real_data:
            portable["dataset"]["root"] = self.view
        return json.dumps(portable, sort_keys=True, separators=(",", ":"))

    def tables_config_json(self) -> str:
        """The config as the tables record it: the settings of the tables and of every step before them (the data,
        the trainings, the evaluation), without those that only steps beside or after them read (the CAMs' `cam`,
        evaluation.operating_points, dataset.test.readers), so that changing those reruns their own steps and not
        the tables."""
        config = {k: v for k, v in json.loads(self.config_json()).items() if k not in NOT_READ_BY_TABLES}
        config["evaluation"].pop("operating_points", None)
        if isinstance(config["dataset"].get("test"), dict):
            config["dataset"]["test"].pop("readers", None)
        return json.dumps(config, sort_keys=True, separators=(",", ":"))

    def config_hash(self) -> str:
        """The tables' config (tables_config_json), hashed."""
        return hashlib.sha256(self.tables_config_json().encode()).hexdigest()[:16]

    # -----------------------------------------------------------------------------------------------------------
    # Class activation maps
    def cam_runs(self) -> list[tuple[str, int]]:
        """(experiment, seed) with CAMs: the first seed of each experiment named in cam.experiments."""
        return [(name, self.experiment(name)["seeds"][0]) for name in self.config["cam"]["experiments"]]

    def cam_files(self, name: str, seed: int | str) -> list[str]:
        return [f"{self.results}/cam/{name}/seed{seed}/{f}" for f in CAM_FILES]

    def cam_test_runs(self) -> list[tuple[str, int]]:
        """The CAM runs scored on the test set too: with a test split whose CheXlocalize truth is known."""
        return self.cam_runs() if self.chexlocalize_truth("test") else []

    def cam_test_files(self, name: str, seed: int | str) -> list[str]:
        return [f"{self.test_results}/cam/{name}/seed{seed}/{f}" for f in CAM_FILES]

    def _cam_inputs(self, name: str, seed: int | str, split: str, predictions: str) -> dict[str, str | list]:
        """What every cam job reads for one split: the model, the split's images, predictions and labels."""
        e = self.experiment(name)
        return {
            "model": self.run_file("model", name, seed),
            "manifest": self.manifest_path(e["views"], e["uncertainty"], split),
            "cache": f"{self.results}/cache/{split}.npy",
            "index": f"{self.results}/cache/{split}.index.csv",
            "predictions": predictions,
            "labels": self.view_csv(split),
            "stamp": self.csv_stamp(split),
        }

    def cam_test_inputs(self, name: str, seed: int | str) -> dict[str, str | list]:
        """The test set's cam job: the test images, CheXlocalize's test truth and, where the validation set has
        CheXlocalize's truth too, its tuned thresholds (the benchmark tunes on valid and applies to test)."""
        inputs = self._cam_inputs(name, seed, "test", f"{self.test_results}/predictions/{name}/seed{seed}.csv")
        inputs["chexlocalize"] = self.chexlocalize_truth("test")
        if self.chexlocalize_truth("valid"):
            inputs["thresholds"] = f"{self.results}/cam/{name}/seed{seed}/chexlocalize.csv"
        return inputs

    def cam_inputs(self, name: str, seed: int | str) -> dict[str, str | list]:
        """The cam job's inputs (``labels`` as a plain path: the rule marks it as the validated view's)."""
        inputs = self._cam_inputs(name, seed, "valid", self.run_file("predictions", name, seed))
        boxes = f"{self.results}/data/phantom_truth.csv" if self.phantom else self.config["cam"]["boxes"]
        if boxes:
            inputs["boxes"] = boxes
        if self.chexlocalize_truth("valid"):
            inputs["chexlocalize"] = self.chexlocalize_truth("valid")
        return inputs

    def _cam_args(self, boxes: str | None, chexlocalize: str | None, split: str, thresholds: str | None) -> str:
        c = self.config["cam"]
        args = "--observations " + " ".join(shlex.quote(o) for o in c["observations"])
        args += f" --per-observation {c['per_observation']} --seed {c['seed']}"
        args += f" --tolerance {c['tolerance_px']} --threshold {c['threshold']}"
        if boxes:
            args += f" --boxes {shlex.quote(boxes)}"
        if chexlocalize:
            args += f" --chexlocalize {shlex.quote(chexlocalize)} --chexlocalize-split {split}"
            args += f" --saliency {c['saliency']}"
            if thresholds:
                args += f" --chexlocalize-thresholds {shlex.quote(thresholds)}"
        return args

    def cam_args(self, boxes: str | None, chexlocalize: str | None) -> str:
        return self._cam_args(boxes, chexlocalize, "valid", self.config["cam"]["chexlocalize_thresholds"])

    def cam_test_args(self, chexlocalize: str, thresholds: str | None) -> str:
        """The test set's: no boxes (the pointing game's truth is the validation set's), valid's thresholds."""
        return self._cam_args(None, chexlocalize, "test", thresholds)

    # -----------------------------------------------------------------------------------------------------------
    # Targets
    def report_targets(self) -> list[str]:
        """The files the report shows."""
        targets = [
            *self.table_files(".html"),
            *self.version_files(".html"),
            f"{self.figures}/roc.png",
            f"{self.figures}/learning_curves.png",
        ]
        for name, seed in self.cam_runs():
            figure, _, _, html, _ = self.cam_files(name, seed)
            targets += [figure, html]
        for name, seed in self.cam_test_runs():
            figure, _, _, html, _ = self.cam_test_files(name, seed)
            targets += [figure, html]
        targets += self.decision_table_files(".html")
        targets += [self.readers_file(name, seed, "figure") for name, seed in self.readers_runs()]
        return targets

    def all_targets(self) -> list[str]:
        """Every output of a complete run (rule all)."""
        targets = [self.validation]
        targets += [
            f"{self.results}/cache/{split}{suffix}"
            for split in SPLITS
            for suffix in (".npy", ".index.csv", ".histograms.npy")
        ]
        for views, uncertainty in self.variants():
            for split in SPLITS:
                targets += [self.manifest_path(views, uncertainty, split, kind) for kind in MANIFEST_SUFFIXES]
            targets.append(self.stats_path(views, uncertainty))
        for name, seed in self.runs():
            targets += [self.run_file(kind, name, seed) for kind in ("model", "predictions", "scores")]
        targets += [*self.table_files(".csv"), *self.table_files(".md"), *self.report_targets()]
        targets += [*self.version_files(".csv"), *self.version_files(".md")]
        targets += [*self.epoch_table_files(".csv"), *self.epoch_table_files(".md")]
        for name, seed in self.cam_runs():
            targets += self.cam_files(name, seed)
        for name, seed in self.cam_test_runs():
            targets += self.cam_test_files(name, seed)
        targets += self.test_run_files("predictions") + self.test_run_files("scores")
        for name, seed in self.operating_points_runs():
            targets.append(self.operating_points_file(name, seed))
            targets += [self.decision_file(name, seed, stem) for stem in self.decision_stems()] if self.test else []
        for name, seed in self.readers_runs():
            targets += [self.readers_file(name, seed, kind) for kind in READER_FILES]
        targets += [*self.decision_table_files(".csv"), *self.decision_table_files(".md")]
        targets += self.phantom_readers()
        targets.append(f"{self.results}/report.html")
        return list(dict.fromkeys(targets))  # the report's CAM files are also the CAMs' own

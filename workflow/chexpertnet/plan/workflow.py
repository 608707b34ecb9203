"""The workflow's plan of one config: which jobs run (the runs, view variants, CAM, operating-point and reader runs),
what each reads (its inputs), and the targets. ``workflow/rules/common.smk`` builds one :class:`Plan` and wraps its
methods in the callables Snakemake wants (wildcards, input, output); everything else lives here, unit-tested.

The other concerns have their own modules: every path comes from the results layout (``plan.layout``), the
cluster requests from ``plan.requests``, the command-line flags from ``plan.flags``, the config's cross-checks from
``plan.config_checks``.

Standard library only (and the package's own ``data.dataroot`` and ``observations``): Snakemake imports this module
while it builds the DAG.
"""

from __future__ import annotations

import hashlib
import json
import os
import re

from chexpertnet.data import dataroot
from chexpertnet.observations import DATASET_DIR
from chexpertnet.plan import config_checks
from chexpertnet.plan.flags import operating_point_arg
from chexpertnet.plan.layout import Layout
from chexpertnet.plan.requests import NotYetKnown, Requests, csv_rows

VIEWS = ("both", "frontal")
UNCERTAINTY = ("multiclass", "ones", "zeros", "ignore")
SPLITS = ("train", "valid")
#: Config sections that neither the tables nor any step before them read
NOT_READ_BY_TABLES = ("cam",)
DEFAULT_FOLDER = DATASET_DIR  # the phantom writes this folder; real data may be either release (dataset.folder)
MB = 1 << 20
# A frozen backbone trains the head only: about 0.45 of a full training's time on a CPU (measured: 45 s against
# 101 s per default training on AVX2 kernels).
FROZEN_COST = 0.45

IMAGENET_WEIGHTS = "resources/densenet121-imagenet.pth"
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
RUN_FILES = ("model", "history", "epochs", "predictions", "scores")
CAM_FILES = ("figure1.png", "localization.csv", "localization.md", "localization.html", "chexlocalize.csv")
MANIFEST_SUFFIXES = {"csv": ".csv", "summary": ".summary.json", "weights": ".weights.csv"}
CACHE_SUFFIXES = (".npy", ".index.csv", ".histograms.npy")
# The steps whose outputs the tables depend on, in the order of the DAG (each version records their code hashes)
TABLE_UPSTREAM = ("validate", "cache", "manifest", "stats", "train", "score", "tables")

# A plan before the data (a dry run of a real-data config whose dataset.root is not set): the sizes of
# CheXpert-v1.0-small as published (both releases list the same images), and a CSV's size from its rows at the
# bytes per row of CheXpert's train.csv (about 120: the path, sex, age, view and 14 labels).
PUBLISHED_ROWS = {"train": 223_414, "valid": 234}
CSV_BYTES_PER_ROW = 120
PREVIEW_ROOT = "<dataset.root>"


def table_caption(name: str) -> str:
    """The report caption of a result table (test.<name> shares <name>'s): experiment, comparison, claims or
    paper_vs_ours (workflow/report/<caption>.rst)."""
    kind = name.removeprefix("test.")
    return kind if kind in ("comparison", "claims", "paper_vs_ours") else "experiment"


def is_dry_run(argv: list[str]) -> bool:
    """Whether Snakemake's command line asks for a dry run (-n, --dry-run, --dryrun, or -n among short flags)."""
    for arg in argv[1:]:
        if arg in ("--dry-run", "--dryrun", "--just-print"):
            return True
        if re.fullmatch(r"-[A-Za-z]*n[A-Za-z]*", arg):
            return True
    return False


class Plan:
    """Jobs, inputs and targets of one run of the workflow (one config).

    ``preview``: Snakemake was asked for a dry run. A real-data config without dataset.root then plans from the
    published sizes (PUBLISHED_ROWS) instead of stopping at the root check, so the jobs and their cluster requests
    can be seen before the data is downloaded; any other run still stops there."""

    def __init__(self, config: dict, preview: bool = False):
        self.config = config
        self.dataset = config["dataset"]["name"]
        self.results = f"results/{self.dataset}"
        self.folder = config["dataset"].get("folder", DEFAULT_FOLDER)
        self.layout = layout = Layout(self.results, self.folder)
        self.logs, self.benchmarks = layout.path("logs"), layout.path("benchmarks")
        self.phantom = config["dataset"]["source"] == "phantom"
        self.real_data = not self.phantom
        self.preview = preview and self.real_data and not config["dataset"].get("root")
        # The validated view (chexpertnet.data.dataview): every step after validation reads the data through it.
        self.view = layout.path("view")
        self.validation = layout.path("validation")
        self.test = self._test_source()
        self.test_report = layout.path("test_report")
        self.synthetic_weights = layout.path("synthetic_weights")
        self.archive = layout.path("archive")
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
        self.requests = Requests(layout, config["image"]["cache_size"], config["image"]["crop_size"],
                                 config["train"], self.split_rows, self.split_csv_mb)  # fmt: skip
        config_checks.refuse(config_checks.cross_problems(config), "config")

    # -----------------------------------------------------------------------------------------------------------
    # Data locations
    def data_root(self) -> str:
        """The folder that contains the dataset folder (CheXpert-v1.0-small/)."""
        if self.phantom:
            return os.path.dirname(self.layout.path("phantom_images"))
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
                return {"labels": self.layout.path("phantom_test_labels"),
                        "images": self.layout.path("phantom_images")}  # fmt: skip
            return None
        return self.config["dataset"].get("test")

    def _readers(self) -> list[str]:
        """The radiologists' reads of the test set: dataset.test.readers, or the phantom's simulated ones."""
        if not self.test:
            return []
        if self.phantom:
            return [self.layout.path("phantom_readers", name=name) for name in PHANTOM_READERS]
        return list(self.test.get("readers") or [])

    def phantom_readers(self) -> list[str]:
        """The phantom_readers rule's reads (with the phantom's test split), then its declaration."""
        if not (self.phantom and self.test):
            return []
        return [*self.readers, self.layout.path("phantom_readers_declared")]

    def phantom_outputs(self) -> dict[str, str | list[str]]:
        """The phantom rule's outputs: its CSVs in the dataset folder, its truths, and with a test split its labels
        and CheXlocalize truth."""
        layout = self.layout
        return {
            "train": layout.path("dataset_csv", split="train"),
            "valid": layout.path("dataset_csv", split="valid"),
            "truth": layout.path("phantom_truth"),
            "segmentations": layout.path("phantom_segmentations", chexlocalize_split="val"),
            "test_labels": [self.test["labels"]] if self.test and self.phantom else [],
            "test_segmentations": self.phantom_test_segmentations(),
        }

    def data_threads(self, n: int) -> int:
        """Threads of the image steps (validate, cache): n on real data; one on the phantom, whose few thousand
        small images take seconds, so these steps never wait for two free cores while a training holds one."""
        return n if self.real_data else 1

    def split_csv(self, split: str) -> str:
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
        csv = self.split_csv(split)
        if not os.path.exists(csv):
            raise NotYetKnown(csv)
        return os.path.getsize(csv) / MB

    def view_csv(self, split: str) -> str:
        return self.layout.path("view_csv", split=split)

    def csv_stamp(self, split: str) -> str | list:
        """The stamp of a split's CSV content, as an input of the steps that read the CSV (none for the phantom)."""
        return self.layout.path("stamp", split=split) if self.real_data else []

    def split_report(self, split: str) -> str:
        """The report that lists the split's CSV as checked: validation.json, or the test labels' own."""
        return self.test_report if split == "test" else self.validation

    def phantom_test_segmentations(self) -> list[str]:
        """The phantom's CheXlocalize truth of the test set, an output of the phantom rule with a test split."""
        if not (self.test and self.phantom):
            return []
        return [self.layout.path("phantom_segmentations", chexlocalize_split="test")]

    def chexlocalize_truth(self, split: str) -> str | None:
        """CheXlocalize's ground truth of a split: the phantom's own, or cam.chexlocalize(_test) for real data;
        the test set's only with a test split."""
        if split == "test" and not self.test:
            return None
        if self.phantom:
            return self.layout.path("phantom_segmentations", chexlocalize_split="val" if split == "valid" else "test")
        return self.config["cam"].get("chexlocalize" if split == "valid" else "chexlocalize_test")

    def cache_file(self, split: str, suffix: str = ".npy") -> str:
        return self.layout.path("cache", split=split, suffix=suffix)

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
        return self.layout.path("manifest", views=views, uncertainty=uncertainty, split=split,
                                suffix=MANIFEST_SUFFIXES[kind])  # fmt: skip

    def experiment_manifests(self) -> list[str]:
        splits = (*SPLITS, *(["test"] if self.test else []))
        return [self.manifest_path(v, u, split) for v, u in self.variants() for split in splits]

    def stats_path(self, views: str, uncertainty: str) -> str:
        return self.layout.path("stats", views=views, uncertainty=uncertainty)

    # -----------------------------------------------------------------------------------------------------------
    # Training
    def pretrained_file(self) -> str:
        """The backbone for `init: pretrained` or `frozen`: synthetic | torchvision | a path to a state dict."""
        source = self.config["train"]["pretrained"]
        if source == "synthetic":
            return self.synthetic_weights
        if source == "torchvision":
            return IMAGENET_WEIGHTS
        return source

    def run_file(self, kind: str, name: str, seed: int | str) -> str:
        return self.layout.path(kind, experiment=name, seed=seed)

    def train_inputs(self, name: str) -> dict[str, str]:
        e = self.experiment(name)
        v, u = e["views"], e["uncertainty"]
        inputs = {
            "train_manifest": self.manifest_path(v, u, "train"),
            "train_weights": self.manifest_path(v, u, "train", "weights"),
            "valid_manifest": self.manifest_path(v, u, "valid"),
            "train_cache": self.cache_file("train"),
            "train_index": self.cache_file("train", ".index.csv"),
            "valid_cache": self.cache_file("valid"),
            "valid_index": self.cache_file("valid", ".index.csv"),
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

    # -----------------------------------------------------------------------------------------------------------
    # Evaluation: files of the tables, figures and report over every run
    def run_files(self, kind: str) -> list[str]:
        """One file of the given kind per (experiment, seed), in runs() order."""
        return [self.run_file(kind, name, seed) for name, seed in self.runs()]

    def test_run_files(self, kind: str) -> list[str]:
        """One test-set file of the given kind (predictions, scores) per run; none without a test split."""
        if not self.test:
            return []
        return [self.run_file(f"test_{kind}", name, seed) for name, seed in self.runs()]

    def predict_test_inputs(self, name: str, seed: int | str) -> dict[str, str]:
        e = self.experiment(name)
        return {
            "model": self.run_file("model", name, seed),
            "manifest": self.manifest_path(e["views"], e["uncertainty"], "test"),
            "cache": self.cache_file("test"),
            "index": self.cache_file("test", ".index.csv"),
        }

    def table_files(self, suffix: str) -> list[str]:
        return [self.layout.path("table", name=name, suffix=suffix) for name in self.table_names]

    def epoch_table_files(self, suffix: str) -> list[str]:
        return [self.layout.path("table", name=name, suffix=suffix) for name in self.epoch_tables]

    def version_files(self, suffix: str) -> list[str]:
        return [self.layout.path("table", name=name, suffix=suffix) for name in VERSION_FILES]

    def figure_files(self) -> list[str]:
        return [self.layout.path("figure", name=name) for name in ("roc", "learning_curves")]

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
    # Operating points and readers (per run), and their tables over every run
    def operating_points_file(self, name: str, seed: int | str) -> str:
        return self.run_file("operating_points", name, seed)

    def decision_stems(self) -> list[str]:
        """One decisions file per rule: youden, sensitivity_0.9, ..."""
        return [rule.replace("=", "_") for rule in self.operating_points]

    def decision_file(self, name: str, seed: int | str, stem: str) -> str:
        return self.layout.path("decisions", experiment=name, seed=seed, stem=stem)

    def decision_outputs(self) -> list[str]:
        """The operating_points rule's test decisions (with {experiment} and {seed}); none without a test split."""
        if not self.test:
            return []
        return [self.layout.pattern("decisions", stem=stem) for stem in self.decision_stems()]

    def readers_file(self, name: str, seed: int | str, kind: str) -> str:
        return self.layout.path("readers", experiment=name, seed=seed, suffix=READER_FILES[kind])

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
                "test_predictions": self.run_file("test_predictions", name, seed),
                "test_labels": self.view_csv("test"),
                "test_stamp": self.csv_stamp("test"),
            }
        if "readers_specificity" in self.operating_points:
            inputs["readers"] = self.readers
        return inputs

    def readers_inputs(self, name: str, seed: int | str) -> dict[str, str | list]:
        """The test predictions and labels, the readers and, with operating points, the decisions of the first rule
        (whose MCC then sits beside the readers')."""
        inputs = {
            "predictions": self.run_file("test_predictions", name, seed),
            "labels": self.view_csv("test"),
            "stamp": self.csv_stamp("test"),
            "readers": self.readers,
        }
        if self.operating_points:
            inputs["decisions"] = self.decision_file(name, seed, self.decision_stems()[0])
        return inputs

    def decision_table_files(self, suffix: str) -> list[str]:
        return [self.layout.path("table", name=name, suffix=suffix) for name in self.decision_tables]

    def decision_tables_inputs(self) -> dict[str, list[str]]:
        return {
            "operating_points": [self.operating_points_file(n, s) for n, s in self.operating_points_runs()],
            "readers": [self.readers_file(n, s, "csv") for n, s in self.readers_runs()],
            "counts": [self.readers_file(n, s, "counts") for n, s in self.readers_runs()],
        }

    # -----------------------------------------------------------------------------------------------------------
    # Class activation maps
    def cam_runs(self) -> list[tuple[str, int]]:
        """(experiment, seed) with CAMs: the first seed of each experiment named in cam.experiments."""
        return [(name, self.experiment(name)["seeds"][0]) for name in self.config["cam"]["experiments"]]

    def cam_files(self, name: str, seed: int | str) -> list[str]:
        return [self.layout.path("cam", experiment=name, seed=seed, file=f) for f in CAM_FILES]

    def cam_test_runs(self) -> list[tuple[str, int]]:
        """The CAM runs scored on the test set too: with a test split whose CheXlocalize truth is known."""
        return self.cam_runs() if self.chexlocalize_truth("test") else []

    def cam_test_files(self, name: str, seed: int | str) -> list[str]:
        return [self.layout.path("test_cam", experiment=name, seed=seed, file=f) for f in CAM_FILES]

    def _cam_inputs(self, name: str, seed: int | str, split: str, predictions: str) -> dict[str, str | list]:
        """What every cam job reads for one split: the model, the split's images, predictions and labels."""
        e = self.experiment(name)
        return {
            "model": self.run_file("model", name, seed),
            "manifest": self.manifest_path(e["views"], e["uncertainty"], split),
            "cache": self.cache_file(split),
            "index": self.cache_file(split, ".index.csv"),
            "predictions": predictions,
            "labels": self.view_csv(split),
            "stamp": self.csv_stamp(split),
        }

    def cam_test_inputs(self, name: str, seed: int | str) -> dict[str, str | list]:
        """The test set's cam job: the test images, CheXlocalize's test truth and, where the validation set has
        CheXlocalize's truth too, its tuned thresholds (the benchmark tunes on valid and applies to test)."""
        inputs = self._cam_inputs(name, seed, "test", self.run_file("test_predictions", name, seed))
        inputs["chexlocalize"] = self.chexlocalize_truth("test")
        if self.chexlocalize_truth("valid"):
            inputs["thresholds"] = self.layout.path("cam", experiment=name, seed=seed, file="chexlocalize.csv")
        return inputs

    def cam_inputs(self, name: str, seed: int | str) -> dict[str, str | list]:
        """The cam job's inputs (``labels`` as a plain path: the rule marks it as the validated view's)."""
        inputs = self._cam_inputs(name, seed, "valid", self.run_file("predictions", name, seed))
        boxes = self.layout.path("phantom_truth") if self.phantom else self.config["cam"]["boxes"]
        if boxes:
            inputs["boxes"] = boxes
        if self.chexlocalize_truth("valid"):
            inputs["chexlocalize"] = self.chexlocalize_truth("valid")
        return inputs

    def chexlocalize_maps_runs(self) -> list[tuple[str, int]]:
        """The CAM runs whose maps of CheXlocalize's validation images are written as its pickles
        (cam.chexlocalize_maps)."""
        return self.cam_runs() if self.config["cam"]["chexlocalize_maps"] and self.chexlocalize_truth("valid") else []

    def chexlocalize_maps_inputs(self, name: str, seed: int | str) -> dict[str, str | list]:
        """The maps' job: the cam job's model, images, predictions, labels and CheXlocalize truth (not the boxes)."""
        inputs = self._cam_inputs(name, seed, "valid", self.run_file("predictions", name, seed))
        return inputs | {"chexlocalize": self.chexlocalize_truth("valid")}

    # -----------------------------------------------------------------------------------------------------------
    # Targets
    def report_targets(self) -> list[str]:
        """The files the report shows."""
        targets = [*self.table_files(".html"), *self.version_files(".html"), *self.figure_files()]
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
        targets = [self.validation, *(self.cache_file(split, suffix) for split in SPLITS for suffix in CACHE_SUFFIXES)]
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
        targets += [self.run_file("chexlocalize_maps", n, s) for n, s in self.chexlocalize_maps_runs()]
        targets += self.test_run_files("predictions") + self.test_run_files("scores")
        for name, seed in self.operating_points_runs():
            targets.append(self.operating_points_file(name, seed))
            targets += [self.decision_file(name, seed, stem) for stem in self.decision_stems()] if self.test else []
        for name, seed in self.readers_runs():
            targets += [self.readers_file(name, seed, kind) for kind in READER_FILES]
        targets += [*self.decision_table_files(".csv"), *self.decision_table_files(".md")]
        targets += self.phantom_readers()
        targets.append(self.layout.path("report"))
        return list(dict.fromkeys(targets))  # the report's CAM files are also the CAMs' own

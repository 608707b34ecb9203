"""The results layout: the one source of every path under ``results/<dataset name>/``.

Each file kind is a template relative to the run's results folder, with named fields in braces. The plan fills
them in for a job's inputs and the targets; the rule files ask for the same templates with the wildcards left open
(``pattern``: ``models/{experiment}/seed{seed}/model.pt``); the cluster requests read a planned path back into its
fields (``match``: which split a cache or manifest is of); ``chexpertnet predict --experiment`` finds a run's model
with it. A path written anywhere else would drift from these without a test noticing.

Standard library only: Snakemake imports this module while it builds the DAG.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass

#: file kind -> path under the run's results folder
TEMPLATES = {
    # data: the phantom (written by the workflow), the validated view, its stamps, the test labels' report
    "dataset_csv": "data/{folder}/{split}.csv",
    "phantom_truth": "data/phantom_truth.csv",
    "phantom_segmentations": "data/gt_segmentations_{chexlocalize_split}.json",
    "phantom_test_labels": "data/test_groundtruth.csv",
    "phantom_readers": "data/readers/{name}.csv",
    "phantom_readers_declared": "data/readers/declared.json",
    "phantom_images": "data/{folder}",
    "validation": "validation.json",
    "view": "data/validated",
    "view_csv": "data/validated/{folder}/{split}.csv",
    "stamp": "data/validated/{split}.sha256.json",
    "test_report": "test_labels.json",
    # the image cache, manifests per view variant, dataset statistics
    "cache": "cache/{split}{suffix}",
    "manifest": "manifests/{views}-{uncertainty}/{split}{suffix}",
    "stats": "stats/{views}-{uncertainty}.json",
    # pretraining and the trainings
    "synthetic_weights": "pretrained/densenet121-synthetic.pt",
    "synthetic_summary": "pretrained/densenet121-synthetic.json",
    "model": "models/{experiment}/seed{seed}/model.pt",
    "history": "models/{experiment}/seed{seed}/history.jsonl",
    "train_config": "models/{experiment}/seed{seed}/config.json",
    "throughput": "models/{experiment}/seed{seed}/throughput.json",
    "epochs": "models/{experiment}/seed{seed}/valid_epochs.csv",
    "state": "state/{experiment}/seed{seed}",
    # per run: predictions and scores on valid and test, operating points, readers, decisions, CAMs
    "predictions": "predictions/{experiment}/seed{seed}.csv",
    "scores": "scores/{experiment}/seed{seed}.csv",
    "test_predictions": "test/predictions/{experiment}/seed{seed}.csv",
    "test_scores": "test/scores/{experiment}/seed{seed}.csv",
    "operating_points": "operating_points/{experiment}/seed{seed}.csv",
    "decisions": "test/decisions/{experiment}/seed{seed}/{stem}.csv",
    "readers": "test/readers/{experiment}/seed{seed}{suffix}",
    "cam": "cam/{experiment}/seed{seed}/{file}",
    "test_cam": "test/cam/{experiment}/seed{seed}/{file}",
    "chexlocalize_maps": "cam/{experiment}/seed{seed}/chexlocalize_maps",
    # over every run: tables, their versions and diffs, figures, the report
    "table": "tables/{name}{suffix}",
    "table_diff": "tables/diffs/v{old}-v{new}{suffix}",
    "archive": "archive/tables",
    "figure": "figures/{name}.png",
    "report": "report.html",
    "logs": "logs",
    "benchmarks": "benchmarks",
}


#: Every suffix a file kind takes (a table's name may hold dots: test.comparison.csv, baseline.epochs.md)
SUFFIXES = (".npy", ".index.csv", ".histograms.npy", ".csv", ".summary.json", ".weights.csv", ".md", ".html",
            ".provenance.json", ".counts.csv", ".png")  # fmt: skip
#: what a field matches when a path is read back (others: any text within one folder)
FIELD_PATTERNS = {
    "split": "train|valid|test",
    "suffix": "|".join(map(re.escape, sorted(SUFFIXES, key=len, reverse=True))),
    "seed": r"\d+",
    "views": "[^/-]+",
}


class _Open(dict):
    """format_map's mapping that leaves a field not given as the wildcard ``{field}``."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def fields(template: str) -> list[str]:
    return [name for _, name, _, _ in string.Formatter().parse(template) if name]


@dataclass(frozen=True)
class Layout:
    """Paths of one run: ``results`` is results/<dataset name>, ``folder`` the dataset folder (CheXpert-v1.0-small)."""

    results: str
    folder: str = "CheXpert-v1.0-small"

    def path(self, kind: str, **values) -> str:
        """The path of a file of ``kind``, every field given."""
        template = TEMPLATES[kind]
        missing = [f for f in fields(template) if f not in values and f != "folder"]
        if missing:
            raise KeyError(f"layout: {kind} needs {missing} ({template})")
        if "suffix" in values and values["suffix"] not in SUFFIXES:
            raise KeyError(f"layout: suffix {values['suffix']!r} is not one of {SUFFIXES}")
        return f"{self.results}/{template.format(folder=self.folder, **values)}"

    def pattern(self, kind: str, **values) -> str:
        """The path with the fields not given left as Snakemake wildcards: pattern("model") is
        results/<name>/models/{experiment}/seed{seed}/model.pt."""
        return f"{self.results}/{TEMPLATES[kind].format_map(_Open(folder=self.folder, **values))}"

    def match(self, kind: str, path: str) -> dict[str, str] | None:
        """The fields of ``path`` if it is a file of ``kind`` (fields match within one folder), else None."""
        m = _regex(self.results, self.folder, kind).fullmatch(str(path))
        return m.groupdict() if m else None


def _regex(results: str, folder: str, kind: str) -> re.Pattern:
    parts = []
    for literal, name, _, _ in string.Formatter().parse(f"{{results}}/{TEMPLATES[kind]}"):
        parts.append(re.escape(literal))
        if name == "results":
            parts.append(re.escape(results))
        elif name == "folder":
            parts.append(re.escape(folder))
        elif name:
            parts.append(f"(?P<{name}>{FIELD_PATTERNS.get(name, '[^/]+?')})")
    return re.compile("".join(parts))

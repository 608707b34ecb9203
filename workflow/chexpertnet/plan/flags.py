"""Command-line flags: what each rule passes to its `chexpertnet` subcommand, built from the config and the plan's
runs. Pure functions of their arguments (every value shell-quoted where it is a path or free text).

Standard library only: Snakemake imports this module while it builds the DAG.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable, Mapping, Sequence

# Inductor's caches for train.compile, shared by every training of the run (and by later runs)
COMPILE_CACHE = "resources/torch-compile-cache"


def quote_all(flag: str, *rows: tuple) -> str:
    """``flag a b c`` per row, every value shell-quoted, joined by spaces."""
    return " ".join(f"{flag} " + " ".join(shlex.quote(str(v)) for v in row) for row in rows)


def operating_point_arg(rule: str | dict) -> str:
    """A rule of evaluation.operating_points as `chexpertnet operating-points --rule` takes it: youden,
    readers_specificity, {sensitivity: 0.9} -> sensitivity=0.9, {specificity: 0.95} -> specificity=0.95."""
    if isinstance(rule, str):
        return rule
    ((kind, target),) = rule.items()
    return f"{kind}={float(target):g}"


def run_flags(flag: str, runs: Sequence[tuple[str, int]], *per_run: Sequence[str]) -> str:
    """``flag EXPERIMENT SEED FILE...`` per run, in the runs' order, one file from each list."""
    for files in per_run:
        if len(files) != len(runs):
            raise ValueError(f"{flag}: {len(files)} files for {len(runs)} runs")
    return quote_all(flag, *((name, seed, *files) for (name, seed), *files in zip(runs, *per_run, strict=True)))


def train_args(config: Mapping) -> str:
    """The training's settings shared by every experiment (train.*, image.crop_size and hflip, the dataset's name
    and source)."""
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
        *([f"--compile-cache {COMPILE_CACHE}"] if t["compile"] != "off" else []),
        f"--log-every {t['log_every']}",
        f"--checkpoint-every {t['checkpoint_every']}",
        # recorded in model.pt: `chexpertnet predict` warns when a phantom model meets other images
        f"--dataset {config['dataset']['name']} --dataset-source {config['dataset']['source']}",
    ]
    return " ".join(flags)


def experiment_args(experiment: Mapping, epochs: int, inputs: Mapping) -> str:
    """An experiment's factors as `chexpertnet train` flags (part of the params, so a change reruns the job), with
    the job's input files ``pretrained`` and ``stats`` where the experiment reads them."""
    args = f"--init {experiment['init']} --normalization {experiment['normalization']} --epochs {epochs}"
    if experiment["init"] in ("pretrained", "frozen"):
        args += f" --pretrained {shlex.quote(inputs['pretrained'])}"
    if experiment["normalization"] == "dataset":
        args += f" --stats {shlex.quote(inputs['stats'])}"
    return args


def experiment_factor_args(experiments: Mapping[str, Mapping], epochs_of: Callable[[str], int]) -> str:
    """`--experiment NAME VIEWS NORMALIZATION INIT UNCERTAINTY EPOCHS` per experiment (the tables' factor columns)."""
    return " ".join(
        f"--experiment {name} {e['views']} {e['normalization']} {e['init']} {e['uncertainty']} {epochs_of(name)}"
        for name, e in sorted(experiments.items())
    )


def test_tables_args(runs: Sequence[tuple[str, int]], test_labels: str | None, test_predictions: Sequence[str]) -> str:
    """`--test-labels FILE --test-run EXPERIMENT SEED PREDICTIONS` per run (nothing without test labels)."""
    if not test_labels:
        return ""
    return f"--test-labels {shlex.quote(test_labels)} {run_flags('--test-run', runs, test_predictions)}"


def operating_points_args(rules: Sequence[str], readers: Sequence[str], inputs: Mapping,
                          decisions: Sequence[str]) -> str:  # fmt: skip
    """`chexpertnet operating-points` flags beyond the validation files: the rules, the test set where the inputs
    hold one, the readers where a rule needs them, the folder of the test decisions."""
    args = " ".join(f"--rule {shlex.quote(r)}" for r in rules)
    if inputs.get("test_predictions"):
        args += f" --test-predictions {shlex.quote(inputs['test_predictions'])}"
        args += f" --test-labels {shlex.quote(inputs['test_labels'])}"
        args += f" --decisions-dir {shlex.quote(os.path.dirname(decisions[0]))}"
    if "readers_specificity" in rules:
        args += " --readers " + " ".join(shlex.quote(r) for r in readers)
    return args


def readers_decisions_arg(decisions: str | None) -> str:
    return f"--decisions {shlex.quote(decisions)}" if decisions else ""


def decision_tables_args(operating_points_runs: Sequence[tuple[str, int]], readers_runs: Sequence[tuple[str, int]],
                         inputs) -> str:  # fmt: skip
    """`--operating-points EXPERIMENT SEED FILE` and `--readers-run EXPERIMENT SEED FILE COUNTS` per run."""
    points = zip(operating_points_runs, inputs.operating_points, strict=True)
    args = quote_all("--operating-points", *((n, s, f) for (n, s), f in points))
    readers = quote_all("--readers-run", *((n, s, f, c) for (n, s), f, c in
                                           zip(readers_runs, inputs.readers, inputs.counts, strict=True)))  # fmt: skip
    return f"{args} {readers}".strip()


def cam_args(cam: Mapping, inputs: Mapping, split: str, thresholds: str | None) -> str:
    """`chexpertnet cam` flags from the config's cam section: Figure 1's choice, the pointing game's truth (the
    input ``boxes``) and CheXlocalize's (``chexlocalize``, with the thresholds to apply, or none to tune them on
    these images)."""
    boxes, chexlocalize = inputs.get("boxes"), inputs.get("chexlocalize")
    args = "--observations " + " ".join(shlex.quote(o) for o in cam["observations"])
    args += f" --per-observation {cam['per_observation']} --seed {cam['seed']}"
    args += f" --tolerance {cam['tolerance_px']} --threshold {cam['threshold']}"
    if boxes:
        args += f" --boxes {shlex.quote(boxes)}"
    if chexlocalize:
        args += f" --chexlocalize {shlex.quote(chexlocalize)} --chexlocalize-split {split}"
        args += f" --saliency {cam['saliency']}"
        if thresholds:
            args += f" --chexlocalize-thresholds {shlex.quote(thresholds)}"
    return args

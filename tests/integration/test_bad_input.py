"""Bad input through the whole workflow: `snakemake --cores all` stops at validation (or at config validation),
before any training, with the clear message in the log and on screen, and leaves no partial results."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
import yaml

from workflow_helpers import copy_workflow, snakemake, tiny_config

pytestmark = pytest.mark.integration

DATA = Path("results/phantom/data")
CSV = DATA / "CheXpert-v1.0-small"


@pytest.fixture(scope="module")
def phantom_only(tmp_path_factory) -> Path:
    """A workflow copy where only the phantom has been generated."""
    workdir = copy_workflow(tmp_path_factory.mktemp("bad") / "wf")
    (workdir / "config/tiny.yaml").write_text(yaml.safe_dump(tiny_config()))
    snakemake(workdir, "phantom", "--configfile", "config/tiny.yaml")
    return workdir


def edit_csv(path: Path, change: Callable[[pd.DataFrame], pd.DataFrame]) -> None:
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    change(frame).to_csv(path, index=False)


def missing_image(wd: Path) -> list[str]:
    path = pd.read_csv(wd / CSV / "train.csv")["Path"][5]
    (wd / DATA / path).unlink()
    return ["1 of", "listed image(s) are missing", f"line 7: {path}"]


def corrupt_jpeg(wd: Path) -> list[str]:
    path = pd.read_csv(wd / CSV / "valid.csv")["Path"][3]
    (wd / DATA / path).write_bytes(b"\xff\xd8\xff not a jpeg")
    return ["1 image(s) cannot be decoded", path]


def malformed_label(wd: Path) -> list[str]:
    def change(frame):
        frame.loc[2, "Cardiomegaly"] = "yes"
        return frame

    edit_csv(wd / CSV / "train.csv", change)
    return ["train.csv", "line 4, column 'Cardiomegaly': 'yes'"]


def patient_in_both_splits(wd: Path) -> list[str]:
    train = pd.read_csv(wd / CSV / "train.csv", dtype=str, keep_default_na=False)
    source = train["Path"][0]
    patient = source.split("/")[2]
    target = source.replace("/train/", "/valid/")
    (wd / DATA / target).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(wd / DATA / source, wd / DATA / target)

    def change(frame):
        row = train.iloc[[0]].copy()
        row["Path"] = target
        for column in frame.columns[5:]:  # valid labels are 0 or 1 (no blank, no uncertain)
            row[column] = "1.0" if row[column].iloc[0] == "1.0" else "0.0"
        return pd.concat([frame, row], ignore_index=True)

    edit_csv(wd / CSV / "valid.csv", change)
    return ["1 patient(s) appear in both", patient]


@pytest.mark.parametrize("corrupt", [missing_image, corrupt_jpeg, malformed_label, patient_in_both_splits])
def test_bad_data_stops_at_validation_with_the_message_and_nothing_partial(phantom_only, tmp_path, corrupt):
    workdir = tmp_path / "wf"
    shutil.copytree(phantom_only, workdir, symlinks=True)
    expected = corrupt(workdir)
    result = snakemake(workdir, "--configfile", "config/tiny.yaml", check=False)
    assert result.returncode != 0
    screen = result.stdout + result.stderr
    for text in expected:
        assert text in screen, f"{text!r} not on screen:\n{screen[-3000:]}"
    log = (workdir / "results/phantom/logs/validate.log").read_text()
    assert all(text in log for text in expected)
    results = workdir / "results/phantom"
    assert not (results / "validation.json").exists()
    for later in ("cache", "manifests", "stats", "models", "predictions", "scores", "tables"):
        assert not (results / later).exists(), f"{later} was made from bad data"
    assert "rule train:" not in screen
    assert not list(results.rglob("*.tmp*")), "temporary files left behind"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda c: c["experiments"]["scratch"].update(init="imagenet21k"), ["imagenet21k", "pretrained", "scratch"]),
        (lambda c: c["experiments"]["frontal"].update(seeds=[]), ["seeds", "[]"]),
        (lambda c: c["experiments"]["frontal"].update(views="lateral"), ["lateral", "both", "frontal"]),
        (lambda c: c["image"].update(crop_size=48), ["`image.crop_size` (48) is larger than `image.cache_size` (40)"]),
        (lambda c: c.pop("image"), ["the section `image` is missing", "copy it from config/config.yaml"]),
        (lambda c: c.pop("experiments"), ["the section `experiments` is missing"]),
        (lambda c: c["train"].update(epoch=c["train"].pop("epochs")), ["`train.epoch` is not a setting: did you mean "
                                                                        "`epochs`?"]),
        (lambda c: c["dataset"].pop("source"), ["`dataset.source` is missing"]),
        (lambda c: c["dataset"].update(folder="CheXpert-v1.0"), ["`dataset.folder` is 'CheXpert-v1.0', but the "
                                                                  "phantom is a drop-in for CheXpert-v1.0-small"]),
    ],
    ids=["unknown-init", "empty-seeds", "unknown-views", "crop-over-cache", "no-image", "no-experiments",
         "misspelled-key", "no-source", "phantom-folder"],
)  # fmt: skip
def test_bad_config_stops_before_any_job(tmp_path, change, expected):
    """Each mistake is said in a few lines (the schema's own dump is hundreds), before any job: nothing written."""
    workdir = copy_workflow(tmp_path / "wf")
    config = tiny_config()
    change(config)
    (workdir / "config/bad.yaml").write_text(yaml.safe_dump(config))
    for dry in ([], ["-n"]):
        result = snakemake(workdir, "--configfile", "config/bad.yaml", *dry, check=False)
        assert result.returncode != 0
        screen = result.stdout + result.stderr
        assert all(text in screen for text in expected), screen[-3000:]
        assert "nothing was run" in screen and len(screen.splitlines()) < 25, screen[-3000:]
        assert not (workdir / "results").exists()


def test_a_wrong_dataset_root_is_caught_before_any_job(tmp_path):
    """dataset.root pointing at CheXpert-v1.0-small itself: Snakemake stops while building the DAG, says what it
    found and which root to set, and runs nothing."""
    from workflow_helpers import chexpert_workflow

    workdir = chexpert_workflow(tmp_path)
    config = yaml.safe_load((workdir / "config/mine.yaml").read_text())
    root = Path(config["dataset"]["root"])
    config["dataset"]["root"] = str(root / "CheXpert-v1.0-small")
    (workdir / "config/wrong.yaml").write_text(yaml.safe_dump(config))
    result = snakemake(workdir, "--configfile", "config/wrong.yaml", check=False)
    text = result.stdout + result.stderr
    assert result.returncode != 0
    assert f"did you mean dataset.root: {str(root.resolve())!r}?" in text, text[-2000:]
    assert not (workdir / "results").exists()

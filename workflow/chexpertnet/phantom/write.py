"""Writing the dataset: image sizes and paths, JPEGs, the CSVs, phantom_truth.csv and the same truth as CheXlocalize's
gt_segmentations_val.json (phantom.localize_truth), one worker per patient."""

from __future__ import annotations

import io
import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np
from PIL import Image

from chexpertnet.fileio import write_csv
from chexpertnet.observations import CSV_COLUMNS, DATASET_DIR, META_COLUMNS, OBSERVATIONS, PATHOLOGIES, SPLITS
from chexpertnet.phantom import localize_truth
from chexpertnet.phantom.plan import SPLIT_IDS, PhantomConfig, Study, plan_patient
from chexpertnet.phantom.rendering import Rendered, render

TRUTH_FILE = "phantom_truth.csv"
#: The test split's labels, study by study, in the CheXpert test set's published format (cheXpert-test-set-labels'
#: groundtruth.csv: Study, then the 14 observations as 0/1 in alphabetical order): the workflow reads them through
#: `chexpertnet test-labels`, as it reads the real file. Written only when the phantom has a test split.
TEST_LABELS_FILE = "test_groundtruth.csv"
TEST_STUDY_PREFIX = "CheXpert-v1.0/test"
TRUTH_COLUMNS = ("Path", "observation", "present", "severity", "visible", "x0", "y0", "x1", "y1")


def image_size(view: str, height: int, seed: int) -> tuple[int, int]:
    """(height, width) of one image, drawn like CheXpert-v1.0-small's (at ``height`` 320).

    Frontal: 320 tall; 390 wide (two thirds of the real validation set), 357-389 wide (a quarter) or 320 (8%).
    Lateral: 320 wide and portrait, 330-401 tall (85%), or square. Other heights scale all sizes.
    """
    rng = np.random.default_rng([seed, 2])
    r = rng.random()
    if view == "frontal":
        long = 390 if r < 0.66 else int(rng.integers(357, 390)) if r < 0.92 else 320
        return height, max(height, round(long * height / 320))
    long = int(rng.integers(330, 402)) if r < 0.85 else 320
    return max(height, round(long * height / 320)), height


def image_path(split: str, patient: int, study: int, view_index: int, view: str) -> str:
    return f"{DATASET_DIR}/{split}/patient{patient:05d}/study{study}/view{view_index}_{view}.jpg"


def view_seed(config: PhantomConfig, split: str, patient: int, study: int, view_index: int) -> int:
    ss = np.random.SeedSequence([config.seed, SPLIT_IDS[split], patient, study, view_index])
    return int(ss.generate_state(1)[0])


def encode_jpeg(image: np.ndarray, quality: int) -> bytes:
    """Baseline 8-bit grayscale JPEG bytes."""
    buf = io.BytesIO()
    Image.fromarray(image, mode="L").save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def _truth_rows(path: str, study: Study, rendered: Rendered) -> list[tuple[str, ...]]:
    rows = []
    no_finding = not any(name in study.findings for name in PATHOLOGIES)
    for name in OBSERVATIONS:
        f = study.findings.get(name)
        present = no_finding if name == "No Finding" else f is not None
        severity = f.severity if f is not None else 0.0
        box = rendered.boxes.get(name) if present else None
        visible = bool(present and rendered.visible.get(name, False))
        cells = tuple(str(c) for c in box) if box is not None and visible else ("", "", "", "")
        rows.append((path, name, str(int(present)), f"{severity:.3f}", str(int(visible)), *cells))
    return rows


def _make_patient(job: tuple[PhantomConfig, str, int, str]) -> tuple[list, list, dict[str, tuple[int, int]]]:
    """Render and write one patient's images under ``root``; return its CSV rows, truth rows and image sizes."""
    config, split, index, root = job
    patient = plan_patient(config, split, index)
    csv_rows, truth_rows, sizes = [], [], {}
    for study in patient.studies:
        for k, view in enumerate(study.views, start=1):
            path = image_path(split, patient.number, study.study, k, view)
            projection = study.projection if view == "frontal" else ""
            seed = view_seed(config, split, patient.number, study.study, k)
            size = image_size(view, config.height, seed)
            rendered = render(patient.anatomy, study.findings, view, size, projection or "PA", seed)
            file = Path(root, path)
            file.parent.mkdir(parents=True, exist_ok=True)
            file.write_bytes(encode_jpeg(rendered.image, config.jpeg_quality))
            meta = (path, patient.sex, str(study.age), view.capitalize(), projection)
            csv_rows.append(meta + study.labels)
            truth_rows.extend(_truth_rows(path, study, rendered))
            sizes[path] = rendered.image.shape[:2]
    return csv_rows, truth_rows, sizes


def _write_table(path: Path, columns: Sequence[str], rows: list[tuple[str, ...]]) -> None:
    import pandas as pd

    write_csv(path, pd.DataFrame(rows, columns=list(columns), dtype=str))


TEST_LABEL_COLUMNS = tuple(sorted(OBSERVATIONS))


def test_study_rows(image_rows: list[tuple[str, ...]]) -> list[tuple[str, ...]]:
    """The test images' CSV rows -> one groundtruth.csv row per study (Study, 0/1 per observation, alphabetical):
    a study's images share its labels (they are the study's truth)."""
    studies: dict[str, tuple[str, ...]] = {}
    for row in image_rows:
        study = row[0].rsplit("/", 1)[0].split("/test/", 1)[1]  # patientN/studyN
        labels = dict(zip(OBSERVATIONS, row[len(META_COLUMNS) :], strict=True))
        studies[study] = tuple(str(int(float(labels[o]))) for o in TEST_LABEL_COLUMNS)
    return [(f"{TEST_STUDY_PREFIX}/{study}", *labels) for study, labels in sorted(studies.items())]


def _summary(config: PhantomConfig, rows: dict[str, list[tuple[str, ...]]], truth: list[tuple[str, ...]]) -> dict:
    out: dict = {"seed": config.seed}
    first_view = {}
    for r in truth:
        study = r[0].rsplit("/", 1)[0]
        first_view.setdefault(study, r[0])
    for split in SPLITS:
        split_rows = rows[split]
        studies = {r[0].rsplit("/", 1)[0] for r in split_rows}
        labels = {o: {"1.0": 0, "0.0": 0, "-1.0": 0, "": 0} for o in OBSERVATIONS}
        for r in split_rows:
            for o, cell in zip(OBSERVATIONS, r[len(META_COLUMNS) :], strict=True):
                labels[o][cell] += 1
        present = dict.fromkeys(OBSERVATIONS, 0)
        for r in truth:
            study = r[0].rsplit("/", 1)[0]
            if r[0] == first_view[study] and study in studies and r[2] == "1":
                present[r[1]] += 1
        out[split] = {
            "patients": len({r[0].split("/")[2] for r in split_rows}),
            "studies": len(studies),
            "images": len(split_rows),
            "frontal": sum(r[3] == "Frontal" for r in split_rows),
            "lateral": sum(r[3] == "Lateral" for r in split_rows),
            "positive_images": {o: labels[o]["1.0"] for o in OBSERVATIONS},
            "uncertain_images": {o: labels[o]["-1.0"] for o in OBSERVATIONS},
            "present_studies": present,
        }
    return out


def generate(out_dir: str | os.PathLike, config: PhantomConfig, workers: int = 1) -> dict:
    """Write out_dir/CheXpert-v1.0-small/{train.csv,valid.csv,train/...,valid/...} and out_dir/phantom_truth.csv.

    Everything is built in a temporary folder inside ``out_dir`` and moved into place at the end (replacing any
    previous phantom), so a crash leaves no partial dataset. The output is byte-identical for any ``workers``.
    Returns a summary: patients, studies, images (frontal/lateral), labelled positives and true positives per split.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".phantom-", dir=out))
    try:
        counts = {"train": config.train_patients, "valid": config.valid_patients, "test": config.test_patients}
        jobs = [(config, split, i, str(tmp)) for split in (*SPLITS, "test") for i in range(1, counts[split] + 1)]
        if workers > 1 and len(jobs) > 1:
            with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
                results = list(pool.map(_make_patient, jobs, chunksize=max(1, min(16, len(jobs) // (4 * workers)))))
        else:
            results = [_make_patient(job) for job in jobs]
        rows: dict[str, list] = {split: [] for split in (*SPLITS, "test")}
        truth: list[tuple[str, ...]] = []
        test_truth: list[tuple[str, ...]] = []
        sizes: dict[str, tuple[int, int]] = {}
        for (_, split, _, _), (csv_rows, truth_rows, image_sizes) in zip(jobs, results, strict=True):
            rows[split].extend(csv_rows)
            # phantom_truth.csv is the training and validation sets'; the test set's regions go to CheXlocalize's
            # test file only (as the benchmark publishes gt_segmentations_test.json)
            (test_truth if split == "test" else truth).extend(truth_rows)
            sizes.update(image_sizes)
        for split in SPLITS:
            (tmp / DATASET_DIR / split).mkdir(parents=True, exist_ok=True)
            _write_table(tmp / DATASET_DIR / f"{split}.csv", CSV_COLUMNS, rows[split])
        _write_table(tmp / TRUTH_FILE, TRUTH_COLUMNS, truth)
        segmentation = json.dumps(localize_truth.segmentations(truth, sizes), sort_keys=True, separators=(",", ":"))
        (tmp / localize_truth.FILE).write_text(segmentation)
        if config.test_patients:
            _write_table(tmp / TEST_LABELS_FILE, ("Study", *TEST_LABEL_COLUMNS), test_study_rows(rows["test"]))
            test_segmentation = localize_truth.segmentations(test_truth, sizes, split="test")
            (tmp / localize_truth.TEST_FILE).write_text(json.dumps(test_segmentation, sort_keys=True,
                                                                   separators=(",", ":")))  # fmt: skip
        final = out / DATASET_DIR
        if final.exists():
            os.replace(final, tmp / "previous")
        os.replace(tmp / DATASET_DIR, final)
        os.replace(tmp / TRUTH_FILE, out / TRUTH_FILE)
        os.replace(tmp / localize_truth.FILE, out / localize_truth.FILE)
        if config.test_patients:
            os.replace(tmp / TEST_LABELS_FILE, out / TEST_LABELS_FILE)
            os.replace(tmp / localize_truth.TEST_FILE, out / localize_truth.TEST_FILE)
        else:  # a previous phantom's test split is gone with it
            (out / TEST_LABELS_FILE).unlink(missing_ok=True)
            (out / localize_truth.TEST_FILE).unlink(missing_ok=True)
        summary = _summary(config, rows, truth)
        if config.test_patients:
            summary["test"] = {"patients": config.test_patients, "studies": len(test_study_rows(rows["test"])),
                               "images": len(rows["test"])}  # fmt: skip
        return summary
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

"""Benchmark: the data steps (validate, manifest, cache, stats) at CheXpert scale, through the real CLI.

Builds a CheXpert-shaped dataset once (by default CheXpert-v1.0-small's train.csv: 223,414 images of 64,540
patients in 187,641 studies, 191,027 frontal and 32,387 lateral, 6 patients with only a lateral image; labels drawn
per study with roughly the real mix of 1.0 / 0.0 / -1.0 / blank; the 234-image valid set of 200 patients), with
small JPEGs: 48 distinct files (390x320 frontal, 320x320 lateral) hard-linked under every Path, so the dataset costs
a few hundred MB of directories, while the cache still opens and decodes every Path. Then runs each step as
`python -m chexpertnet <step>` in its own process and records its wall time and peak resident size (the rusage of
that process, from /usr/bin/time).

    .venv/bin/python benchmarks/bench_scale.py --threads 2 --size 128 [--rows 223414] \
        [--steps validate,manifest,cache,stats] [--data DIR] [--work DIR] [--package DIR] [--out FILE.json]

--rows scales the dataset (patients, studies and laterals in proportion); --size is the cache's side in px
(the paper: 364, i.e. 29.6 GB at full scale: mind the disk); --package runs another checkout's package (its
`workflow/` folder), e.g. the previous version, on the same data. The cache and its histograms are deleted at the
end unless --keep-cache.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow"))

from chexpertnet.observations import CSV_COLUMNS, OBSERVATIONS  # noqa: E402

# CheXpert-v1.0-small train.csv
FULL_ROWS, FULL_PATIENTS, FULL_STUDIES, FULL_LATERAL, LATERAL_ONLY = 223_414, 64_540, 187_641, 32_387, 6
VALID_PATIENTS, VALID_FRONTAL, VALID_LATERAL = 200, 202, 32
# Per observation, roughly CheXpert's train mix: fractions of 1.0, 0.0, -1.0 (blank is the rest)
LABEL_MIX = {
    "No Finding": (0.10, 0.0, 0.0),
    "Enlarged Cardiomediastinum": (0.048, 0.05, 0.055),
    "Cardiomegaly": (0.121, 0.05, 0.036),
    "Lung Opacity": (0.47, 0.03, 0.025),
    "Lung Lesion": (0.041, 0.005, 0.006),
    "Edema": (0.234, 0.09, 0.058),
    "Consolidation": (0.066, 0.12, 0.124),
    "Pneumonia": (0.027, 0.01, 0.084),
    "Atelectasis": (0.15, 0.006, 0.151),
    "Pneumothorax": (0.087, 0.25, 0.014),
    "Pleural Effusion": (0.386, 0.15, 0.052),
    "Pleural Other": (0.016, 0.002, 0.012),
    "Fracture": (0.04, 0.01, 0.003),
    "Support Devices": (0.52, 0.03, 0.005),
}
LABEL_TEXT = np.array(["1.0", "0.0", "-1.0", ""], dtype=object)
DISTINCT_JPEGS = 24  # per view
FRONTAL_SIZE, LATERAL_SIZE = (390, 320), (320, 320)  # (width, height)


def radiograph_like(width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """Smooth structure plus noise, so the JPEGs decode like small radiographs."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    img = 110 + 60 * np.sin(x / width * 6 + rng.uniform(0, 6)) * np.cos(y / height * 4)
    img += 40 * np.sin(y / 9.0) * (x > width / 2) + rng.normal(0, 6, (height, width))
    return np.clip(img, 0, 255).astype(np.uint8)


def split_table(rng: np.random.Generator, split: str, patients: int, studies: int, frontal: int, lateral: int,
                lateral_only: int, first_patient: int) -> pd.DataFrame:  # fmt: skip
    """Rows in CheXpert's order (patient, study, view) with the given totals; labels drawn per study."""
    per_patient = np.ones(patients, dtype=np.int64)
    weights = rng.exponential(size=patients)
    weights[:lateral_only] = 0  # the lateral-only patients have one study with one lateral image
    per_patient += rng.multinomial(studies - patients, weights / weights.sum())
    patient_of_study = np.repeat(np.arange(patients), per_patient)
    study_no = np.concatenate([np.arange(1, k + 1) for k in per_patient])
    n_frontal = np.ones(studies, dtype=np.int64)
    n_lateral = np.zeros(studies, dtype=np.int64)
    only = np.isin(patient_of_study, np.arange(lateral_only))
    n_frontal[only], n_lateral[only] = 0, 1
    eligible = np.flatnonzero(~only)
    n_frontal[rng.choice(eligible, frontal - n_frontal.sum(), replace=False)] += 1
    n_lateral[rng.choice(eligible, lateral - n_lateral.sum(), replace=False)] += 1
    order = rng.permutation(patients)  # which patients are the lateral-only ones: spread over the IDs
    rows = []
    for s in range(studies):
        patient = f"patient{first_patient + order[patient_of_study[s]]:05d}"
        views = ["frontal"] * n_frontal[s] + ["lateral"] * n_lateral[s]
        for v, view in enumerate(views, start=1):
            rows.append((f"CheXpert-v1.0-small/{split}/{patient}/study{study_no[s]}/view{v}_{view}.jpg", s, view))
    table = pd.DataFrame(rows, columns=["Path", "study", "view"])
    table = table.assign(patient=table["Path"].str.split("/").str[2]).sort_values(["patient", "study"], kind="stable")
    frame = pd.DataFrame({
        "Path": table["Path"].to_numpy(),
        "Sex": rng.choice(["Female", "Male"], studies)[table["study"].to_numpy()],
        "Age": rng.integers(18, 91, studies).astype(str)[table["study"].to_numpy()],
        "Frontal/Lateral": table["view"].str.capitalize().to_numpy(),
        "AP/PA": np.where(table["view"] == "frontal", rng.choice(["AP", "PA"], len(table)), ""),
    })  # fmt: skip
    for observation in OBSERVATIONS:
        positive, negative, uncertain = LABEL_MIX[observation]
        if split == "valid":  # gold standard: 1.0 or 0.0
            mix = (positive, 1 - positive, 0.0, 0.0)
        else:
            mix = (positive, negative, uncertain, 1 - positive - negative - uncertain)
        frame[observation] = LABEL_TEXT[rng.choice(4, studies, p=mix)][table["study"].to_numpy()]
    return frame[list(CSV_COLUMNS)]


def build_dataset(root: Path, rows: int, seed: int = 0) -> dict:
    """The dataset under root (reused when root/dataset.json says it was built with the same rows and seed)."""
    marker = root / "dataset.json"
    wanted = {"rows": rows, "seed": seed, "version": 1}
    if marker.exists() and json.loads(marker.read_text()).get("spec") == wanted:
        return json.loads(marker.read_text())
    if root.exists():
        shutil.rmtree(root)
    start = time.perf_counter()
    rng = np.random.default_rng(seed)
    scale = rows / FULL_ROWS
    patients = max(LATERAL_ONLY + 1, round(FULL_PATIENTS * scale))
    studies = max(patients, round(FULL_STUDIES * scale))
    lateral = max(LATERAL_ONLY, round(FULL_LATERAL * scale))
    frontal = rows - lateral
    dataset = root / "CheXpert-v1.0-small"
    train = split_table(rng, "train", patients, studies, frontal, lateral, LATERAL_ONLY, 1)
    valid = split_table(rng, "valid", VALID_PATIENTS, VALID_PATIENTS, VALID_FRONTAL, VALID_LATERAL, 0, 64_541)
    jpegs = root / "jpegs"
    jpegs.mkdir(parents=True)
    sources = {}
    for view, (width, height) in (("frontal", FRONTAL_SIZE), ("lateral", LATERAL_SIZE)):
        sources[view] = []
        for k in range(DISTINCT_JPEGS):
            file = jpegs / f"{view}{k:02d}.jpg"
            Image.fromarray(radiograph_like(width, height, rng), "L").save(file, quality=90)
            sources[view].append(file)
    for table in (train, valid):
        made = set()
        for i, path in enumerate(table["Path"]):
            file = root / path
            if file.parent not in made:
                file.parent.mkdir(parents=True, exist_ok=True)
                made.add(file.parent)
            view = "frontal" if path.endswith("_frontal.jpg") else "lateral"
            os.link(sources[view][i % DISTINCT_JPEGS], file)
    train.to_csv(dataset / "train.csv", index=False, lineterminator="\n")
    valid.to_csv(dataset / "valid.csv", index=False, lineterminator="\n")
    summary = {
        "spec": wanted,
        "train_images": len(train),
        "train_patients": int(train["Path"].str.split("/").str[2].nunique()),
        "train_lateral": int((train["Frontal/Lateral"] == "Lateral").sum()),
        "valid_images": len(valid),
        "seconds_to_build": round(time.perf_counter() - start, 1),
    }
    marker.write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def run_step(name: str, command: list[str], package: Path, log: Path) -> dict:
    """Run one CLI step in its own process under /usr/bin/time: wall time and that process's peak RSS. (Not the
    rusage of a child of this process: a child's ru_maxrss starts at its parent's resident size, which would hide
    small steps under this script's own.)"""
    env = {**os.environ, "PYTHONPATH": str(package)}
    measured = log.with_suffix(".time")
    start = time.perf_counter()
    with open(log, "w") as err:
        result = subprocess.run(["/usr/bin/time", "-f", "%M %e", "-o", str(measured), *command], env=env,
                                stdout=err, stderr=subprocess.STDOUT, check=False)  # fmt: skip
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"{name} failed (exit {result.returncode}); its output is in {log}:\n"
                         f"{log.read_text()[-3000:]}")  # fmt: skip
    peak_kb, _ = measured.read_text().split()[-2:]
    return {"step": name, "seconds": round(seconds, 2), "peak_rss_mb": round(int(peak_kb) / 1024, 1),
            "command": " ".join(["python", *command[1:]])}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=FULL_ROWS, help="training images (default: CheXpert's)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--size", type=int, default=128, help="cache side in px (the paper: 364)")
    parser.add_argument("--steps", default="validate,manifest,cache,stats")
    parser.add_argument("--data", type=Path, help="dataset folder (default: /tmp/chexpertnet-scale-<rows>)")
    parser.add_argument("--work", type=Path, help="outputs (default: <data>/work)")
    parser.add_argument("--package", type=Path, default=ROOT / "workflow",
                        help="the folder that holds the chexpertnet package to run (default: this checkout's)")
    parser.add_argument("--keep-cache", action="store_true")
    parser.add_argument("--out", type=Path, help="append the results as one JSON line to this file")
    args = parser.parse_args()
    if not os.access("/usr/bin/time", os.X_OK):
        raise SystemExit("bench_scale measures each step with /usr/bin/time: install it (Debian: apt-get install time)")
    steps = args.steps.split(",")
    data = args.data or Path(f"/tmp/chexpertnet-scale-{args.rows}")
    work = args.work or data / "work"
    dataset = build_dataset(data, args.rows)
    print(json.dumps(dataset), file=sys.stderr)
    work.mkdir(parents=True, exist_ok=True)
    csv = {split: str(data / f"CheXpert-v1.0-small/{split}.csv") for split in ("train", "valid")}
    validated = str(work / "validation.json")
    cli = [sys.executable, "-m", "chexpertnet"]
    new_stats = "--cache-histograms" in (args.package / "chexpertnet/commands/stats.py").read_text()
    results = []
    load_before = os.getloadavg()[0]

    def step(name: str, *arguments: str) -> None:
        result = run_step(name, [*cli, *arguments], args.package, work / f"{name}.log")
        results.append(result)
        print(json.dumps(result), file=sys.stderr)

    if "validate" in steps or not Path(validated).exists():
        step("validate", "validate", "--train-csv", csv["train"], "--valid-csv", csv["valid"],
             "--threads", str(args.threads), "--out", validated)  # fmt: skip
    manifests = {views: work / f"manifests/{views}-multiclass/train.csv" for views in ("both", "frontal")}
    for views, manifest in manifests.items():
        if "manifest" in steps or not manifest.exists():
            step(f"manifest {views}", "manifest", "--csv", csv["train"], "--validated", validated, "--views", views,
                 "--uncertainty", "multiclass", "--seed", "0", "--out", str(manifest))  # fmt: skip
    array, index = work / "cache/train.npy", work / "cache/train.index.csv"
    histograms = work / "cache/train.histograms.npy"
    if "cache" in steps:
        step("cache", "cache", "--csv", csv["train"], "--validated", validated, "--size", str(args.size),
             "--threads", str(args.threads), "--out-array", str(array), "--out-index", str(index))  # fmt: skip
        results[-1]["cache_gb"] = round(array.stat().st_size / 1e9, 2)
    if "stats" in steps:
        for views, manifest in manifests.items():
            out = str(work / f"stats/{views}-multiclass.json")
            if new_stats:
                step(f"stats {views}", "stats", "--cache-histograms", str(histograms), "--cache-index", str(index),
                     "--manifest", str(manifest), "--out", out)  # fmt: skip
            else:  # the version before the cache wrote histograms
                step(f"stats {views}", "stats", "--cache-array", str(array), "--cache-index", str(index),
                     "--manifest", str(manifest), "--threads", str(args.threads), "--out", out)  # fmt: skip
    if not args.keep_cache:
        for file in (array, index, histograms):
            file.unlink(missing_ok=True)
    record = {
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs ({platform.processor() or platform.platform()})",
        "python": platform.python_version(),
        "package": str(args.package),
        "rows": args.rows,
        "threads": args.threads,
        "size": args.size,
        "dataset": dataset,
        "load_average_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "results": results,
    }
    if args.out:
        with open(args.out, "a") as f:
            f.write(json.dumps(record) + "\n")
    print(f"\n{args.rows:,} training images, cache {args.size} px, {args.threads} thread(s), package {args.package}, "
          f"load average {record['load_average_1min'][0]} -> {record['load_average_1min'][1]}")
    print("| step | seconds | peak RSS (MB) |\n|---|---:|---:|")
    for r in results:
        print(f"| {r['step']} | {r['seconds']:.1f} | {r['peak_rss_mb']:,.0f} |")


if __name__ == "__main__":
    main()

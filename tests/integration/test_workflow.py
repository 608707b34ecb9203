"""The real `snakemake` on a tiny phantom config, on CPU: the whole DAG, end to end."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image

from chexpertnet.plan.workflow import Plan
from workflow_helpers import chexpert_workflow, copy_workflow, planned_jobs, snakemake, tiny_config

pytestmark = pytest.mark.integration


def test_default_dag_builds_every_data_output(tiny_run):
    results = tiny_run / "results/phantom"
    report = json.loads((results / "validation.json").read_text())
    assert report["splits"]["valid"]["patients"] == 20
    for split in ("train", "valid"):
        index = pd.read_csv(results / f"cache/{split}.index.csv")
        assert len(index) == report["splits"][split]["images"]
    for views in ("both", "frontal"):
        for split in ("train", "valid"):
            manifest = pd.read_csv(results / f"manifests/{views}-multiclass/{split}.csv")
            summary = json.loads((results / f"manifests/{views}-multiclass/{split}.summary.json").read_text())
            assert len(manifest) == summary["images_after"]
            assert (results / f"manifests/{views}-multiclass/{split}.weights.csv").exists()
        stats = json.loads((results / f"stats/{views}-multiclass.json").read_text())
        assert 0.05 < stats["mean"] < 0.95 and 0.01 < stats["std"] < 0.5
        assert stats["images"] == len(pd.read_csv(results / f"manifests/{views}-multiclass/train.csv"))
    frontal = json.loads((results / "manifests/frontal-multiclass/train.summary.json").read_text())
    both = json.loads((results / "manifests/both-multiclass/train.summary.json").read_text())
    # the image count is kept, except the lateral-only patients' images, which are dropped and reported
    assert frontal["images_after"] == both["images_after"] - frontal["images_dropped"]
    assert frontal["lateral_after"] == 0 and frontal["images_substituted"] > 0
    for name in ("baseline", "frontal", "dataset_norm", "scratch"):
        model = results / f"models/{name}/seed0"
        for output in ("model.pt", "history.jsonl", "config.json", "throughput.json"):
            assert (model / output).exists(), f"{name}: {output}"
        predictions = pd.read_csv(results / f"predictions/{name}/seed0.csv")
        assert list(predictions.columns[:4]) == ["Path", "patient", "study", "view"] and len(predictions.columns) == 18
        assert predictions.iloc[:, 4:].apply(lambda c: c.between(0, 1)).all().all()
        scores = pd.read_csv(results / f"scores/{name}/seed0.csv").set_index("observation")
        assert len(scores) == 14 + 3 and pd.isna(scores.loc["Fracture", "auc"])  # no valid Fracture in the phantom
        assert 0 <= scores.loc["mean (defined observations)", "auc"] <= 1
    resolved = json.loads((results / "models/dataset_norm/seed0/config.json").read_text())
    stats = json.loads((results / "stats/both-multiclass.json").read_text())
    assert resolved["mean"] == [stats["mean"]] * 3 and resolved["normalization"] == "dataset"
    assert json.loads((results / "models/scratch/seed0/config.json").read_text())["init"] == "scratch"
    tables = results / "tables"
    for stem in ("history", "latest_diff"):  # the versions: no provenance of their own (each version has it)
        assert all((tables / f"{stem}{suffix}").stat().st_size > 0 for suffix in (".csv", ".md", ".html"))
    for stem in ("baseline", "frontal", "dataset_norm", "scratch", "frozen", "comparison", "claims", "paper_vs_ours"):
        for suffix in (".csv", ".md", ".html", ".provenance.json"):
            assert (tables / f"{stem}{suffix}").stat().st_size > 0, f"{stem}{suffix}"
    baseline = pd.read_csv(tables / "baseline.csv").set_index("observation")
    score = pd.read_csv(results / "scores/baseline/seed0.csv").set_index("observation")
    pd.testing.assert_series_equal(baseline["auc"], score["auc"])  # one seed: the table is the score step's
    pd.testing.assert_series_equal(baseline["ci_low"], score["ci_low"])
    assert set(pd.read_csv(tables / "comparison.csv")["experiment"]) == {"frontal", "dataset_norm", "scratch", "frozen"}
    provenance = json.loads((tables / "comparison.provenance.json").read_text())
    assert len(provenance["inputs"]["checkpoints"]) == 5 and len(provenance["inputs"]["manifests"]) == 4
    assert len(provenance["inputs"]["epoch_predictions"]) == 5
    epochs = pd.read_csv(tables / "scratch.epochs.csv")
    assert list(epochs.columns[2:]) == ["epoch_1", "epoch_2", "best_epoch"]  # the tiny config trains 2 epochs
    for png in ("roc.png", "learning_curves.png"):
        assert (results / "figures" / png).read_bytes()[:4] == b"\x89PNG"
    cam = results / "cam/baseline/seed0"
    assert (cam / "figure1.png").read_bytes()[:4] == b"\x89PNG"
    localization = pd.read_csv(cam / "localization.csv").set_index("observation")
    assert "overall" in localization.index and localization.loc["overall", "images"] > 0
    assert (localization[["hit_rate", "ceiling", "chance"]].stack().between(0, 1)).all()
    # CheXlocalize's metrics, from the phantom's gt_segmentations_val.json (RLE at twice the image size), on its
    # population: every valid image of the truth for each of the 10 pathologies, no pooled row
    chexlocalize = pd.read_csv(cam / "chexlocalize.csv").set_index("pathology")
    valid_images = len(pd.read_csv(results / "data/CheXpert-v1.0-small/valid.csv"))
    assert "all" not in chexlocalize.index and len(chexlocalize) == 10
    assert (chexlocalize["images"] == valid_images).all()
    # a threshold is tuned where some image has a true region and, at some threshold, a predicted one (the TP-only
    # mIoU is defined). The tiny run's 40 px images give 1x1 maps, constant up to the upsampling's float rounding,
    # so which images segment to nothing depends on the CPU's kernels: a pathology may have true regions and none.
    positive = chexlocalize["positive_images"] > 0
    tuned = chexlocalize["miou_tuned"].notna()
    assert tuned.any() and not (tuned & ~positive).any()
    assert chexlocalize.loc[tuned, "threshold_tuned"].between(0.2, 0.8).all()
    assert chexlocalize.loc[~tuned, "threshold_tuned"].isna().all()
    for metric in ("miou_otsu", "miou_tuned", "hit_rate"):
        values = chexlocalize[[f"{metric}_low", metric, f"{metric}_high"]].dropna()
        assert values.stack().between(0, 1).all() and (values.diff(axis=1).iloc[:, 1:] >= -1e-12).all().all()
    assert "CheXlocalize's metrics, as the benchmark computes them" in (cam / "localization.md").read_text()
    report = (results / "report.html").read_text()
    for shown in ("comparison.html", "roc.png", "learning_curves.png", "figure1.png", "localization.html"):
        assert shown in report, shown
    assert not re.search(r"""<(script|link)[^>]+(src|href)=["']https?:""", report), "the report loads from the web"
    for rule in ("phantom", "validate", "pretrain_synthetic"):
        assert (results / f"logs/{rule}.log").exists() and (results / f"benchmarks/{rule}.tsv").exists()
    assert not list(results.rglob("*.tmp*")), "temporary files left behind"
    assert not (results / "state").exists(), "a finished run keeps no resume states, nor their empty folders"


def test_the_tables_provenance_names_the_lock_by_its_hash(tiny_run):
    """Every package's version, as the lock that the run's checkout has."""
    lock = tiny_run / "requirements.lock"
    for table in ("comparison", "claims"):
        provenance = json.loads((tiny_run / f"results/phantom/tables/{table}.provenance.json").read_text())
        assert provenance["lock"] == {"file": "requirements.lock",
                                      "sha256": hashlib.sha256(lock.read_bytes()).hexdigest()}  # fmt: skip


def test_up_to_date_tree_plans_nothing(tiny_run):
    result = snakemake(tiny_run, "--configfile", "config/tiny.yaml", "-n")
    assert "Nothing to be done" in result.stdout + result.stderr


def test_the_longest_trainings_start_first_and_the_frozen_backbone_last(tiny_run):
    """The order in which the shared run actually started its trainings (Snakemake's log of that run): once the
    pretrained weights exist, every full training starts before the frozen backbone's, which trains the head only
    (rule train's priority), so on 2 cores the short job fills the end instead of leaving a core idle."""
    (log,) = sorted((tiny_run / ".snakemake/log").glob("*.snakemake.log"))[:1]
    started = []
    rule = None
    for line in log.read_text().splitlines():
        if re.match(r"^(local)?rule \w+:", line):
            rule = line.split()[-1].rstrip(":")
        elif rule == "train" and line.strip().startswith("wildcards:"):
            started.append(re.search(r"experiment=(\w+)", line).group(1))
            rule = None
    config = tiny_config()
    assert sorted(started) == sorted(config["experiments"])
    # the order the priorities ask for: no training starts after one of lower priority unless it waited for the
    # pretrained weights and that one did not (scratch needs none and may start during the pretraining)
    plan = Plan(config)
    priority = {name: plan.train_priority(name) for name in started}
    waits = {name: "pretrained" in plan.train_inputs(name) for name in started}
    for i, early in enumerate(started):
        for late in started[i + 1 :]:
            assert priority[late] <= priority[early] or (waits[late] and not waits[early]), (started, priority)
    assert started[-1] == "frozen" and priority["frozen"] < min(p for n, p in priority.items() if n != "frozen")


def test_tables_regenerate_byte_identically(tiny_run, tmp_path):
    workdir = shutil.copytree(tiny_run, tmp_path / "wf", symlinks=True)  # its own copy: the shared run stays as built
    tables = workdir / "results/phantom/tables"
    before = {p.name: p.read_bytes() for p in tables.iterdir() if not p.name.endswith(".provenance.json")}
    # (and the report after them)
    snakemake(workdir, "--configfile", "config/tiny.yaml", "--forcerun", "tables", "decision_tables")
    after = {p.name: p.read_bytes() for p in tables.iterdir() if not p.name.endswith(".provenance.json")}
    # per experiment its table (3 formats) and AUC by epoch (2); comparison, claims, paper_vs_ours, history,
    # latest_diff and the operating points (3 each)
    assert before == after and len(before) == 5 * 5 + 6 * 3, sorted(before)


def test_real_chexpert_config_dry_run_shows_the_whole_plan(tmp_path):
    workdir = chexpert_workflow(tmp_path)
    result = snakemake(workdir, "-n", "-p", "--configfile", "config/mine.yaml")
    plan = result.stdout + result.stderr
    trainings = [line for line in plan.splitlines() if " -m chexpertnet train " in line]
    assert len(trainings) == 18
    assert all("--device cuda" in t and "--compile reduce-overhead" in t and "--no-deterministic" in t
               for t in trainings)  # fmt: skip
    jobs = (("fetch_weights", 1), ("validate", 1), ("cache", 2), ("manifest", 4), ("stats", 2), ("train", 18),
            ("score", 18), ("tables", 1), ("figures", 1), ("cam", 1), ("report", 1))  # fmt: skip
    for rule, count in jobs:
        assert any(line.split() == [rule, str(count)] for line in plan.splitlines()), f"{rule} x{count}:\n{plan}"
    assert "phantom" not in plan.split("Job stats")[1].split("\n\n")[0]
    assert "results/chexpert/cache/train.npy" in plan


def test_cam_localization_from_masks_equals_that_from_boxes(tiny_run, tmp_path):
    """Real data may come with masks instead of boxes: masks filled from the phantom's boxes score as the boxes do."""
    results = tiny_run / "results/phantom"
    truth = pd.read_csv(results / "data/phantom_truth.csv")
    truth = truth[(truth["visible"] == 1) & truth["x0"].notna() & truth["Path"].str.contains("/valid/")]
    rows = []
    for k, r in enumerate(truth.itertuples()):
        with Image.open(results / "data" / r.Path) as img:
            width, height = img.size
        mask = np.zeros((height, width), dtype=np.uint8)
        mask[int(r.y0) : int(r.y1), int(r.x0) : int(r.x1)] = 255
        Image.fromarray(mask).save(tmp_path / f"m{k}.png")
        rows.append({"Path": r.Path, "observation": r.observation, "mask": f"m{k}.png"})
    pd.DataFrame(rows).to_csv(tmp_path / "masks.csv", index=False)
    out = tmp_path / "out"
    done = cam_command(tiny_run, out, "--boxes", str(tmp_path / "masks.csv"))
    assert done.returncode == 0, done.stderr
    by_mask = pd.read_csv(out / "t.csv").set_index("observation")
    by_box = pd.read_csv(results / "cam/baseline/seed0/localization.csv").set_index("observation")
    assert list(by_mask.index) == list(by_box.index) and "overall" in by_mask.index
    assert (by_mask["images"] == by_box["images"]).all()
    for column in ("hit_rate", "ceiling", "chance", "mean_iou"):
        assert abs(by_mask.loc["overall", column] - by_box.loc["overall", column]) < 0.05, column


MODEL = "results/phantom/models/baseline/seed0/model.pt"


def cam_command(workdir: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    command = [
        sys.executable, "-m", "chexpertnet", "cam", "--model", MODEL,
        "--manifest", "results/phantom/manifests/both-multiclass/valid.csv",
        "--cache", "results/phantom/cache/valid.npy", "results/phantom/cache/valid.index.csv",
        "--predictions", "results/phantom/predictions/baseline/seed0.csv",
        "--labels", "results/phantom/data/CheXpert-v1.0-small/valid.csv", "--data-root", "results/phantom/data",
        "--observations", "Lung Opacity", "--figure", str(out / "f.png"), "--table", str(out / "t.csv"),
        "--markdown", str(out / "t.md"), "--html", str(out / "t.html"), *extra,
    ]  # fmt: skip
    return subprocess.run(command, cwd=workdir, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(workdir / "workflow")})  # fmt: skip


def test_chexlocalize_polygons_score_as_the_phantoms_rle_and_foreign_ids_are_refused(tiny_run, tmp_path):
    """The other CheXlocalize format, gt_annotations (polygons, only positive pathologies), built here from
    phantom_truth.csv at the same full resolution, scores as the workflow's RLE file does; a file whose ids are not
    in the manifest stops the step naming it, leaving nothing."""
    from chexpertnet.localize.chexlocalize import PATHOLOGIES, image_id
    from chexpertnet.phantom.localize_truth import FULL_RESOLUTION as F

    workdir = tmp_path / "wf"
    shutil.copytree(tiny_run, workdir, symlinks=True)
    results = workdir / "results/phantom"
    truth = pd.read_csv(results / "data/phantom_truth.csv")
    truth = truth[(truth["visible"] == 1) & truth["x0"].notna() & truth["Path"].str.contains("/valid/")]
    pathology = {o: p for p, o in PATHOLOGIES.items()}
    polygons: dict[str, dict] = {}
    for path in pd.read_csv(results / "data/CheXpert-v1.0-small/valid.csv")["Path"]:  # every image, as the RLE file
        with Image.open(results / "data" / path) as img:
            polygons[image_id(path)] = {"img_size": [img.size[1] * F, img.size[0] * F]}
    for r in truth[truth["observation"].isin(pathology)].itertuples():
        entry = polygons[image_id(r.Path)]
        # the box's pixels [x0, x1) x [y0, y1) at full resolution; PIL fills a polygon's outline too
        x0, y0, x1, y1 = r.x0 * F, r.y0 * F, r.x1 * F - 1, r.y1 * F - 1
        entry[pathology[r.observation]] = [[[x0, y0], [x1, y0], [x1, y1], [x0, y1]]]
    (tmp_path / "gt_annotations_val.json").write_text(json.dumps(polygons))
    out = tmp_path / "out"
    done = cam_command(workdir, out, "--chexlocalize", str(tmp_path / "gt_annotations_val.json"),
                       "--chexlocalize-table", str(out / "c.csv"))  # fmt: skip
    assert done.returncode == 0, done.stderr
    by_polygon = pd.read_csv(out / "c.csv").set_index("pathology")
    by_rle = pd.read_csv(results / "cam/baseline/seed0/chexlocalize.csv").set_index("pathology")
    pd.testing.assert_frame_equal(by_polygon, by_rle, check_exact=False, atol=1e-6)
    # the maps of the polygons' images as CheXlocalize's pickles, scored by `chexpertnet localize` against the RLE
    # truth: the CAM step's table again
    maps = [sys.executable, "-m", "chexpertnet", "chexlocalize-maps", "--model", MODEL, "--manifest",
            "results/phantom/manifests/both-multiclass/valid.csv", "--cache", "results/phantom/cache/valid.npy",
            "results/phantom/cache/valid.index.csv", "--predictions", "results/phantom/predictions/baseline/seed0.csv",
            "--labels", "results/phantom/data/CheXpert-v1.0-small/valid.csv", "--chexlocalize",
            str(tmp_path / "gt_annotations_val.json"), "--out", str(out / "maps")]  # fmt: skip
    done = subprocess.run(maps, cwd=workdir, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(workdir / "workflow")})  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert len(list((out / "maps").glob("*_map.pkl"))) == 10 * len(polygons)
    truth_file = str(results / "data/gt_segmentations_val.json")
    localize = [sys.executable, "-m", "chexpertnet", "localize", "--maps", str(out / "maps"), "--truth", truth_file,
                "--out", str(out / "again.csv")]  # fmt: skip
    done = subprocess.run(localize, cwd=workdir, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(workdir / "workflow")})  # fmt: skip
    assert done.returncode == 0, done.stderr
    pd.testing.assert_frame_equal(pd.read_csv(out / "again.csv").set_index("pathology"), by_rle, check_exact=False,
                                  atol=1e-6)  # fmt: skip

    wrong = {k.replace("patient", "patient9"): v for k, v in polygons.items()}
    (tmp_path / "foreign.json").write_text(json.dumps(wrong))
    out2 = tmp_path / "out2"
    done = cam_command(workdir, out2, "--chexlocalize", str(tmp_path / "foreign.json"),
                       "--chexlocalize-table", str(out2 / "c.csv"))  # fmt: skip
    assert done.returncode != 0
    assert f"{tmp_path / 'foreign.json'}: none of its {len(wrong)} images is in" in done.stderr
    assert not out2.exists() or not any(out2.iterdir()), "a failed cam step left files"


def test_a_configfile_replaces_the_default_config_and_its_experiments(tmp_path):
    """`--configfile` replaces config/config.yaml, not merges into it: none of the default's experiments is planned."""
    workdir = copy_workflow(tmp_path / "wf")
    config = tiny_config()
    config["experiments"] = {
        "lateral_scratch": {"views": "both", "normalization": "dataset", "init": "scratch", "uncertainty": "zeros",
                            "seeds": [3]},
        "frontal_ones": {"views": "frontal", "normalization": "imagenet", "init": "pretrained", "uncertainty": "ones",
                         "seeds": [1, 2]},
    }  # fmt: skip
    config["evaluation"]["baseline"] = "lateral_scratch"
    config["cam"]["experiments"] = ["frontal_ones"]
    (workdir / "config/mine.yaml").write_text(yaml.safe_dump(config))
    result = snakemake(workdir, "--configfile", "config/mine.yaml", "-n")
    plan = result.stdout + result.stderr
    trained = sorted(set(re.findall(r"output: results/phantom/models/(\w+/seed\d+)/model\.pt", plan)))
    assert trained == ["frontal_ones/seed1", "frontal_ones/seed2", "lateral_scratch/seed3"], plan[-3000:]
    assert planned_jobs(result)["train"] == 3
    manifests = set(re.findall(r"results/phantom/manifests/([\w-]+)/", plan))
    assert manifests == {"both-zeros", "frontal-ones"}
    for default in ("baseline", "dataset_norm", "scratch", "/frontal/"):
        assert f"models/{default.strip('/')}/" not in plan, default

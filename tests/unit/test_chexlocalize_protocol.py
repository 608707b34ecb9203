"""CheXlocalize as the benchmark scores it: our metrics against an independent re-implementation of the official
pipeline, written here from the benchmark's code as published (heatmap_to_segmentation.py: bilinear upsampling to
the full-resolution image, Otsu on uint8 levels with OpenCV, contours filled with PIL, or x > t; eval.py: pycocotools
RLE round trip, IoU on the true-positive slice, hit rate at the map's argmax, the seeded bootstrap and its CI indexing;
tune_heatmap_threshold.py: the mIoU-maximizing threshold of np.arange(0.2, .8, .1)), on maps built to exercise it:
rings whose holes the contour filling closes, thin lines at the border, negative regions, and an image whose
probability is low although its truth is positive (the benchmark scores it all the same)."""

from __future__ import annotations

import io
import json
import pickle
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw
from pycocotools import mask as coco

from chexpertnet.cli import main
from chexpertnet.localize import chexlocalize as L
from chexpertnet.localize.chexlocalize_maps import read_map, write_map

TASKS = sorted(L.PATHOLOGIES)  # eval.py's order


# --- the official pipeline, re-implemented ----------------------------------------------------------------------------
class CPUUnpickler(pickle.Unpickler):
    """The benchmark's way of reading map pickles saved on a GPU machine, onto the CPU."""

    def find_class(self, module, name):
        if module == "torch.storage" and name == "_load_from_bytes":
            return lambda b: torch.load(io.BytesIO(b), map_location="cpu", weights_only=True)
        return super().find_class(module, name)


def official_segmentation(cam_mask: torch.Tensor, threshold: float | None = None) -> np.ndarray:
    mask = cam_mask.squeeze()
    mask = mask - mask.min()
    mask = mask.div(mask.max()).data
    mask = mask.cpu().detach().numpy()
    if threshold is not None:
        return np.array(mask > threshold, dtype="int")
    mask = np.uint8(255 * mask)
    maxval = np.max(mask)
    thresh = cv2.threshold(mask, 0, maxval, cv2.THRESH_OTSU)[1]
    cnts = cv2.findContours(thresh, cv2.RETR_TREE, cv2.CHAIN_APPROX_SIMPLE)
    cnts = cnts[0] if len(cnts) == 2 else cnts[1]
    polygons = [[list(pt[0]) for pt in cnt] for cnt in cnts if len(cnt) > 1]
    out = Image.new("1", (mask.shape[1], mask.shape[0]))
    for polygon in polygons:
        ImageDraw.Draw(out).polygon([(p[0], p[1]) for p in polygon], outline=1, fill=1)
    return np.array(out, dtype="int")


def encode_segmentation(segmentation: np.ndarray) -> dict:
    rle = coco.encode(np.asfortranarray(segmentation.astype("uint8")))
    rle["counts"] = rle["counts"].decode()
    return rle


def official_iou(pred: np.ndarray, gt: np.ndarray) -> float:  # true_pos_only=True
    if np.sum(pred) == 0 or np.sum(gt) == 0:
        return np.nan
    return np.sum(np.logical_and(pred, gt)) / np.sum(np.logical_or(pred, gt))


def load_maps(folder: Path) -> dict:
    out = {}
    for path in sorted(folder.rglob("*_map.pkl")):
        task = path.name.split("_")[-2]
        image_id = "_".join(path.name.split("_")[:-2])
        with path.open("rb") as f:
            info = CPUUnpickler(f).load()
        dims = info["cxr_dims"]
        resized = F.interpolate(info["map"], size=(dims[1], dims[0]), mode="bilinear", align_corners=False)
        out[image_id, task] = resized
    return out


def official_ious(gt: dict, maps: dict, threshold: float | None, tasks=TASKS) -> pd.DataFrame:
    """eval.py's get_ious on the segmentations heatmap_to_segmentation.py would write (through their RLE)."""
    pred = {}
    for (image_id, task), resized in maps.items():
        pred.setdefault(image_id, {})[task] = encode_segmentation(official_segmentation(resized, threshold))
    ious = {}
    ids = sorted(gt)
    for task in tasks:
        ious[task] = []
        for cxr_id in ids:
            gt_item = gt[cxr_id][task]
            gt_mask = coco.decode(gt_item)
            pred_mask = np.zeros(gt_item["size"]) if cxr_id not in pred else coco.decode(pred[cxr_id][task])
            ious[task].append(official_iou(pred_mask, gt_mask))
    return pd.DataFrame(ious)


def official_hits(gt: dict, maps: dict) -> pd.DataFrame:
    results = {}
    for (image_id, task), resized in maps.items():
        if image_id not in gt:
            continue
        results.setdefault(image_id, {})[task] = 0
        gt_mask = coco.decode(gt[image_id][task])
        sal = resized.squeeze().squeeze().detach().cpu().numpy()
        x, y = np.unravel_index(np.argmax(sal, axis=None), sal.shape)
        if gt_mask[x][y] == 1:
            results[image_id][task] = 1
        elif np.sum(gt_mask) == 0:
            results[image_id][task] = np.nan
    return pd.DataFrame.from_dict(results, orient="index")


def official_cis(frame: pd.DataFrame, seed: int = 0) -> dict:
    np.random.seed(seed)
    replicates = []
    for _ in range(1000):
        sample = frame.iloc[np.random.choice(len(frame), size=len(frame), replace=True)]
        replicates.append({task: sample[task].mean() for task in TASKS})
    boot = pd.DataFrame.from_records(replicates)
    out = {}
    for task in TASKS:
        ordered = boot[task].sort_values()
        out[task] = (frame[task].mean(), ordered.iloc[int(0.025 * 1000) - 1], ordered.iloc[int(0.975 * 1000) - 1])
    return out


def official_thresholds(gt: dict, maps: dict) -> dict:
    grid = np.arange(0.2, 0.8, 0.1)
    best = {}
    for task in TASKS:
        mious = []
        for t in grid:
            ious = [official_iou(official_segmentation(r, t), coco.decode(gt[i][k]))
                    for (i, k), r in sorted(maps.items()) if k == task and i in gt]  # fmt: skip
            mious.append(np.nanmean(np.array(ious)))
        best[task] = round(float(grid[mious.index(max(mious))]), 1)
    return best


# --- maps and truth built to exercise every step ----------------------------------------------------------------------
FULL = (72, 88)  # full-resolution (h, w) of every image


def ring(h: int, w: int, cy: float, cx: float, r: float, width: float) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    d = np.hypot(yy - cy, xx - cx)
    return np.exp(-(((d - r) / width) ** 2))


def build(tmp_path: Path, n: int = 14) -> tuple[Path, Path, dict, dict]:
    rng = np.random.default_rng(3)
    gt, maps = {}, {}
    folder = tmp_path / "maps"
    folder.mkdir()
    for k in range(n):
        image_id = f"patient{64541 + k}_study1_view1_frontal"
        gt[image_id] = {}
        for t, task in enumerate(TASKS):
            truth = np.zeros(FULL, dtype=np.uint8)
            if (k + t) % 3:  # about two thirds positive
                y0, x0 = rng.integers(0, 40), rng.integers(0, 50)
                truth[y0 : y0 + rng.integers(8, 30), x0 : x0 + rng.integers(8, 36)] = 1
            if task == "Support Devices" and k % 2:  # a thin line at the image's border
                truth[:, :3] = 1
            gt[image_id][task] = encode_segmentation(truth)
            kind = (k + 2 * t) % 4
            h, w = 9, 11
            if kind == 0:  # a ring: Otsu keeps the rim, the filled contour its hole too
                m = ring(h, w, 4, 5, 3, 0.8)
            elif kind == 1:  # a thin bright line along the border
                m = rng.normal(0, 0.05, (h, w))
                m[:, 0] = 1.0
            elif kind == 2:  # signed: negative regions, as the CAM is
                m = rng.normal(0, 1, (h, w))
                m[2:4, 3:6] = -3.0
            else:
                m = rng.random((h, w)) ** 3
            maps[image_id, task] = m
            prob = 0.2 if k == 0 else 0.8  # a low probability, a positive truth: scored all the same
            write_map(folder, image_id, task, m, prob, int(truth.any()), np.zeros((16, 16), np.uint8),
                      (FULL[1], FULL[0]))  # fmt: skip
    truth_file = tmp_path / "gt_segmentations_val.json"
    truth_file.write_text(json.dumps(gt))
    return folder, truth_file, gt, maps


def test_our_metrics_equal_the_official_pipeline_to_1e6(tmp_path):
    folder, _, gt, maps = build(tmp_path)
    official = load_maps(folder)  # read with the benchmark's unpickler: our pickles are its format
    assert len(official) == len(maps) == 14 * 10
    ious = official_ious(gt, official, None)
    hits = official_hits(gt, official)
    tuned = official_thresholds(gt, official)
    tuned_ious = pd.concat([official_ious(gt, official, tuned[task], [task]) for task in TASKS], axis=1)
    ci_iou, ci_hit, ci_tuned = official_cis(ious), official_cis(hits.loc[sorted(hits.index)]), official_cis(tuned_ious)

    rows, used, _ = L.evaluate(((i, t, m) for (i, t), m in sorted(maps.items())), gt)
    assert used == tuned
    ours = {r["pathology"]: r for r in rows}
    assert list(ours) == list(L.PATHOLOGIES)  # one row per pathology, no pooled row
    for task in TASKS:
        r = ours[task]
        assert r["miou_otsu"] == pytest.approx(ci_iou[task][0], abs=1e-6)
        assert (r["miou_otsu_low"], r["miou_otsu_high"]) == pytest.approx(ci_iou[task][1:], abs=1e-6)
        assert r["hit_rate"] == pytest.approx(ci_hit[task][0], abs=1e-6)
        assert (r["hit_rate_low"], r["hit_rate_high"]) == pytest.approx(ci_hit[task][1:], abs=1e-6)
        assert r["miou_tuned"] == pytest.approx(ci_tuned[task][0], abs=1e-6)
        assert (r["miou_tuned_low"], r["miou_tuned_high"]) == pytest.approx(ci_tuned[task][1:], abs=1e-6)
        assert r["positive_images"] == int(sum(coco.decode(gt[i][task]).any() for i in gt))
    # the filled contour matters here: a ring's Otsu mask has a hole, the benchmark's segmentation does not
    full = L.full_resolution(ring(9, 11, 4, 5, 3, 0.8), FULL)
    levels = np.uint8(255 * (full - full.min()) / (full - full.min()).max())
    otsu = cv2.threshold(levels, 0, int(levels.max()), cv2.THRESH_OTSU)[1] > 0
    filled = L.segment(full)
    assert filled.sum() > otsu.sum() and filled[36, 44] and not otsu[36, 44]


def test_localize_scores_the_pickles_and_a_thresholds_file_is_applied(tmp_path):
    folder, truth_file, gt, maps = build(tmp_path)
    out = tmp_path / "table.csv"
    assert main(["localize", "--maps", str(folder), "--truth", str(truth_file), "--out", str(out),
                 "--markdown", str(tmp_path / "table.md")]) == 0  # fmt: skip
    table = pd.read_csv(out).set_index("pathology")
    rows, _, _ = L.evaluate(((i, t, m) for (i, t), m in sorted(maps.items())), gt)
    for r in rows:
        assert table.loc[r["pathology"], "miou_otsu"] == pytest.approx(r["miou_otsu"], abs=1e-4)  # CSV: 4 decimals
        assert table.loc[r["pathology"], "threshold_tuned"] == r["threshold_tuned"]
    assert "optimistic" in (tmp_path / "table.md").read_text()
    # thresholds tuned elsewhere (CheXlocalize's tuning_results.csv format): applied, not tuned
    fixed = pd.DataFrame({"threshold": [0.5] * 10, "task": TASKS})
    fixed.to_csv(tmp_path / "tuning_results.csv", index=False)
    assert main(["localize", "--maps", str(folder), "--truth", str(truth_file), "--out", str(out),
                 "--thresholds", str(tmp_path / "tuning_results.csv")]) == 0  # fmt: skip
    table = pd.read_csv(out)
    assert (table["threshold_tuned"] == 0.5).all()
    by_hand = official_ious(gt, load_maps(folder), 0.5)
    for _, r in table.iterrows():
        assert r["miou_tuned"] == pytest.approx(by_hand[r["pathology"]].mean(), abs=1e-4)


def test_written_pickles_hold_only_tensors_and_plain_types(tmp_path):
    path = write_map(tmp_path, "patient1_study1_view1_frontal", "Airspace Opacity", np.ones((3, 3)), 0.25, 1,
                     np.zeros((8, 8), np.uint8), (88, 72))  # fmt: skip
    with path.open("rb") as f:
        item = CPUUnpickler(f).load()
    assert set(item) == {"map", "prob", "task", "gt", "cxr_img", "cxr_dims"}
    assert item["map"].shape == (1, 1, 3, 3) and item["map"].dtype == torch.float32
    assert item["task"] == "Airspace Opacity" and item["cxr_dims"] == (88, 72) and item["prob"] == 0.25
    assert read_map(path)["map"].shape == (3, 3)


def test_unsafe_or_broken_pickles_are_refused_naming_the_file(tmp_path, capsys):
    class Payload:
        def __reduce__(self):
            return (print, ("this must never run",))

    bad = tmp_path / "maps" / "patient1_study1_view1_frontal_Edema_map.pkl"
    bad.parent.mkdir()
    bad.write_bytes(pickle.dumps({"map": Payload(), "cxr_dims": (4, 4)}))
    with pytest.raises(L.LocalizeError, match=r"Edema_map\.pkl: cannot be read .*refuses to load builtins\.print"):
        read_map(bad)
    assert "this must never run" not in capsys.readouterr().out
    truth = tmp_path / "gt.json"
    truth.write_text(json.dumps({"patient1_study1_view1_frontal": {t: encode_segmentation(np.zeros((4, 4)))
                                                                    for t in TASKS}}))  # fmt: skip
    out = tmp_path / "table.csv"
    assert main(["localize", "--maps", str(bad.parent), "--truth", str(truth), "--out", str(out)]) == 2
    assert "refuses to load builtins.print" in capsys.readouterr().err and not out.exists()
    bad.write_bytes(b"not a pickle")
    with pytest.raises(L.LocalizeError, match=r"Edema_map\.pkl: cannot be read"):
        read_map(bad)


# --- what is not scored is named; what cannot be scored is refused ---------------------------------------------------
def localize(tmp_path: Path, folder: Path, truth_file: Path, *extra: str) -> int:
    return main(["localize", "--maps", str(folder), "--truth", str(truth_file), "--out", str(tmp_path / "out.csv"),
                 "--markdown", str(tmp_path / "out.md"), "--resamples", "100", *extra])  # fmt: skip


def summary(err: str) -> dict:
    return json.loads(next(line for line in reversed(err.splitlines()) if line.startswith('{"maps"')))


def test_maps_of_images_not_in_the_truth_are_an_error_naming_them_unless_allowed(tmp_path, capsys):
    folder, _, gt, maps = build(tmp_path, n=12)
    dropped = sorted(gt)[:2]  # the truth of two images is missing: their 20 maps cannot be scored
    partial = tmp_path / "gt_partial.json"
    partial.write_text(json.dumps({k: v for k, v in gt.items() if k not in dropped}))
    assert localize(tmp_path, folder, partial) == 2
    err = capsys.readouterr().err
    assert f"chexpertnet localize: error: {folder}: 20 of its 120 maps are of images not in {partial}, so they " \
           f"would not be scored: {dropped[0]}_Airspace Opacity_map.pkl (its image {dropped[0]} is not in the " \
           f"ground truth), " in err  # fmt: skip
    assert err.count("_map.pkl (its image") == 10 and "and 10 more. Give the ground truth of the maps' split, " \
           "or --allow-unmatched" in err  # fmt: skip
    assert not (tmp_path / "out.csv").exists() and not (tmp_path / "out.md").exists()

    assert localize(tmp_path, folder, partial, "--allow-unmatched") == 0
    err = capsys.readouterr().err
    left_out = [json.loads(line) for line in err.splitlines() if line.startswith('{"event": "not_scored"')]
    expected = sorted(str(folder / f"{i}_{t}_map.pkl") for i in dropped for t in TASKS)
    assert sorted(r["file"] for r in left_out) == expected
    assert {r["reason"] for r in left_out} == {f"its image {i} is not in the ground truth" for i in dropped}
    done = summary(err)
    assert (done["maps"], done["scored"], done["not_scored"]) == (120, 100, 20)
    assert sorted(done["not_scored_files"]) == expected
    assert "20 of the 120 maps given were not scored: their images are not in the ground truth" in \
           (tmp_path / "out.md").read_text()  # fmt: skip
    kept = {k: v for k, v in maps.items() if k[0] not in dropped}
    rows, _, _ = L.evaluate(((i, t, m) for (i, t), m in sorted(kept.items())), json.loads(partial.read_text()),
                            replicates=100)  # fmt: skip
    table = pd.read_csv(tmp_path / "out.csv").set_index("pathology")
    assert [table.loc[r["pathology"], "miou_otsu"] for r in rows] == pytest.approx([r["miou_otsu"] for r in rows],
                                                                                   abs=1e-4)  # fmt: skip


@pytest.mark.parametrize(
    ("values", "message"),
    [(np.full((9, 11), np.nan), "its map has no finite value (all 99 values are NaN or infinite)"),
     (np.where(np.eye(9, 11) > 0, np.inf, 0.5), "9 of its map's 99 values are NaN or infinite")],
    ids=["all-nan", "some-infinite"],
)  # fmt: skip
def test_a_map_with_values_that_are_not_numbers_is_refused_naming_the_file(tmp_path, capsys, values, message):
    folder, truth_file, _, _ = build(tmp_path, n=3)
    image = "patient64542_study1_view1_frontal"
    bad = write_map(folder, image, "Edema", values, 0.5, 1, np.zeros((16, 16), np.uint8), (FULL[1], FULL[0]))
    assert localize(tmp_path, folder, truth_file) == 2
    assert f"chexpertnet localize: error: {bad}: {message}; it cannot be scored" in capsys.readouterr().err
    assert not (tmp_path / "out.csv").exists() and not (tmp_path / "out.md").exists()
    with pytest.raises(L.LocalizeError, match=rf"{image}, Edema: the map holds NaN or infinite values"):
        L.evaluate([(image, "Edema", values)], json.loads(truth_file.read_text()), replicates=10)


def test_two_maps_of_one_image_and_pathology_are_an_error_naming_both(tmp_path, capsys):
    folder, truth_file, _, _ = build(tmp_path, n=3)
    name = "patient64541_study1_view1_frontal_Edema_map.pkl"
    (folder / "again").mkdir()
    (folder / "again" / name).write_bytes((folder / name).read_bytes())
    assert localize(tmp_path, folder, truth_file) == 2
    err = capsys.readouterr().err
    assert f"{folder / name} and {folder / 'again' / name}: two maps of patient64541_study1_view1_frontal, Edema" in err
    assert not (tmp_path / "out.csv").exists()


def test_an_interval_over_fewer_than_10_images_has_both_bounds_empty_as_the_markdowns_na(tmp_path):
    from chexpertnet.localize.localization import CHEXLOCALIZE_INTERVALS, MIN_IMAGES, chexlocalize_table

    folder, truth_file, _, _ = build(tmp_path, n=6)  # every count below 10
    assert localize(tmp_path, folder, truth_file) == 0
    table = pd.read_csv(tmp_path / "out.csv")
    assert len(table) == 10
    for name, images in CHEXLOCALIZE_INTERVALS:
        assert (table[images] < MIN_IMAGES).all()
        assert table[f"{name}_low"].isna().all() and table[f"{name}_high"].isna().all(), name
        assert table[name].notna().any()  # the point estimates stay
    assert "n/a: 4 images" in (tmp_path / "out.md").read_text()
    # eval.py's replicates give a bound alone where resamples hold no image that counts: never written so
    row = {"pathology": "Edema", "observation": "Edema", "images": 40, "positive_images": 12, "miou_images": 12,
           "miou_otsu": 0.3, "miou_otsu_low": 0.3, "miou_otsu_high": np.nan, "threshold_tuned": 0.5,
           "miou_tuned": 0.4, "miou_tuned_low": 0.2, "miou_tuned_high": 0.6, "hit_rate": 0.5, "hit_rate_low": 0.25,
           "hit_rate_high": 0.75}  # fmt: skip
    written = chexlocalize_table([row, {**row, "pathology": "Cardiomegaly", "positive_images": 9}]).set_index(
        "pathology")  # fmt: skip
    assert written.loc["Edema", ["miou_otsu_low", "miou_otsu_high"]].isna().all()  # one bound: neither
    assert written.loc["Edema", ["miou_tuned_low", "miou_tuned_high", "hit_rate_low"]].tolist() == [0.2, 0.6, 0.25]
    assert written.loc["Cardiomegaly", ["hit_rate_low", "hit_rate_high"]].isna().all()  # 9 images: neither
    assert written.loc["Cardiomegaly", "miou_tuned_low"] == 0.2

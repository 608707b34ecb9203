"""CheXlocalize formats and metrics, checked against masks and values computed independently (by hand, by
pycocotools' own encoder, by brute force)."""

from __future__ import annotations

import numpy as np
import pytest
from pycocotools import mask as coco

from chexpertnet.localize import chexlocalize as L

FULL = (2320, 2828)  # CheXpert-v1.0 (h, w) of an image CheXpert-v1.0-small stores as 320 x 390 (h x w)
SMALL = (320, 390)


def encode(mask: np.ndarray) -> dict:
    """As CheXlocalize made its JSON: pycocotools' encode of a Fortran-ordered uint8 array, counts as text."""
    rle = coco.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": list(rle["size"]), "counts": rle["counts"].decode()}


def test_ids_and_paths_and_names():
    assert L.image_path("patient64541_study1_view1_frontal", "valid") == \
        "CheXpert-v1.0-small/valid/patient64541/study1/view1_frontal.jpg"  # fmt: skip
    assert L.image_id("CheXpert-v1.0-small/valid/patient64541/study1/view1_frontal.jpg") == \
        "patient64541_study1_view1_frontal"  # fmt: skip
    assert L.observation_of("Airspace Opacity") == "Lung Opacity"
    with pytest.raises(L.LocalizeError, match=r"patient1_study1_view1_frontal: unknown pathology 'Nodule'"):
        L.observation_of("Nodule", "patient1_study1_view1_frontal")
    with pytest.raises(L.LocalizeError, match="not a CheXlocalize image id"):
        L.image_path("patient1_view1", "valid")


def test_rle_from_pycocotools_decodes_to_the_mask_it_encoded():
    mask = np.zeros(FULL, dtype=bool)
    mask[725:1450, 290:1160] = True  # an L shape: rows and columns must not be swapped
    mask[1450:2030, 290:580] = True
    decoded = L.decode_rle(encode(mask), "patient1_study1_view1_frontal")
    assert decoded.shape == FULL and np.array_equal(decoded, mask)
    assert not L.decode_rle(encode(np.zeros(FULL, dtype=bool))).any()  # an empty mask, as CheXlocalize stores them


def test_full_resolution_polygon_maps_onto_the_small_image():
    # a rectangle at full resolution, x 725..1450 and y 290..1160 (multiples of 7.25): on the small image x 100..200
    # and y 40..160, both ends included by the polygon fill
    polygon = [[725, 290], [1450, 290], [1450, 1160], [725, 1160]]
    full = L.rasterize([polygon], FULL)
    small = L.map_to_image(full, SMALL, "patient1_study1_view1_frontal")
    rows, cols = np.flatnonzero(small.any(axis=1)), np.flatnonzero(small.any(axis=0))
    assert abs(rows[0] - 40) <= 1 and abs(rows[-1] - 160) <= 1
    assert abs(cols[0] - 100) <= 1 and abs(cols[-1] - 200) <= 1
    assert small.sum() == pytest.approx(101 * 121, rel=0.03)
    # the RLE of the same full-resolution mask maps to the same small mask
    assert np.array_equal(L.map_to_image(L.decode_rle(encode(full)), SMALL), small)


def test_a_mask_of_another_size_is_an_error_naming_the_id():
    with pytest.raises(L.LocalizeError, match=r"patient9_study1_view1_frontal: mask size 2320x2320 .* matches "
                                              r"neither the image \(320x390\)"):  # fmt: skip
        L.map_to_image(np.zeros((2320, 2320), bool), SMALL, "patient9_study1_view1_frontal")
    same = np.ones(SMALL, bool)
    assert L.map_to_image(same, SMALL) is not same and L.map_to_image(same, SMALL).all()


def test_segmentation_iou_and_hit_by_hand():
    a = np.zeros((4, 4), bool)
    b = np.zeros((4, 4), bool)
    a[0:2, 0:2] = True  # 4 pixels
    b[1:3, 1:3] = True  # 4 pixels, 1 shared
    assert L.iou(a, b) == pytest.approx(1 / 7)
    assert np.isnan(L.iou(a, np.zeros((4, 4), bool))) and np.isnan(L.iou(np.zeros((4, 4), bool), b))  # TP slice only
    full = np.zeros((4, 4), np.float32)
    full[2, 2] = 1.0
    assert L.hit(full, b) == 1.0 and L.hit(full, a) == 0.0 and np.isnan(L.hit(full, np.zeros((4, 4), bool)))
    # a two-level map: Otsu keeps the high level; a threshold keeps what is strictly above it
    two = np.zeros((6, 6), np.float32)
    two[1:4, 2:5] = 3.0
    assert np.array_equal(L.segment(two), two > 0)
    assert np.array_equal(L.segment(two, 0.5), two > 0) and not L.segment(two, 1.0).any()
    assert not L.segment(np.full((5, 5), 2.0)).any()  # a constant map has no salient region
    # a ring: the filled contour closes its hole (CheXlocalize fills contours; a plain threshold would not)
    yy, xx = np.mgrid[0:21, 0:21]
    rim = (np.abs(np.hypot(yy - 10, xx - 10) - 6) < 1.5).astype(np.float32)
    seg = L.segment(rim)
    assert seg[10, 10] and not rim[10, 10] and seg.sum() > rim.sum()
    # saliency: the CAM as it is, or its positive part (Grad-CAM's)
    cam = np.array([[-2.0, 1.0], [0.5, -0.1]])
    assert np.array_equal(L.saliency(cam, "cam"), cam.astype(np.float32))
    assert np.array_equal(L.saliency(cam, "gradcam"), np.array([[0, 1.0], [0.5, 0]], np.float32))
    with pytest.raises(ValueError, match="not one of"):
        L.saliency(cam, "smoothgrad")


def test_upsampling_is_torch_bilinear_without_corner_alignment():
    m = np.array([[0.0, 1.0], [2.0, 3.0]], np.float32)
    up = L.full_resolution(m, (4, 4))
    # align_corners=False: output pixel centres map to input coordinates (i + 0.5) / 2 - 0.5, clamped at the edges
    assert up[0, 0] == pytest.approx(0.0) and up[0, 1] == pytest.approx(0.25) and up[3, 3] == pytest.approx(3.0)
    # (1, 1) reads (0.25, 0.25): 0.75 * 0.75 * 0 + 0.75 * 0.25 * 1 + 0.25 * 0.75 * 2 + 0.25 * 0.25 * 3
    assert up[1, 1] == pytest.approx(0.75)
    assert up.shape == (4, 4) and up.dtype == np.float32


def test_the_bootstrap_draws_as_eval_py_does():
    np.random.seed(0)
    loop = np.stack([np.random.choice(7, size=7, replace=True) for _ in range(1000)])
    assert np.array_equal(L.bootstrap_indices(7), loop)
    values = np.array([0.1, np.nan, 0.5, 0.2, 0.9, np.nan, 0.4])
    mean, low, high = L.replicate_ci(values, loop)
    replicate = np.array([np.nanmean(values[i]) if not np.isnan(values[i]).all() else np.nan for i in loop])
    ordered = np.sort(replicate)
    assert mean == pytest.approx(np.nanmean(values)) and (low, high) == (ordered[24], ordered[974])


# --- chexpertnet truth: a CheXlocalize file as the workflow's truth table ---------------------------------------------
def truth_args(tmp_path, root, json_file):
    return ["truth", "--chexlocalize", str(json_file), "--split", "valid", "--root", str(root),
            "--out", str(tmp_path / "truth.csv")]  # fmt: skip


def test_truth_writes_masks_on_the_datasets_images_from_either_kind(dataset, tmp_path):
    import json

    import pandas as pd
    from PIL import Image

    from chexpertnet.cli import main

    root, _ = dataset  # valid/patient00010/study1/view1_frontal.jpg is 40 wide x 48 tall
    full = (348, 290)  # the same image at 7.25x (h, w)
    lesion = np.zeros(full, bool)
    lesion[72:145, 145:218] = True  # rows 10-19, columns 20-29 on the small image (divided by 7.25)
    segmentations = {"patient00010_study1_view1_frontal": {
        "Lung Lesion": encode(lesion), "Airspace Opacity": encode(np.zeros(full, bool))}}  # fmt: skip
    seg_file = tmp_path / "gt_segmentations_val.json"
    seg_file.write_text(json.dumps(segmentations))
    assert main(truth_args(tmp_path, root, seg_file)) == 0
    table = pd.read_csv(tmp_path / "truth.csv")
    assert table.to_dict("records") == [{
        "Path": "CheXpert-v1.0-small/valid/patient00010/study1/view1_frontal.jpg", "observation": "Lung Lesion",
        "mask": "truth_masks/patient00010_study1_view1_frontal_Lung_Lesion.png"}]  # the empty mask: no row
    with Image.open(tmp_path / table.loc[0, "mask"]) as img:
        mask = np.asarray(img) > 0
    assert mask.shape == (48, 40)
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    assert (rows[0], rows[-1], cols[0], cols[-1]) == (10, 19, 20, 29)
    # the polygons of the same lesion give the same mask
    annotations = {"patient00010_study1_view1_frontal": {
        "img_size": list(full), "Lung Lesion": [[[145, 72], [217.5, 72], [217.5, 144.5], [145, 144.5]]]}}  # fmt: skip
    ann_file = tmp_path / "gt_annotations_val.json"
    ann_file.write_text(json.dumps(annotations))
    assert main(truth_args(tmp_path, root, ann_file)) == 0
    with Image.open(tmp_path / "truth_masks/patient00010_study1_view1_frontal_Lung_Lesion.png") as img:
        assert np.array_equal(np.asarray(img) > 0, mask)


@pytest.mark.parametrize(("entry", "message"), [
    ({"patient00099_study1_view1_frontal": {"Lung Lesion": "x"}}, "image id patient00099_study1_view1_frontal has no "
                                                                   "image"),
    ({"patient00010_study1_view1_frontal": {"Nodule": "x"}}, "unknown pathology 'Nodule'"),
    ({"patient00010_study1_view1_frontal": {"img_size": [300, 300], "Edema": [[[0, 0], [5, 0], [5, 5]]]}},
     "mask size 300x300 (h x w) matches neither the image (48x40)"),
])  # fmt: skip
def test_truth_rejects_bad_entries_naming_the_id_and_leaves_nothing(dataset, tmp_path, capsys, entry, message):
    import json

    from chexpertnet.cli import main

    root, _ = dataset
    bad = tmp_path / "gt.json"
    bad.write_text(json.dumps(entry))
    assert main(truth_args(tmp_path, root, bad)) == 2
    assert message in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "gt.json"]  # no CSV, no masks, no staging folder


def test_score_map_by_hand():
    # a 4x4 map whose top-left 2x2 block is high; the true mask is the top row, at the map's own resolution
    saliency = np.array([[9, 8, 1, 0], [7, 9, 0, 1], [0, 1, 0, 0], [1, 0, 0, 0]], dtype=float)
    mask = np.zeros((4, 4), bool)
    mask[0] = True
    scored = L.score_map(saliency, mask)
    # Otsu keeps the four high cells (values 7-9 against 0-1): 2 of them in the mask, union 4 + 2 = 6
    assert scored["iou_otsu"] == pytest.approx(2 / 6) and scored["positive"]
    assert scored["hit"] == 1.0  # the first maximum (9) is at (0, 0)
    at = dict(zip(L.THRESHOLDS, scored["iou_by_threshold"], strict=True))
    # normalized: 9 -> 1, 8 -> 8/9, 7 -> 7/9, 1 -> 1/9; above 0.8: (0,0), (0,1), (1,1): 2 in the mask, union 4 + 1
    assert at[0.8] == pytest.approx(2 / 5)
    # above 0.2: the four high cells, as Otsu
    assert at[0.2] == pytest.approx(2 / 6)
    assert list(L.THRESHOLDS) == [0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]  # np.arange(0.2, .8, .1), as the benchmark


def test_summaries_tune_one_threshold_per_pathology_with_no_pooled_row():
    grid = L.THRESHOLDS
    ids = [f"patient{k}_study1_view1_frontal" for k in range(4)]

    def record(image_id, pathology, otsu, hit, by):
        return {"image_id": image_id, "pathology": pathology, "iou_otsu": otsu, "hit": hit, "positive": True,
                "iou_by_threshold": np.array(by)}  # fmt: skip

    records = [
        *(record(ids[k], "Edema", 0.2, 1.0, [0.1, 0.4, 0.3, 0.3, 0.3, 0.3, 0.3]) for k in (0, 2)),
        *(record(ids[k], "Edema", 0.4, 0.0, [0.2, 0.2, 0.5, 0.3, 0.3, 0.3, 0.3]) for k in (1, 3)),
        record(ids[2], "Cardiomegaly", 0.6, 1.0, [0.9, 0.1, 0.0, 0.0, 0.0, 0.0, 0.0]),
    ]
    tuned = L.tune_thresholds(records, grid)
    assert tuned == {"Cardiomegaly": 0.2, "Edema": 0.4}  # mean IoU 0.15, 0.30, 0.40, 0.30 ... -> 0.4
    rows = {r["pathology"]: r for r in L.summarize_scores(records, ids, tuned, grid=grid)}
    assert list(rows) == ["Cardiomegaly", "Edema"]  # CheXlocalize's order; no pooled row
    edema = rows["Edema"]
    assert edema["threshold_tuned"] == 0.4 and edema["miou_tuned"] == pytest.approx(0.4)
    assert edema["miou_otsu"] == pytest.approx(0.3) and edema["hit_rate"] == 0.5 and edema["images"] == 4
    assert 0.2 <= edema["miou_otsu_low"] < 0.3 < edema["miou_otsu_high"] <= 0.4
    # Cardiomegaly has a map of one of the truth's 4 images: the others are NaN rows, as eval.py's missing maps;
    # a replicate without that image is NaN and sorts last (pandas), so the upper end is NaN here, as there
    cardio = rows["Cardiomegaly"]
    assert cardio["miou_otsu"] == pytest.approx(0.6) and np.isnan(cardio["miou_otsu_high"])
    assert rows["Cardiomegaly"]["miou_tuned"] == pytest.approx(0.9)
    assert L.summarize_scores([], ids, {}) == []


def test_the_phantoms_truth_is_chexlocalize_rle_at_twice_the_image_size():
    from chexpertnet.phantom.localize_truth import FULL_RESOLUTION, segmentations

    frontal = "CheXpert-v1.0-small/valid/patient00003/study1/view1_frontal.jpg"
    lateral = "CheXpert-v1.0-small/valid/patient00003/study1/view2_lateral.jpg"
    train = "CheXpert-v1.0-small/train/patient00001/study1/view1_frontal.jpg"
    truth = [
        (frontal, "Cardiomegaly", "1", "0.500", "1", "10", "20", "30", "25"),
        (frontal, "Lung Opacity", "1", "0.500", "0", "", "", "", ""),  # present but not visible: empty
        (lateral, "Pleural Effusion", "1", "0.700", "1", "0", "35", "40", "40"),
        (train, "Cardiomegaly", "1", "0.500", "1", "1", "1", "5", "5"),
    ]
    sizes = {frontal: (40, 48), lateral: (50, 40), train: (40, 48)}
    out = segmentations(truth, sizes)
    assert sorted(out) == ["patient00003_study1_view1_frontal", "patient00003_study1_view2_lateral"]
    entry = out["patient00003_study1_view1_frontal"]
    assert list(entry) == list(L.PATHOLOGIES)  # all 10, empty ones included
    f = FULL_RESOLUTION
    heart = coco.decode({"size": entry["Cardiomegaly"]["size"], "counts": entry["Cardiomegaly"]["counts"].encode()})
    expected = np.zeros((40 * f, 48 * f), np.uint8)
    expected[20 * f : 25 * f, 10 * f : 30 * f] = 1
    assert entry["Cardiomegaly"]["size"] == [40 * f, 48 * f] and np.array_equal(heart, expected)
    assert not L.decode_rle(entry["Airspace Opacity"]).any()
    # read back as the CAM step reads it: onto the image the workflow reads, the box again
    assert np.array_equal(L.map_to_image(L.decode_rle(entry["Cardiomegaly"]), (40, 48)), expected[::f, ::f] > 0)
    effusion = L.decode_rle(out["patient00003_study1_view2_lateral"]["Pleural Effusion"])
    assert effusion.shape == (100, 80) and effusion[70:80, 0:80].all() and effusion.sum() == 10 * 80


def test_thresholds_from_a_table_leave_out_the_untuned_and_refuse_bad_values():
    """The CAM step's chexlocalize.csv has a blank threshold for a pathology with no true region on validation: it
    is not tuned (no tuned mIoU on the test set), not an error; text or a value outside [0, 1) is refused."""
    import pandas as pd

    from chexpertnet.localize.chexlocalize import LocalizeError, thresholds_from_table

    frame = pd.DataFrame({"pathology": ["Edema", "Consolidation"], "threshold_tuned": [0.4, float("nan")]})
    assert thresholds_from_table(frame, "valid.csv") == {"Edema": 0.4}
    for bad in ("high", 1.5):
        frame = pd.DataFrame({"pathology": ["Edema"], "threshold_tuned": [bad]})
        with pytest.raises(LocalizeError, match=r"valid.csv: the threshold of Edema is"):
            thresholds_from_table(frame, "valid.csv")

"""Exact CAMs, overlays, seeded example selection and the localization measures."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from chexpertnet.localize import cam as C
from chexpertnet.localize.localization import summarize
from chexpertnet.observations import OBSERVATIONS
from chexpertnet.train.loss import positive_probability
from chexpertnet.train.model import CheXpertNet


@pytest.mark.parametrize("seed", [0, 1])
def test_cam_mean_plus_bias_difference_is_the_logit_difference_exactly(seed):
    torch.manual_seed(seed)
    model = CheXpertNet().eval()
    with torch.no_grad():  # random head weights and biases, not the initialization's zero bias
        model.densenet.classifier.weight.normal_(0, 0.05)
        model.densenet.classifier.bias.normal_(0, 1.0)
    images = torch.randint(0, 256, (3, 96, 96), dtype=torch.uint8)
    cams, d = C.model_cams(model, images)
    with torch.no_grad():
        logits = model(images)
    assert cams.shape == (3, 14, 3, 3)
    torch.testing.assert_close(d, logits[..., 1] - logits[..., 0], rtol=0, atol=1e-4)
    torch.testing.assert_close(torch.sigmoid(d), positive_probability(logits), rtol=0, atol=1e-5)


def test_cams_of_a_channels_last_model_are_those_of_the_nchw_model():
    """The CAM step runs the model in the layout it trained in (train.fast: channels_last); the maps stay fp32."""
    torch.manual_seed(4)
    nchw = CheXpertNet().eval()
    with torch.no_grad():
        nchw.densenet.classifier.weight.normal_(0, 0.05)
    nhwc = CheXpertNet().eval()
    nhwc.load_state_dict(nchw.state_dict())
    nhwc.to_channels_last()
    images = torch.randint(0, 256, (2, 64, 64), dtype=torch.uint8)
    a, _ = C.model_cams(nchw, images)
    b, d_b = C.model_cams(nhwc, images)
    assert b.dtype == torch.float32 and nhwc.densenet.features.conv0.weight.is_contiguous(
        memory_format=torch.channels_last)  # fmt: skip
    torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-4)
    with torch.no_grad():
        logits = nhwc(images)
    torch.testing.assert_close(d_b, logits[..., 1] - logits[..., 0], rtol=0, atol=1e-4)


def test_cam_identity_on_random_features_and_weights_in_float64():
    gen = torch.Generator().manual_seed(3)
    features = torch.rand(4, 16, 5, 7, generator=gen, dtype=torch.float64)
    weight = torch.randn(14 * 3, 16, generator=gen, dtype=torch.float64)
    bias = torch.randn(42, generator=gen, dtype=torch.float64)
    w, b = C.head_difference(weight, bias, 14)
    cams = C.class_activation_maps(features, w)
    logits = (features.mean(dim=(2, 3)) @ weight.T + bias).view(4, 14, 3)
    torch.testing.assert_close(cams.mean(dim=(2, 3)) + b, logits[..., 1] - logits[..., 0], rtol=0, atol=1e-12)


def test_overlay_has_the_image_size_and_range():
    image = np.random.default_rng(0).integers(0, 256, (112, 90), dtype=np.uint8)
    out = C.overlay(image, np.random.default_rng(1).random((3, 3)))
    assert out.shape == (112, 90, 3) and out.min() >= 0 and out.max() <= 1
    flat = C.overlay(image, np.zeros((4, 4)))  # a constant map must not divide by zero
    assert np.isfinite(flat).all()


def test_selection_is_seeded_and_only_among_correct_positives():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({
        "Path": [f"p{i:03d}" for i in range(200)] * 2,
        "observation": ["Edema"] * 200 + ["No Finding"] * 200,
        "label": rng.integers(0, 2, 400),
        "probability": rng.random(400),
    })  # fmt: skip
    a = C.select_examples(frame, ["Edema", "No Finding", "Fracture"], seed=5, per_observation=3)
    b = C.select_examples(frame.sample(frac=1, random_state=1), ["Edema", "No Finding", "Fracture"], seed=5,
                          per_observation=3)  # fmt: skip
    assert [list(x["Path"]) for x in a] == [list(x["Path"]) for x in b]  # row order does not matter, the seed does
    assert len(a) == 2  # no Fracture rows: skipped
    for part in a:
        assert (part["label"] == 1).all() and (part["probability"] >= 0.5).all()
    c = C.select_examples(frame, ["Edema"], seed=6, per_observation=3)
    assert list(c[0]["Path"]) != list(a[0]["Path"])


def test_localize_hits_misses_ceiling_and_chance():
    cam = np.zeros((4, 4))
    cam[1, 2] = 5.0  # cell centre at x = 2.5 * 28 = 70, y = 1.5 * 28 = 42 on a 112 px image
    inside = C.localize(cam, (60, 30, 80, 50), (112, 112), tolerance=8)
    assert inside.hit and inside.tolerant_hit and inside.reachable and inside.iou > 0
    assert inside.pixel_share == pytest.approx(20 * 20 / 112**2, rel=0.05)
    # chance as the hit is scored: cell centres at 14, 42, 70, 98; the box (60..80, 30..50) holds x 70 and y 42,
    # one cell of 16; an image-blind pointer at the centre cell scores what this share says over random boxes
    assert inside.chance == 1 / 16
    near = C.localize(cam, (74, 30, 90, 50), (112, 112), tolerance=8)  # 4 px right of the maximum
    assert not near.hit and near.tolerant_hit
    far = C.localize(cam, (0, 80, 20, 100), (112, 112), tolerance=8)
    assert not far.hit and not far.tolerant_hit and far.reachable  # (14, 98) is a cell centre inside
    tiny = C.localize(cam, (20, 20, 26, 26), (112, 112), tolerance=8)
    assert not tiny.reachable  # no cell centre in a 6 px box between centres 14 and 42
    assert tiny.chance == 0 and tiny.pixel_share > 0  # a box no cell centre reaches: no pointer can hit it
    wide = C.localize(cam, (0, 0, 112, 50), (112, 112), tolerance=8)
    assert wide.chance == 8 / 16  # rows at y 14 and 42, all four columns


def test_chance_is_the_hit_rate_of_an_image_blind_pointer():
    """Over many random boxes, a pointer that picks a random cell, whatever the image, hits as often as the mean
    chance says (its hits are scored by the same rule as the CAM's)."""
    rng = np.random.default_rng(5)
    chance, hits = [], []
    for _ in range(3000):
        x0, y0 = rng.uniform(0, 90, 2)
        box = (x0, y0, x0 + rng.uniform(4, 40), y0 + rng.uniform(4, 40))
        cam = np.zeros((4, 4))
        cam[rng.integers(4), rng.integers(4)] = 1.0  # blind: the pointed cell ignores the box
        result = C.localize(cam, box, (112, 112), tolerance=0)
        chance.append(result.chance)
        hits.append(result.hit)
    assert np.mean(hits) == pytest.approx(np.mean(chance), abs=0.015)  # the standard error is about 0.005


def test_map_box_follows_the_resize_and_centre_crop():
    # a 320 x 390 (W x H) image resized to 128 x 128 and centre-cropped to 112 (offset 8)
    box = C.map_box((160, 195, 320, 390), (320, 390), 128, 112)
    assert box == pytest.approx((64 - 8, 64 - 8, 112, 112))
    assert C.map_box((0, 0, 10, 10), (320, 390), 128, 112) is None  # entirely in the cropped-away border


def test_summary_pools_overall_and_keeps_chexpert_order():
    records = pd.DataFrame({
        "observation": ["Pleural Effusion", "Edema", "Edema"], "hit": [True, False, True],
        "tolerant_hit": [True, True, True], "reachable": [True, True, False], "iou": [0.5, 0.1, 0.3],
        "chance": [0.2, 0.3, 0.1],
    })  # fmt: skip
    table = summarize(records)
    assert list(table["observation"]) == ["Edema", "Pleural Effusion", "overall"]
    overall = table.set_index("observation").loc["overall"]
    assert overall["hit_rate"] == pytest.approx(2 / 3) and overall["ceiling"] == pytest.approx(2 / 3)
    assert overall["images"] == 3 and set(OBSERVATIONS) >= set(table["observation"][:-1])
    # the margin over chance: (1 - 0.2 + 0 - 0.3 + 1 - 0.1) / 3, its CI within the range of resampled means
    assert overall["over_chance"] == pytest.approx(1.4 / 3)
    edema = table.set_index("observation").loc["Edema"]
    assert edema["over_chance"] == pytest.approx(0.3)  # (-0.3 + 0.9) / 2
    # two images (fewer than MIN_IMAGES): a point estimate, no interval; printed as n/a with the count
    assert np.isnan(edema["over_chance_low"]) and np.isnan(edema["over_chance_high"])
    from chexpertnet.localize.localization import _cells

    cells = _cells(table, 8).set_index("observation")["hit − chance [95% CI]"]
    assert cells["Edema"] == "+0.300 (n/a: 2 images)" and cells["overall"] == "+0.467 (n/a: 3 images)"
    # enough images: the percentile CI's ends are resampled means, around the point
    many = summarize(pd.concat([records] * 5, ignore_index=True)).set_index("observation").loc["Edema"]
    assert -0.3 <= many["over_chance_low"] < 0.3 < many["over_chance_high"] <= 0.9


def test_pointing_margin_over_chance_is_clear_only_when_its_ci_excludes_zero():
    n = 400
    # hits on 30% of the images, boxes of 10% of the image: clearly above chance
    clear = pd.DataFrame({"observation": "Edema", "hit": np.arange(n) % 10 < 3, "tolerant_hit": True,
                          "reachable": True, "iou": 0.0, "chance": 0.1})  # fmt: skip
    row = summarize(clear).set_index("observation").loc["overall"]
    assert row["over_chance"] == pytest.approx(0.2) and row["over_chance_low"] > 0.1
    # hits on 11% against a chance of 10%: the CI includes 0 (the standard error is about 0.016)
    close = clear.assign(hit=np.arange(n) % 100 < 11)
    row = summarize(close).set_index("observation").loc["overall"]
    assert row["over_chance"] == pytest.approx(0.01) and row["over_chance_low"] < 0 < row["over_chance_high"]
    # seeded: the same records give the same interval
    assert summarize(close).equals(summarize(close))


def test_cam_command_rejects_an_unknown_observation_before_any_work(tmp_path, capsys):
    from chexpertnet.cli import main

    outputs = [tmp_path / n for n in ("f.png", "t.csv", "t.md", "t.html")]
    args = ["cam", "--model", "m.pt", "--manifest", "m.csv", "--cache", "a.npy", "a.csv", "--predictions", "p.csv",
            "--labels", "v.csv", "--data-root", ".", "--observations", "Lung Opacity", "Lung Nodule",
            "--figure", str(outputs[0]), "--table", str(outputs[1]), "--markdown", str(outputs[2]),
            "--html", str(outputs[3])]  # fmt: skip
    assert main(args) == 2
    assert "['Lung Nodule'] are not CheXpert observations" in capsys.readouterr().err
    assert not any(p.exists() for p in outputs)


def test_a_mask_scores_like_the_box_it_fills():
    rng = np.random.default_rng(2)
    tested = 0
    while tested < 20:
        cam = rng.random((3, 3))
        x0, y0 = rng.integers(0, 60, 2)
        x1, y1 = x0 + rng.integers(8, 36), y0 + rng.integers(8, 36)
        if {int(x0), int(y0), int(x1), int(y1)} & {16, 48, 80}:
            continue  # an edge through a cell centre: inside for the box, a pixel-rounding matter for the mask
        tested += 1
        region = np.zeros((96, 96), dtype=bool)
        region[y0:y1, x0:x1] = True  # pixels x0..x1-1: the box (x0, y0, x1, y1) in pixel-edge coordinates
        by_box = C.localize(cam, (x0, y0, x1, y1), (96, 96), tolerance=8)
        by_mask = C.localize_mask(cam, region, tolerance=8)
        assert by_mask.chance == pytest.approx(by_box.chance, abs=1e-9)
        assert by_mask.iou == pytest.approx(by_box.iou, abs=0.02)
        assert (by_mask.hit, by_mask.reachable) == (by_box.hit, by_box.reachable)
        assert by_mask.tolerant_hit == by_box.tolerant_hit
    empty = C.localize_mask(np.ones((3, 3)), np.zeros((96, 96), dtype=bool), tolerance=8)
    assert not empty.hit and not empty.tolerant_hit and not empty.reachable


def test_map_mask_follows_the_resize_and_centre_crop():
    mask = np.zeros((390, 320), dtype=bool)  # H x W of a frontal image
    mask[195:, 160:] = True  # the bottom-right quarter
    region = C.map_mask(mask, 128, 112)
    assert region.shape == (112, 112)
    assert region[60:, 60:].all() and not region[:52, :].any() and not region[:, :52].any()

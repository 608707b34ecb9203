"""The phantom: layout and labels like CheXpert-v1.0-small, determinism, atomicity, and findings where they say."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from chexpertnet import phantom
from chexpertnet.data.chexpert import PATH_RE, parse_path
from chexpertnet.observations import CSV_COLUMNS, DATASET_DIR, OBSERVATIONS, PATHOLOGIES
from chexpertnet.phantom import Finding, PhantomConfig, generate, plan_patient, render
from chexpertnet.phantom.localize_truth import FILE as CHEXLOCALIZE_FILE

FRONTAL, LATERAL = (320, 390), (390, 320)  # (height, width) of the common real sizes
SMALL = PhantomConfig(train_patients=30, valid_patients=20, seed=3)


def read(root: Path, split: str) -> pd.DataFrame:
    return pd.read_csv(root / DATASET_DIR / f"{split}.csv", dtype=str, keep_default_na=False)


def files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("phantom")
    summary = generate(root, SMALL, workers=1)
    return root, summary


def test_same_config_same_bytes_for_any_workers(small, tmp_path):
    root, _ = small
    generate(tmp_path, SMALL, workers=2)
    a, b = files(root), files(tmp_path)
    assert a.keys() == b.keys()
    assert [k for k in a if a[k] != b[k]] == []


def test_a_new_seed_gives_other_images(small, tmp_path):
    root, _ = small
    generate(tmp_path, dataclasses.replace(SMALL, train_patients=4, valid_patients=2, seed=4))
    new = {p.relative_to(tmp_path) for p in tmp_path.rglob("*.jpg")}
    common = sorted(p for p in new if (root / p).exists())
    assert len(common) >= 3, "the two phantoms share too few image paths to compare"
    assert [p for p in common if (tmp_path / p).read_bytes() == (root / p).read_bytes()] == []


def test_layout_and_header(small):
    root, summary = small
    assert sorted(p.name for p in root.iterdir()) == sorted([DATASET_DIR, phantom.TRUTH_FILE, CHEXLOCALIZE_FILE])
    for split in ("train", "valid"):
        text = (root / DATASET_DIR / f"{split}.csv").read_text()
        assert text.splitlines()[0] == ",".join(CSV_COLUMNS)
        assert "\r" not in text
        frame = read(root, split)
        assert all(PATH_RE.match(p) and parse_path(p).split == split for p in frame["Path"])
        parts = [parse_path(p) for p in frame["Path"]]
        keys = [(int(p.patient[7:]), p.study, p.view_index) for p in parts]
        assert keys == sorted(keys) and len(set(keys)) == len(keys)
        assert all(f"_{p.view}.jpg" in path for p, path in zip(parts, frame["Path"], strict=True))
        assert set(frame["Sex"]) <= {"Male", "Female"}
        assert all(a.isdigit() for a in frame["Age"])
        assert list(frame["Frontal/Lateral"]) == [p.view.capitalize() for p in parts]
        frontal = frame["Frontal/Lateral"] == "Frontal"
        assert set(frame.loc[frontal, "AP/PA"]) <= {"AP", "PA"} and set(frame.loc[~frontal, "AP/PA"]) == {""}
        assert summary[split]["images"] == len(frame)
        assert summary[split]["patients"] == (SMALL.train_patients if split == "train" else SMALL.valid_patients)
    train = sorted({int(parse_path(p).patient[7:]) for p in read(root, "train")["Path"]})
    valid = sorted({int(parse_path(p).patient[7:]) for p in read(root, "valid")["Path"]})
    assert train == list(range(1, SMALL.train_patients + 1))
    assert valid == list(range(SMALL.train_patients + 1, SMALL.train_patients + SMALL.valid_patients + 1))


def test_labels(small):
    root, _ = small
    train, valid = read(root, "train"), read(root, "valid")
    assert set(train[list(OBSERVATIONS)].to_numpy().ravel()) == {"1.0", "0.0", "-1.0", ""}
    assert set(valid[list(OBSERVATIONS)].to_numpy().ravel()) == {"1.0", "0.0"}
    pathology = (valid[list(PATHOLOGIES)] == "1.0").any(axis=1)
    assert ((valid["No Finding"] == "1.0") == ~pathology).all()
    assert (valid["Fracture"] == "0.0").all()
    mentioned = train[list(PATHOLOGIES)].isin(["1.0", "-1.0"]).any(axis=1)
    assert (train.loc[~mentioned, "No Finding"] == "1.0").all()
    assert set(train.loc[mentioned, "No Finding"]) <= {"", "0.0"}
    for frame in (train, valid):  # labels are per study, repeated for each view
        study = frame["Path"].str.rsplit("/", n=1).str[0]
        assert (frame.groupby(study)[list(OBSERVATIONS)].nunique() == 1).all().all()


def test_studies_and_views(small):
    root, _ = small
    valid = read(root, "valid")
    parts = [parse_path(p) for p in valid["Path"]]
    assert {p.study for p in parts} == {1}
    assert all(any(p.view == "frontal" for p in parts if p.patient == q.patient) for q in parts)
    train = [parse_path(p) for p in read(root, "train")["Path"]]
    assert max(p.study for p in train) > 1 and max(p.view_index for p in train) > 1


def test_some_train_patients_have_only_lateral_images():
    config = PhantomConfig(train_patients=100, valid_patients=0)
    only_lateral = [
        i
        for i in range(1, 101)
        if all(v == "lateral" for s in plan_patient(config, "train", i).studies for v in s.views)
    ]
    assert only_lateral == [100]
    assert all(not phantom.is_lateral_only("train", i) for i in range(1, 100))
    assert sum(phantom.is_lateral_only("train", i) for i in range(1, 1001)) == 5


def test_fracture_in_valid_only_when_asked():
    for allow in (False, True):
        config = PhantomConfig(train_patients=10, valid_patients=200, valid_fracture=allow)
        n = sum("Fracture" in plan_patient(config, "valid", i).studies[0].findings for i in range(1, 201))
        assert (n >= 3) if allow else (n == 0)


def test_prevalence_rules():
    config = PhantomConfig(train_patients=400)
    studies = [s for i in range(1, 401) for s in plan_patient(config, "train", i).studies]
    for s in studies:
        if "Consolidation" in s.findings or "Pneumonia" in s.findings:
            assert "Lung Opacity" in s.findings
        assert all(phantom.MIN_SEVERITY <= f.severity <= 1 for f in s.findings.values())
    rate = {name: np.mean([name in s.findings for s in studies]) for name in phantom.FINDINGS}
    assert 0.3 < rate["Support Devices"] < 0.7 and 0.3 < rate["Lung Opacity"] < 0.6
    assert 0.005 < rate["Pleural Other"] < 0.06 and 0.25 < rate["Pleural Effusion"] < 0.5
    healthy = np.mean([not any(p in s.findings for p in PATHOLOGIES) for s in studies])
    assert 0.05 < healthy < 0.25


def image_sizes(root: Path) -> dict[str, tuple[str, tuple[int, int]]]:
    """Path -> (view, PIL size (width, height)) of every image, read from the files."""
    out = {}
    for split in ("train", "valid"):
        for path, view in read(root, split)[["Path", "Frontal/Lateral"]].itertuples(index=False):
            with Image.open(root / path) as img:
                assert img.format == "JPEG" and img.mode == "L" and not img.info.get("progressive")
                out[path] = (view, img.size)
    return out


def test_images_have_the_real_geometry(small):
    """CheXpert-v1.0-small: frontal 390 wide x 320 tall mostly (else 357-389 or 320 wide); lateral 320 wide,
    portrait."""
    root, _ = small
    sizes = image_sizes(root)
    frontal = [size for view, size in sizes.values() if view == "Frontal"]
    lateral = [size for view, size in sizes.values() if view == "Lateral"]
    assert all(h == 320 and (w == 320 or 357 <= w <= 390) for w, h in frontal)
    assert all(w == 320 and 320 <= h <= 401 for w, h in lateral)
    assert 0.5 < np.mean([w == 390 for w, _ in frontal]) < 0.8  # the real set: 134 of 202
    assert len({w for w, _ in frontal}) > 3 and len({h for _, h in lateral}) > 5  # sizes vary
    assert np.mean([h > w for w, h in lateral]) > 0.7  # mostly portrait


def test_height_scales_every_size(tmp_path):
    generate(tmp_path, dataclasses.replace(SMALL, train_patients=6, valid_patients=2, height=96))
    for view, (w, h) in image_sizes(tmp_path).values():
        assert (h == 96 and 96 <= w <= 117) if view == "Frontal" else (w == 96 and 96 <= h <= 121)


def test_truth_table(small):
    root, _ = small
    truth = pd.read_csv(root / phantom.TRUTH_FILE, dtype=str, keep_default_na=False)
    assert list(truth.columns) == list(phantom.TRUTH_COLUMNS)
    images = pd.concat([read(root, "train"), read(root, "valid")])
    assert len(truth) == 14 * len(images)
    assert (truth.groupby("Path")["observation"].apply(list) == [list(OBSERVATIONS)] * len(images)).all()
    sizes = {path: size for path, (_, size) in image_sizes(root).items()}
    boxed = truth[truth["x0"] != ""]
    assert len(boxed) > 0 and (boxed["visible"] == "1").all() and (boxed["present"] == "1").all()
    assert (truth.loc[truth["visible"] == "0", "x0"] == "").all()
    assert (truth.loc[truth["observation"] == "No Finding", "x0"] == "").all()
    for row in boxed.itertuples(index=False):
        w, h = sizes[row.Path]
        x0, y0, x1, y1 = int(row.x0), int(row.y0), int(row.x1), int(row.y1)
        assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h
    absent = truth[truth["present"] == "0"]
    assert (absent["severity"] == "0.000").all() and (absent["visible"] == "0").all()
    valid = read(root, "valid").set_index("Path")
    for row in truth[truth["Path"].str.contains("/valid/")].itertuples(index=False):
        assert valid.loc[row.Path, row.observation] == ("1.0" if row.present == "1" else "0.0")


def test_replaces_previous_dataset_and_leaves_no_temp(tmp_path):
    config = PhantomConfig(train_patients=3, valid_patients=2, seed=1)
    generate(tmp_path, dataclasses.replace(config, train_patients=5))
    generate(tmp_path, config)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([DATASET_DIR, phantom.TRUTH_FILE, CHEXLOCALIZE_FILE])
    patients = {parse_path(p).patient for p in read(tmp_path, "train")["Path"]}
    on_disk = {p.name for p in (tmp_path / DATASET_DIR / "train").iterdir()}
    assert on_disk == patients == {f"patient{i:05d}" for i in range(1, 4)}


def test_test_split_is_labelled_per_study_and_leaves_train_and_valid_unchanged(small, tmp_path):
    root, _ = small
    config = dataclasses.replace(SMALL, test_patients=6)
    summary = generate(tmp_path, config, workers=1)
    # train and valid are those of the phantom without a test split, byte for byte
    before = {k: v for k, v in files(root).items()}
    test_files = (phantom.TEST_LABELS_FILE, "gt_segmentations_test.json")
    after = {k: v for k, v in files(tmp_path).items() if "/test/" not in k and k not in test_files}
    assert after == before
    # the test set's CheXlocalize truth: every test image, the 10 pathologies, ids as CheXlocalize writes them
    test_truth = json.loads((tmp_path / "gt_segmentations_test.json").read_text())
    test_images = sorted((tmp_path / DATASET_DIR / "test").rglob("*.jpg"))
    assert len(test_truth) == len(test_images) and all(len(v) == 10 for v in test_truth.values())
    assert all(i.startswith("patient") and "_study" in i for i in test_truth)
    labels = pd.read_csv(tmp_path / phantom.TEST_LABELS_FILE, dtype=str)
    # the study-level format of the CheXpert test set: Study, then the 14 observations in alphabetical order, 0/1
    assert list(labels.columns) == ["Study", *sorted(OBSERVATIONS)]
    numbers = [SMALL.train_patients + SMALL.valid_patients + i for i in range(1, 7)]  # after valid's, as CheXpert's
    assert list(labels["Study"]) == [f"CheXpert-v1.0/test/patient{n:05d}/study1" for n in numbers]
    for i, row in enumerate(labels.itertuples(index=False), start=1):
        (study,) = phantom.plan_patient(config, "test", i).studies  # the planned truth, not the written CSV
        # every observation as its finding is present; No Finding where no pathology is (devices do not count)
        expected = {o: int(o in study.findings) for o in OBSERVATIONS}
        expected["No Finding"] = int(not any(o in study.findings for o in PATHOLOGIES))
        assert dict(zip(labels.columns[1:], map(int, row[1:]), strict=True)) == expected
        folder = tmp_path / DATASET_DIR / "test" / f"patient{numbers[i - 1]:05d}" / "study1"
        assert sorted(p.name for p in folder.iterdir()) == [f"view{k}_{v}.jpg" for k, v in enumerate(study.views, 1)]
    assert summary["test"] == {"patients": 6, "studies": 6, "images": sum(
        len(phantom.plan_patient(config, "test", i).studies[0].views) for i in range(1, 7))}  # fmt: skip
    # a later phantom without a test split removes it
    generate(tmp_path, SMALL, workers=1)
    assert files(tmp_path) == before


def test_crash_leaves_nothing(tmp_path, monkeypatch):
    calls = []

    def broken(*args, **kwargs):
        calls.append(1)
        if len(calls) > 3:
            raise RuntimeError("boom")
        return original(*args, **kwargs)

    original = phantom.write.render  # what generate's per-patient worker calls
    monkeypatch.setattr(phantom.write, "render", broken)
    with pytest.raises(RuntimeError):
        generate(tmp_path, PhantomConfig(train_patients=4, valid_patients=2))
    assert list(tmp_path.iterdir()) == []


ANATOMY = phantom.sample_anatomy(np.random.default_rng(11), "Male")


def finding(severity=0.8, side=-1, lateral=0.6, vertical=0.5, depth=0.5, seed=5, variant=0) -> Finding:
    return Finding(severity, side, lateral, vertical, depth, seed, variant)


@pytest.mark.parametrize(
    ("name", "view", "f"),
    [
        ("Cardiomegaly", "frontal", finding()),
        ("Enlarged Cardiomediastinum", "frontal", finding()),
        ("Lung Opacity", "frontal", finding()),
        ("Consolidation", "frontal", finding(vertical=0.6)),
        ("Pneumonia", "frontal", finding(side=1, lateral=0.7)),
        ("Lung Lesion", "frontal", finding(side=1, lateral=0.7, vertical=0.4)),
        ("Edema", "frontal", finding()),
        ("Atelectasis", "frontal", finding(vertical=0.8)),
        ("Pneumothorax", "frontal", finding(side=1)),
        ("Pleural Effusion", "frontal", finding(severity=0.8)),
        ("Pleural Other", "frontal", finding(vertical=0.45)),
        ("Fracture", "frontal", finding(lateral=0.7, vertical=0.4)),
        ("Support Devices", "frontal", finding(variant=phantom.PACEMAKER | phantom.ET_TUBE)),
        ("Consolidation", "lateral", finding(vertical=0.6)),
        ("Cardiomegaly", "lateral", finding()),
        ("Enlarged Cardiomediastinum", "lateral", finding()),
        ("Pneumothorax", "lateral", finding()),
        ("Pleural Other", "lateral", finding(vertical=0.45)),
        ("Atelectasis", "lateral", finding(vertical=0.8)),
        ("Lung Lesion", "lateral", finding(variant=1)),
        ("Pleural Effusion", "lateral", finding(severity=0.3)),
        ("Support Devices", "lateral", finding(variant=phantom.NG_TUBE)),
    ],
)
def test_signature_lies_in_its_box(name, view, f):
    size = FRONTAL if view == "frontal" else LATERAL
    plain = render(ANATOMY, {}, view, size, "PA", seed=7).image.astype(np.int16)
    shown = render(ANATOMY, {name: f}, view, size, "PA", seed=7)
    assert shown.visible[name]
    x0, y0, x1, y1 = shown.boxes[name]
    diff = np.abs(shown.image.astype(np.int16) - plain)
    inside = diff[y0:y1, x0:x1].sum()
    assert diff.sum() > 0 and inside / diff.sum() > 0.85
    box_area = (x1 - x0) * (y1 - y0)
    assert box_area < 0.6 * size[0] * size[1] or name in ("Edema", "Support Devices")


@pytest.mark.parametrize(
    "name, f",
    [
        ("Pleural Effusion", finding(severity=0.3)),
        ("Lung Lesion", finding(side=1, variant=1)),
        ("Atelectasis", finding(side=1, lateral=0.15, vertical=0.75, depth=0.7, variant=1)),  # retrocardiac
        ("Pneumothorax", finding(severity=0.4, variant=1)),  # anterior
    ],
)
def test_some_findings_show_on_the_lateral_view_only(name, f):
    frontal = render(ANATOMY, {name: f}, "frontal", FRONTAL, "AP", seed=3)
    lateral = render(ANATOMY, {name: f}, "lateral", LATERAL, "", seed=3)
    plain = render(ANATOMY, {}, "frontal", FRONTAL, "AP", seed=3)
    plain_lateral = render(ANATOMY, {}, "lateral", LATERAL, "", seed=3)
    assert not frontal.visible[name] and frontal.boxes[name] is None
    assert lateral.visible[name] and lateral.boxes[name] is not None
    assert np.array_equal(frontal.image, plain.image)  # nothing of it on the frontal view, not even a lifted dome
    assert np.abs(lateral.image.astype(np.int16) - plain_lateral.image).max() > 20


def test_lateral_only_variants_have_their_share():
    """The phantom's lateral-only findings, drawn as the generator draws them: the shares docs/phantom.md states."""
    rng = np.random.default_rng(0)
    draws = {name: [phantom.findings._finding(rng, name) for _ in range(4000)]
             for name in ("Atelectasis", "Pneumothorax", "Lung Lesion")}  # fmt: skip
    share = {name: np.mean([d.variant == 1 for d in found]) for name, found in draws.items()}
    assert share["Atelectasis"] == pytest.approx(phantom.findings.RETROCARDIAC_ATELECTASIS, abs=0.03)
    assert share["Lung Lesion"] == pytest.approx(phantom.RETROCARDIAC_LESIONS, abs=0.03)
    small = (phantom.findings.ANTERIOR_PNEUMOTHORAX_SEVERITY - phantom.MIN_SEVERITY) / (1 - phantom.MIN_SEVERITY)
    assert share["Pneumothorax"] == pytest.approx(small * phantom.findings.ANTERIOR_PNEUMOTHORAX, abs=0.03)
    assert all(d.severity <= phantom.findings.ANTERIOR_PNEUMOTHORAX_SEVERITY
               for d in draws["Pneumothorax"] if d.variant == 1)  # fmt: skip
    assert all(d.side == 1 for d in draws["Atelectasis"] if d.variant == 1)  # the left lower lobe


def test_a_big_effusion_shows_on_the_frontal_view():
    big = render(ANATOMY, {"Pleural Effusion": finding(severity=0.9)}, "frontal", FRONTAL, "AP", seed=3)
    assert big.visible["Pleural Effusion"]


@pytest.mark.parametrize("name", ["Pneumothorax", "Pleural Other", "Enlarged Cardiomediastinum", "Cardiomegaly"])
def test_both_views_show_findings_with_a_lateral_signature(name):
    for severity in (phantom.MIN_SEVERITY, 0.9):
        f = {name: finding(severity=severity, vertical=0.45)}
        for view, size in (("frontal", FRONTAL), ("lateral", LATERAL)):
            plain = render(ANATOMY, {}, view, size, "", seed=3).image.astype(np.int16)
            shown = render(ANATOMY, f, view, size, "", seed=3)
            assert shown.visible[name] and shown.boxes[name] is not None, (view, severity)
            assert np.abs(shown.image.astype(np.int16) - plain).max() > 20, (view, severity)


def test_fracture_shows_on_the_frontal_view_only():
    f = {"Fracture": finding(lateral=0.7, vertical=0.4)}
    lateral = render(ANATOMY, f, "lateral", LATERAL, "", seed=3)
    plain = render(ANATOMY, {}, "lateral", LATERAL, "", seed=3)
    assert not lateral.visible["Fracture"] and lateral.boxes["Fracture"] is None
    assert np.array_equal(lateral.image, plain.image)
    assert render(ANATOMY, f, "frontal", FRONTAL, "PA", seed=3).visible["Fracture"]


def test_render_is_pure_and_seeded():
    f = {"Edema": finding(), "Support Devices": finding(variant=phantom.ECG_LEADS)}
    a = render(ANATOMY, f, "frontal", FRONTAL, "AP", seed=1)
    b = render(ANATOMY, f, "frontal", FRONTAL, "AP", seed=1)
    c = render(ANATOMY, f, "frontal", FRONTAL, "AP", seed=2)
    assert np.array_equal(a.image, b.image) and a.boxes == b.boxes and not np.array_equal(a.image, c.image)
    assert a.image.dtype == np.uint8 and a.image.shape == FRONTAL


def test_contact_sheet(small, tmp_path):
    from chexpertnet.data.contact_sheet import contact_sheet

    root, _ = small
    out = tmp_path / "sheet.png"
    contact_sheet(root, out, n_studies=3)
    with Image.open(out) as img:
        assert img.format == "PNG" and img.width > img.height
    assert [p.name for p in tmp_path.iterdir()] == ["sheet.png"]

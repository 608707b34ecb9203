"""The CheXpert test set's labels, study-level (groundtruth.csv) and image-level (CheXlocalize's test_labels.csv),
as one CheXpert-format table; bad files stop with the line and value at fault, writing nothing."""

from __future__ import annotations

import pandas as pd
import pytest

from chexpertnet.cli import main
from chexpertnet.observations import CSV_COLUMNS, OBSERVATIONS

IMAGES = ["test/patient64741/study1/view1_frontal.jpg", "test/patient64741/study1/view2_lateral.jpg",
          "test/patient64742/study1/view1_frontal.jpg"]  # fmt: skip


def labels(positive: set[str]) -> dict[str, str]:
    return {o: "1" if o in positive else "0" for o in OBSERVATIONS}


@pytest.fixture
def images(tmp_path):
    root = tmp_path / "chexlocalize" / "CheXpert"
    for image in IMAGES:
        (root / image).parent.mkdir(parents=True, exist_ok=True)
        (root / image).write_bytes(b"jpeg")
    (root / "test/patient64742/study1/notes.txt").write_text("not an image")
    return root


def run(tmp_path, frame: pd.DataFrame, images, name: str = "labels.csv") -> tuple[int, pd.DataFrame | None]:
    frame.to_csv(tmp_path / name, index=False)
    out = tmp_path / "out" / "test.csv"
    code = main(["test-labels", "--labels", str(tmp_path / name), "--images", str(images), "--out", str(out)])
    return code, (pd.read_csv(out, dtype=str, keep_default_na=False) if out.exists() else None)


EXPECTED = pd.DataFrame(
    [["CheXpert-v1.0-small/test/patient64741/study1/view1_frontal.jpg", "", "", "Frontal", "",
      *["1.0" if o in ("Edema", "Cardiomegaly") else "0.0" for o in OBSERVATIONS]],
     ["CheXpert-v1.0-small/test/patient64741/study1/view2_lateral.jpg", "", "", "Lateral", "",
      *["1.0" if o in ("Edema", "Cardiomegaly") else "0.0" for o in OBSERVATIONS]],
     ["CheXpert-v1.0-small/test/patient64742/study1/view1_frontal.jpg", "", "", "Frontal", "",
      *["1.0" if o == "No Finding" else "0.0" for o in OBSERVATIONS]]],
    columns=list(CSV_COLUMNS),
)  # fmt: skip


def test_study_level_labels_give_every_image_of_the_study_its_labels(tmp_path, images):
    frame = pd.DataFrame([{"Study": "CheXpert-v1.0/test/patient64742/study1", **labels({"No Finding"})},
                          {"Study": "CheXpert-v1.0/test/patient64741/study1", **labels({"Edema", "Cardiomegaly"})}])
    code, table = run(tmp_path, frame, images)
    assert code in (0, None)
    pd.testing.assert_frame_equal(table, EXPECTED)


def test_image_level_labels_give_the_same_table(tmp_path, images):
    frame = pd.DataFrame([{"Path": "CheXpert/test/patient64742/study1/view1_frontal.jpg", **labels({"No Finding"})},
                          *({"Path": image, **labels({"Edema", "Cardiomegaly"})} for image in IMAGES[:2])])
    code, table = run(tmp_path, frame, images)
    assert code in (0, None)
    pd.testing.assert_frame_equal(table, EXPECTED)


@pytest.mark.parametrize(("rows", "message"), [
    ([{"Study": "CheXpert-v1.0/test/patient64741/study1", **labels(set()), "Edema": "2"}],
     "line 2, Edema is '2'; test labels are 0 or 1"),
    ([{"Study": "CheXpert-v1.0/test/patient64799/study1", **labels(set())}],
     "line 2, study patient64799/study1 has no image"),
    ([{"Study": "CheXpert-v1.0/test/patient64741/study1", **labels(set())}] * 2,
     "line 3, study patient64741/study1 is listed twice"),
    ([{"Path": "test/patient64741/study1/view3_frontal.jpg", **labels(set())}],
     "1 image(s) not found under"),
    ([{"Path": "valid/patient64741/study1/view1_frontal.jpg", **labels(set())}],
     "line 2, Path 'valid/patient64741/study1/view1_frontal.jpg' is not"),
    ([{"Path": "test/patient64741/study1/view1_frontal.jpg", **{o: "0" for o in OBSERVATIONS[1:]}}],
     "the observation column(s) ['No Finding'] are missing"),
], ids=["label_2", "study_without_images", "study_twice", "missing_image", "not_test", "missing_column"])  # fmt: skip
def test_bad_test_labels_stop_naming_the_line_and_write_nothing(tmp_path, images, capsys, rows, message):
    code, table = run(tmp_path, pd.DataFrame(rows), images)
    assert code not in (0, None) and table is None
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_a_root_without_test_folder_is_refused(tmp_path, capsys):
    frame = pd.DataFrame([{"Study": "CheXpert-v1.0/test/patient64741/study1", **labels(set())}])
    code, table = run(tmp_path, frame, tmp_path)
    assert code not in (0, None) and table is None
    assert f"--images {tmp_path}: it has no test/ folder" in capsys.readouterr().err


def study_frame() -> pd.DataFrame:
    return pd.DataFrame([{"Study": "CheXpert-v1.0/test/patient64742/study1", **labels({"No Finding"})},
                         {"Study": "CheXpert-v1.0/test/patient64741/study1", **labels({"Edema", "Cardiomegaly"})}])


def test_view_link_and_report_for_the_workflow(tmp_path, images):
    import hashlib
    import json

    study_frame().to_csv(tmp_path / "groundtruth.csv", index=False)
    view = tmp_path / "view"
    out = view / "CheXpert-v1.0-small" / "test.csv"
    report = tmp_path / "test_labels.json"
    code = main(["test-labels", "--labels", str(tmp_path / "groundtruth.csv"), "--images", str(images), "--out",
                 str(out), "--out-view", str(view), "--report", str(report)])  # fmt: skip
    assert code in (0, None)
    # the table's Paths resolve under the view, through its link to the images' test/ folder
    for path in pd.read_csv(out, dtype=str)["Path"]:
        assert (view / path).read_bytes() == b"jpeg"
    assert (view / "CheXpert-v1.0-small" / "test").is_symlink()
    written = json.loads(report.read_text())
    assert written["csv_sha256"] == {"test": hashlib.sha256(out.read_bytes()).hexdigest()}
    assert (written["images"], written["studies"], written["patients"], written["format"]) == (3, 2, 2, "study")


def test_test_patients_seen_in_training_are_refused(tmp_path, images, capsys):
    study_frame().to_csv(tmp_path / "groundtruth.csv", index=False)
    train = tmp_path / "train.csv"
    leaked = ["CheXpert-v1.0-small/train/patient64741/study3/view1_frontal.jpg", "", "", "Frontal", "AP",
              *["" for _ in OBSERVATIONS]]  # fmt: skip
    pd.DataFrame([leaked], columns=list(CSV_COLUMNS)).to_csv(train, index=False)
    view, out, report = tmp_path / "view", tmp_path / "view/CheXpert-v1.0-small/test.csv", tmp_path / "r.json"
    code = main(["test-labels", "--labels", str(tmp_path / "groundtruth.csv"), "--images", str(images), "--out",
                 str(out), "--exclude-patients", str(train), "--out-view", str(view),
                 "--report", str(report)])  # fmt: skip
    assert code == 2
    err = capsys.readouterr().err
    assert "1 patient(s) appear in both" in err and "patient64741" in err and str(train) in err
    assert not out.exists() and not report.exists() and not view.exists()

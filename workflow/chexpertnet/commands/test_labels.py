"""chexpertnet test-labels: the CheXpert test set's labels (either published format) as a CheXpert-format table."""

from __future__ import annotations

import argparse
import json
import sys

ORDER = 96  # position in `chexpertnet --help`
HELP = (
    "convert the CheXpert test labels (study-level groundtruth.csv or CheXlocalize's image-level test_labels.csv) "
    "into a CheXpert-format CSV of the test images, checked like valid.csv"
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--labels", required=True, help="groundtruth.csv (Study, 14 observations) or test_labels.csv "
                   "(Path, 14 observations)")  # fmt: skip
    p.add_argument("--images", required=True, help="the folder that contains test/ (test/patientN/studyN/*.jpg)")
    p.add_argument("--folder", default="CheXpert-v1.0-small", help="the dataset folder the table's Paths begin with")
    p.add_argument("--out", required=True, help="the CheXpert-format CSV (Paths <folder>/test/...)")
    p.add_argument("--exclude-patients", nargs="+", default=[], metavar="CSV",
                   help="CheXpert CSVs (train.csv, valid.csv) whose patients the test set may not hold")  # fmt: skip
    p.add_argument("--out-view", help="a validated view's root: <root>/<folder>/test is linked to the test images, "
                   "so that the table's Paths resolve under it (the workflow's data/validated)")  # fmt: skip
    p.add_argument("--report", help="JSON naming the table's SHA-256 (as validation.json does for train and valid), "
                   "which the cache and manifest steps check")  # fmt: skip


def run(args: argparse.Namespace) -> None:
    from pathlib import Path

    import pandas as pd

    from chexpertnet.data import testset
    from chexpertnet.data.chexpert import check_labels, check_paths, check_patient_overlap, read_csv
    from chexpertnet.data.dataview import link_folder
    from chexpertnet.errors import DataError
    from chexpertnet.fileio import sha256_file, write_csv, write_json

    source = args.labels
    try:
        frame = pd.read_csv(source, dtype=str, keep_default_na=False)
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataError(f"{source}: cannot be read as a CSV ({exc})") from None
    images = Path(args.images)
    if not (images / "test").is_dir():
        raise DataError(f"--images {images}: it has no test/ folder; give the folder that contains test/")
    kind = testset.label_format(list(frame.columns), source)
    if kind == "study":
        listing = {}
        for patient in sorted((images / "test").glob("patient*")):
            for study in sorted(patient.glob("study*")):
                if study.name[len("study") :].isdigit():
                    listing[patient.name, int(study.name[len("study") :])] = [f.name for f in study.glob("*.jpg")]
        table = testset.from_study_labels(frame, listing, source, args.folder)
    else:
        table = testset.from_image_labels(frame, source, args.folder)
        missing = [p for p in table["Path"] if not (images / testset.image_file(p)).is_file()]
        if missing:
            shown = "\n  ".join(str(images / testset.image_file(p)) for p in missing[:10])
            raise DataError(f"{source}: {len(missing)} image(s) not found under {images}:\n  {shown}")
    check_paths(table, source, "test")
    check_labels(table, source, "test")
    for other in args.exclude_patients:
        check_patient_overlap(read_csv(other, columns=["Path"]), table, other, source)
    if args.out_view:  # the link first, the table last: a view whose table exists is complete
        link_folder(Path(args.out_view) / args.folder / "test", images / "test")
    write_csv(args.out, table)
    views = table["Frontal/Lateral"].value_counts().to_dict()
    summary = {"format": kind, "labels": source, "images": len(table), "views": views, "out": args.out,
               "studies": int(table["Path"].str.rsplit("/", n=1).str[0].nunique()),
               "patients": int(table["Path"].str.split("/").str[2].nunique())}  # fmt: skip
    if args.report:
        write_json(args.report, {**summary, "csv_sha256": {"test": sha256_file(args.out)}})
    print(json.dumps(summary), file=sys.stderr)

"""The default phantom's make-up, as the README shows it: images, views and studies per split, and per observation
the train labels' shares (1.0, -1.0, blank), the valid positive patients and how often a present finding is hidden
on the frontal view. Reads a generated phantom (its CSVs and phantom_truth.csv), e.g. the default run's:

    .venv/bin/python benchmarks/phantom_stats.py results/phantom/data
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow"))

from chexpertnet.observations import ABBREVIATIONS, DATASET_DIR, OBSERVATIONS  # noqa: E402


def split_summary(frame: pd.DataFrame) -> dict:
    patient = frame["Path"].str.split("/").str[2]
    study = frame["Path"].str.rsplit("/", n=1).str[0]
    views = frame.groupby(patient)["Frontal/Lateral"].agg(set)
    lateral_studies = frame[frame["Frontal/Lateral"] == "Lateral"]["Path"].str.rsplit("/", n=1).str[0].nunique()
    return {"patients": patient.nunique(), "images": len(frame), "studies": study.nunique(),
            "frontal": int((frame["Frontal/Lateral"] == "Frontal").sum()),
            "lateral": int((frame["Frontal/Lateral"] == "Lateral").sum()),
            "lateral_only_patients": int(sum(v == {"Lateral"} for v in views)),
            "studies_with_lateral": lateral_studies / study.nunique()}  # fmt: skip


def label_table(train: pd.DataFrame, valid: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    patient = valid["Path"].str.split("/").str[2]
    frontal = truth[truth["Path"].str.endswith("_frontal.jpg") & (truth["present"] == 1)]
    rows = []
    for name, abbreviation in zip(OBSERVATIONS, ABBREVIATIONS, strict=True):
        cells = train[name]
        present = frontal[frontal["observation"] == name]
        hidden = (present["visible"] == 0).mean() if len(present) else 0.0
        rows.append({
            "observation": f"{name} ({abbreviation})",
            "train 1.0": f"{(cells == '1.0').mean():.1%}", "train -1.0": f"{(cells == '-1.0').mean():.1%}",
            "train blank": f"{(cells == '').mean():.1%}",
            "valid positive patients": int((valid[name] == "1.0").groupby(patient).any().sum()),
            "present but hidden on frontal": f"{hidden:.0%}",
        })  # fmt: skip
    return pd.DataFrame(rows)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("data", type=Path, help="the phantom's folder (holds CheXpert-v1.0-small/ and phantom_truth.csv)")
    a = p.parse_args()
    read = {"dtype": str, "keep_default_na": False}
    train = pd.read_csv(a.data / DATASET_DIR / "train.csv", **read)
    valid = pd.read_csv(a.data / DATASET_DIR / "valid.csv", **read)
    truth = pd.read_csv(a.data / "phantom_truth.csv", dtype={"Path": str, "observation": str})
    for name, frame in (("train", train), ("valid", valid)):
        s = split_summary(frame)
        print(f"{name}: {s['patients']} patients, {s['images']} images ({s['frontal']} frontal, {s['lateral']} "
              f"lateral) in {s['studies']} studies; {s['lateral_only_patients']} patient(s) with lateral images "
              f"only; {s['studies_with_lateral']:.0%} of studies with a lateral view")  # fmt: skip
    table = label_table(train, valid, truth)
    print()
    print("| " + " | ".join(table.columns) + " |")
    print("|---|" + "---:|" * (len(table.columns) - 1))
    for row in table.itertuples(index=False):
        print("| " + " | ".join(str(c) for c in row) + " |")


if __name__ == "__main__":
    main()

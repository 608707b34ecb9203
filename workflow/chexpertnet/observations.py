"""The CheXpert label space: the 14 observations, their abbreviations and the CSV layout."""

from __future__ import annotations

OBSERVATIONS: tuple[str, ...] = (
    "No Finding",
    "Enlarged Cardiomediastinum",
    "Cardiomegaly",
    "Lung Opacity",
    "Lung Lesion",
    "Edema",
    "Consolidation",
    "Pneumonia",
    "Atelectasis",
    "Pneumothorax",
    "Pleural Effusion",
    "Pleural Other",
    "Fracture",
    "Support Devices",
)

#: The paper's abbreviations, in the order of OBSERVATIONS.
ABBREVIATIONS: tuple[str, ...] = (
    "NF", "ECM", "CM", "LO", "LL", "Ed", "Con", "PN", "AT", "PNX", "PlE", "PlO", "F", "SD",
)  # fmt: skip

#: Observation -> the paper's abbreviation.
ABBREVIATION_OF: dict[str, str] = dict(zip(OBSERVATIONS, ABBREVIATIONS, strict=True))


def abbreviation_legend() -> str:
    """The paper's abbreviations spelled out, for a table's legend."""
    return "Abbreviations: " + ", ".join(f"{a} {o}" for o, a in ABBREVIATION_OF.items()) + "."


#: Observations that count as pathology: No Finding is 1 exactly when none of these is present.
PATHOLOGIES: tuple[str, ...] = tuple(o for o in OBSERVATIONS if o not in ("No Finding", "Support Devices"))

#: CheXpert's five competition tasks.
COMPETITION_TASKS: tuple[str, ...] = (
    "Atelectasis", "Cardiomegaly", "Consolidation", "Edema", "Pleural Effusion",
)  # fmt: skip

META_COLUMNS: tuple[str, ...] = ("Path", "Sex", "Age", "Frontal/Lateral", "AP/PA")

#: The exact header of CheXpert-v1.0-small's train.csv and valid.csv.
CSV_COLUMNS: tuple[str, ...] = META_COLUMNS + OBSERVATIONS

DATASET_DIR = "CheXpert-v1.0-small"
SPLITS: tuple[str, ...] = ("train", "valid")

#: Class indices in manifests and model heads: (negative, positive, uncertain).
NEGATIVE, POSITIVE, UNCERTAIN = 0, 1, 2
CLASS_NAMES: tuple[str, ...] = ("negative", "positive", "uncertain")

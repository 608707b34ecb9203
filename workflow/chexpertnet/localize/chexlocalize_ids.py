"""CheXlocalize's names and image ids: its 10 pathologies (and the CheXpert observation each is) and the mapping
between its image ids and CheXpert image paths. Apart from the metrics (chexlocalize.py) so that what only needs the
names (the phantom's truth files) does not go stale when a metric changes."""

from __future__ import annotations

import re

from chexpertnet.errors import DataError

#: CheXlocalize's 10 pathologies and the CheXpert observation each one is (Airspace Opacity is Lung Opacity).
PATHOLOGIES = {
    "Enlarged Cardiomediastinum": "Enlarged Cardiomediastinum",
    "Cardiomegaly": "Cardiomegaly",
    "Lung Lesion": "Lung Lesion",
    "Airspace Opacity": "Lung Opacity",
    "Edema": "Edema",
    "Consolidation": "Consolidation",
    "Atelectasis": "Atelectasis",
    "Pneumothorax": "Pneumothorax",
    "Pleural Effusion": "Pleural Effusion",
    "Support Devices": "Support Devices",
}
_ID = re.compile(r"^(patient\d+)_(study\d+)_(view\d+_(?:frontal|lateral))$")


class LocalizeError(DataError):
    """A CheXlocalize entry the workflow cannot use; the message names the image id and what to fix."""


def observation_of(pathology: str, image_id: str = "") -> str:
    """The CheXpert observation of a CheXlocalize pathology name; a clear error for a name it does not know."""
    try:
        return PATHOLOGIES[pathology]
    except KeyError:
        where = f"{image_id}: " if image_id else ""
        raise LocalizeError(
            f"{where}unknown pathology {pathology!r}; CheXlocalize's are {', '.join(PATHOLOGIES)}"
        ) from None


def image_path(image_id: str, split: str, folder: str = "CheXpert-v1.0-small") -> str:
    """``patient64541_study1_view1_frontal`` -> ``<folder>/<split>/patient64541/study1/view1_frontal.jpg``."""
    m = _ID.match(image_id)
    if not m:
        raise LocalizeError(f"{image_id!r} is not a CheXlocalize image id (patientN_studyN_viewN_frontal|lateral)")
    return f"{folder}/{split}/{m.group(1)}/{m.group(2)}/{m.group(3)}.jpg"


def image_id(path: str) -> str:
    """The inverse of :func:`image_path`: the id of ``.../<split>/patientN/studyN/viewN_x.jpg``."""
    parts = path.rsplit("/", 3)
    if len(parts) < 4 or not parts[-1].endswith(".jpg"):
        raise LocalizeError(f"{path!r} is not a CheXpert image path (.../patientN/studyN/viewN_frontal.jpg)")
    return "_".join([parts[-3], parts[-2], parts[-1][: -len(".jpg")]])

"""The localization table: per observation and overall, the pointing game (strict and tolerant), the ceiling the
CAM's resolution allows, the mean IoU and the chance level. Pure functions over data frames."""

from __future__ import annotations

import pandas as pd

from chexpertnet.markup import html_page, markdown
from chexpertnet.observations import ABBREVIATIONS, OBSERVATIONS

_ABBREV = dict(zip(OBSERVATIONS, ABBREVIATIONS, strict=True))
COLUMNS = ["observation", "abbreviation", "images", "hit_rate", "tolerant_hit_rate", "ceiling", "chance", "mean_iou"]


def summarize(records: pd.DataFrame) -> pd.DataFrame:
    """Per-image localization records (observation, hit, tolerant_hit, reachable, iou, chance) -> one row per
    observation that has any, in CheXpert order, then 'overall' (pooled over all images)."""
    rows = []
    groups = [(o, records[records["observation"] == o]) for o in OBSERVATIONS] + [("overall", records)]
    for observation, part in groups:
        if not len(part):
            continue
        rows.append({
            "observation": observation, "abbreviation": _ABBREV.get(observation, "all"), "images": len(part),
            "hit_rate": part["hit"].mean(), "tolerant_hit_rate": part["tolerant_hit"].mean(),
            "ceiling": part["reachable"].mean(), "chance": part["chance"].mean(), "mean_iou": part["iou"].mean(),
        })  # fmt: skip
    return pd.DataFrame(rows, columns=COLUMNS)


def localization_markdown(table: pd.DataFrame, crop: int, feature: tuple[int, int], tolerance: float,
                          threshold: float, has_boxes: bool) -> str:  # fmt: skip
    text = "# Localization of the class activation maps\n\n"
    if not has_boxes:
        return text + "No true boxes were given (--boxes), so localization is not measured.\n"
    if not len(table):
        return text + "No true-positive image has a true box.\n"
    return text + markdown(_cells(table, tolerance)) + "\n" + legend(crop, feature, threshold) + "\n"


def _cells(table: pd.DataFrame, tolerance: float) -> pd.DataFrame:
    cells = table.copy()
    for c in ("hit_rate", "tolerant_hit_rate", "ceiling", "chance", "mean_iou"):
        cells[c] = cells[c].map(lambda v: f"{v:.3f}")
    cells.columns = ["observation", "", "TP images", "pointing hit", f"hit within {tolerance:g} px", "ceiling",
                     "chance", "mean IoU"]  # fmt: skip
    return cells


def legend(crop: int, feature: tuple[int, int], threshold: float) -> str:
    return (
        f"True-positive validation images (label 1, P(positive) >= 0.5) whose finding has a true box. Pointing hit: "
        f"the centre of the CAM's highest cell lies in the box. The model sees {crop}x{crop} px and its CAM has "
        f"{feature[0]}x{feature[1]} cells ({crop / feature[1]:.0f} px each): the ceiling is the share of boxes that "
        f"contain any cell centre, the most a map of this resolution can hit. Chance: the box's share of the image "
        f"(the hit rate of a random point). IoU: the upsampled CAM above {threshold:g} of its range against the box."
    )


def localization_html(table: pd.DataFrame, crop: int, feature: tuple[int, int], tolerance: float,
                      threshold: float, has_boxes: bool) -> str:  # fmt: skip
    title = "Localization of the class activation maps"
    if not has_boxes or not len(table):
        note = "No true boxes were given, so localization is not measured." if not has_boxes else \
            "No true-positive image has a true box."  # fmt: skip
        return html_page(title, [("", note, pd.DataFrame())])
    return html_page(title, [("", legend(crop, feature, threshold), _cells(table, tolerance))])

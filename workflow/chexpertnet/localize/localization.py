"""The localization table: per observation and overall, the pointing game (strict and tolerant), the ceiling the
CAM's resolution allows, the mean IoU and the chance level. Pure functions over data frames."""

from __future__ import annotations

import pandas as pd

from chexpertnet.localize.chexlocalize import MIN_IMAGES, bootstrap_ci
from chexpertnet.markup import html_page, markdown
from chexpertnet.observations import ABBREVIATIONS, OBSERVATIONS

_ABBREV = dict(zip(OBSERVATIONS, ABBREVIATIONS, strict=True))
COLUMNS = ["observation", "abbreviation", "images", "hit_rate", "tolerant_hit_rate", "ceiling", "chance",
           "over_chance", "over_chance_low", "over_chance_high", "pixel_share", "mean_iou"]  # fmt: skip
#: Bootstrap resamples (over images) of the pointing game's margin over chance
RESAMPLES = 1000
CHEXLOCALIZE_COLUMNS = ["pathology", "observation", "images", "miou_otsu", "miou_otsu_low", "miou_otsu_high",
                        "threshold_tuned", "miou_tuned", "miou_tuned_low", "miou_tuned_high", "hit_rate",
                        "hit_rate_low", "hit_rate_high"]  # fmt: skip
CHEXLOCALIZE_TITLE = "CheXlocalize's metrics"


def interval(value: float, low: float, high: float, images: int, sign: str = "") -> str:
    """'0.296 [0.210, 0.380]', or with too few images for an interval (MIN_IMAGES) '0.296 (n/a: 3 images)'."""
    if pd.isna(value):
        return "n/a"
    if pd.isna(low) or pd.isna(high):
        return f"{value:{sign}.3f} (n/a: {images} image{'s' if images != 1 else ''})"
    return f"{value:{sign}.3f} [{low:{sign}.3f}, {high:{sign}.3f}]"


def chexlocalize_cells(table: pd.DataFrame) -> pd.DataFrame:
    """The CheXlocalize table as strings: each metric with its 95% CI."""

    def ci(row, name: str) -> str:
        return interval(row[name], row[name + "_low"], row[name + "_high"], int(row["images"]))

    return pd.DataFrame({
        "pathology": table["pathology"], "TP images": table["images"].astype(int).astype(str),
        "mIoU (Otsu)": [ci(r, "miou_otsu") for _, r in table.iterrows()],
        "tuned threshold": [("" if pd.isna(t) else f"{t:.2f}") for t in table["threshold_tuned"]],
        "mIoU (tuned)": [ci(r, "miou_tuned") for _, r in table.iterrows()],
        "hit rate": [ci(r, "hit_rate") for _, r in table.iterrows()],
    })  # fmt: skip


def chexlocalize_legend(crop: int) -> str:
    return (
        "CheXlocalize's saliency metrics (Saporta et al., 2022) on the true-positive validation images (label 1, "
        "P(positive) >= 0.5) whose CheXlocalize mask is not empty inside the model's view: the true mask, given in "
        f"full-resolution pixels, is mapped onto the image the workflow reads and then onto the {crop}x{crop} px "
        "model input (resize, centre crop); the CAM is upsampled (bilinear) to it, min-max normalized and binarized "
        "by Otsu's threshold, or by the per-pathology threshold (0.05 to 0.95) that maximizes the pathology's mIoU "
        "on these same images (tuned and reported on the same images, so an optimistic figure; CheXlocalize tunes "
        "on its validation set and reports on its test set). Hit rate: the map's maximum lies inside the mask. "
        f"95% CIs: percentile bootstrap over images, 1,000 resamples (n/a with fewer than {MIN_IMAGES} images); 'all' "
        "pools the images of every pathology."
    )


def summarize(records: pd.DataFrame, resamples: int = RESAMPLES, seed: int = 0) -> pd.DataFrame:
    """Per-image localization records (observation, hit, tolerant_hit, reachable, iou, chance, pixel_share) -> one
    row per observation that has any, in CheXpert order, then 'overall' (pooled over all images). ``over_chance``:
    the pointing game's hit rate minus its chance level (the mean over images of hit - chance, chance being the
    share of the map's cells whose centre lies in the box: what an image-blind pointer scores under the same rule),
    with a percentile bootstrap 95% CI over images (``resamples``, seeded): above chance where the CI is above 0.
    ``pixel_share``: the boxes' mean share of the image, for reference (records without it give NaN)."""
    rows = []
    groups = [(o, records[records["observation"] == o]) for o in OBSERVATIONS] + [("overall", records)]
    for n, (observation, part) in enumerate(groups):
        if not len(part):
            continue
        margin = part["hit"].astype(float).to_numpy() - part["chance"].to_numpy(dtype=float)
        over, low, high = bootstrap_ci(margin, resamples, seed + n)
        rows.append({
            "observation": observation, "abbreviation": _ABBREV.get(observation, "all"), "images": len(part),
            "hit_rate": part["hit"].mean(), "tolerant_hit_rate": part["tolerant_hit"].mean(),
            "ceiling": part["reachable"].mean(), "chance": part["chance"].mean(), "over_chance": over,
            "over_chance_low": low, "over_chance_high": high,
            "pixel_share": part["pixel_share"].mean() if "pixel_share" in part else float("nan"),
            "mean_iou": part["iou"].mean(),
        })  # fmt: skip
    return pd.DataFrame(rows, columns=COLUMNS)


def localization_markdown(table: pd.DataFrame, crop: int, feature: tuple[int, int], tolerance: float,
                          threshold: float, has_boxes: bool,
                          chexlocalize: pd.DataFrame | None = None) -> str:  # fmt: skip
    text = "# Localization of the class activation maps\n\n"
    if not has_boxes:
        text += "No true boxes were given (--boxes), so the pointing game is not measured.\n"
    elif not len(table):
        text += "No true-positive image has a true box.\n"
    else:
        text += markdown(_cells(table, tolerance)) + "\n" + legend(crop, feature, threshold) + "\n"
    if chexlocalize is not None:
        text += f"\n## {CHEXLOCALIZE_TITLE}\n\n"
        if len(chexlocalize):
            text += markdown(chexlocalize_cells(chexlocalize)) + "\n" + chexlocalize_legend(crop) + "\n"
        else:
            text += "No true-positive image has a CheXlocalize mask inside the model's view.\n"
    return text


def _cells(table: pd.DataFrame, tolerance: float) -> pd.DataFrame:
    cells = table.copy()
    for c in ("hit_rate", "tolerant_hit_rate", "ceiling", "chance", "pixel_share", "mean_iou"):
        cells[c] = cells[c].map(lambda v: "n/a" if pd.isna(v) else f"{v:.3f}")
    cells["over_chance"] = [interval(r.over_chance, r.over_chance_low, r.over_chance_high, r.images, "+")
                            for r in table.itertuples()]  # fmt: skip
    cells = cells.drop(columns=["over_chance_low", "over_chance_high"])
    cells.columns = ["observation", "", "TP images", "pointing hit", f"hit within {tolerance:g} px", "ceiling",
                     "chance (cells)", "hit − chance [95% CI]", "pixel share", "mean IoU"]  # fmt: skip
    return cells


def legend(crop: int, feature: tuple[int, int], threshold: float) -> str:
    return (
        f"True-positive validation images (label 1, P(positive) >= 0.5) whose finding has a true box. Pointing hit: "
        f"the centre of the CAM's highest cell lies in the box. The model sees {crop}x{crop} px and its CAM has "
        f"{feature[0]}x{feature[1]} cells ({crop / feature[1]:.0f} px each): the ceiling is the share of boxes that "
        f"contain any cell centre, the most a map of this resolution can hit. Chance (cells): the share of the "
        f"map's cells whose centre lies in the box, what a pointer that ignores the image (a random cell) scores "
        f"under the same rule; pixel share: the box's share of the image, for reference (a map this coarse cannot "
        f"point anywhere); hit − chance: the pointing game's margin over chance (cells), with a percentile "
        f"bootstrap 95% CI over images ({RESAMPLES:,} resamples; n/a with fewer than {MIN_IMAGES} images), clearly "
        f"above chance where the CI is above 0. "
        f"IoU: the upsampled CAM above {threshold:g} of its range against the box."
    )


def localization_html(table: pd.DataFrame, crop: int, feature: tuple[int, int], tolerance: float,
                      threshold: float, has_boxes: bool, chexlocalize: pd.DataFrame | None = None) -> str:  # fmt: skip
    title = "Localization of the class activation maps"
    if not has_boxes or not len(table):
        note = "No true boxes were given, so the pointing game is not measured." if not has_boxes else \
            "No true-positive image has a true box."  # fmt: skip
        sections = [("", note, pd.DataFrame())]
    else:
        sections = [("", legend(crop, feature, threshold), _cells(table, tolerance))]
    if chexlocalize is not None:
        if len(chexlocalize):
            sections.append((CHEXLOCALIZE_TITLE, chexlocalize_legend(crop), chexlocalize_cells(chexlocalize)))
        else:
            sections.append((CHEXLOCALIZE_TITLE, "No true-positive image has a CheXlocalize mask inside the model's "
                             "view.", pd.DataFrame()))  # fmt: skip
    return html_page(title, sections)

"""The localization tables: the pointing game of the CAMs against true boxes, per observation and overall (strict
and tolerant hits, the ceiling the CAM's resolution allows, the mean IoU and the chance level), and CheXlocalize's
metrics per pathology, as the benchmark computes them. Pure functions over data frames."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from chexpertnet.markup import html_page, markdown
from chexpertnet.observations import ABBREVIATIONS, OBSERVATIONS

_ABBREV = dict(zip(OBSERVATIONS, ABBREVIATIONS, strict=True))
COLUMNS = ["observation", "abbreviation", "images", "hit_rate", "tolerant_hit_rate", "ceiling", "chance",
           "over_chance", "over_chance_low", "over_chance_high", "pixel_share", "mean_iou"]  # fmt: skip
#: Bootstrap resamples (over images) of the pointing game's margin over chance
RESAMPLES = 1000
CHEXLOCALIZE_COLUMNS = ["pathology", "observation", "images", "positive_images", "miou_images", "miou_otsu",
                        "miou_otsu_low", "miou_otsu_high", "threshold_tuned", "miou_tuned", "miou_tuned_low",
                        "miou_tuned_high", "hit_rate", "hit_rate_low", "hit_rate_high"]  # fmt: skip
CHEXLOCALIZE_TITLE = "CheXlocalize's metrics, as the benchmark computes them"
#: An interval over fewer images than this is not given (a bootstrap of one or two images is its own value).
MIN_IMAGES = 10


def bootstrap_ci(values: Sequence[float], resamples: int = RESAMPLES, seed: int = 0, level: float = 0.95,
                 min_values: int = MIN_IMAGES) -> tuple:  # fmt: skip
    """(mean, low, high): the mean of ``values`` and its percentile bootstrap CI over the values (images); the CI is
    NaN with fewer than ``min_values`` values (NaN values do not count)."""
    v = np.asarray(values, dtype=np.float64)
    v = v[~np.isnan(v)]
    if not len(v):
        return float("nan"), float("nan"), float("nan")
    if len(v) < min_values:
        return float(v.mean()), float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = v[rng.integers(0, len(v), size=(resamples, len(v)))].mean(axis=1)
    tail = (1 - level) / 2 * 100
    return float(v.mean()), float(np.percentile(means, tail)), float(np.percentile(means, 100 - tail))


def interval(value: float, low: float, high: float, images: int, sign: str = "") -> str:
    """'0.296 [0.210, 0.380]', or with too few images for an interval (MIN_IMAGES) '0.296 (n/a: 3 images)'."""
    if pd.isna(value):
        return "n/a"
    if pd.isna(low) or pd.isna(high):
        return f"{value:{sign}.3f} (n/a: {images} image{'s' if images != 1 else ''})"
    return f"{value:{sign}.3f} [{low:{sign}.3f}, {high:{sign}.3f}]"


#: CheXlocalize's metrics, each with the count of images its interval is over (as chexlocalize_cells shows them).
CHEXLOCALIZE_INTERVALS = (("miou_otsu", "miou_images"), ("miou_tuned", "miou_images"), ("hit_rate", "positive_images"))


def chexlocalize_table(rows: Sequence[dict]) -> pd.DataFrame:
    """CheXlocalize's per-pathology rows (chexlocalize.evaluate) as the table written to chexlocalize.csv: an
    interval over fewer than MIN_IMAGES images, or with one bound undefined (eval.py's replicates are NaN where a
    resample holds no image that counts, and sort last), has both bounds empty, as the Markdown's n/a; a bound is
    never given alone."""
    table = pd.DataFrame(list(rows), columns=CHEXLOCALIZE_COLUMNS)
    for name, images in CHEXLOCALIZE_INTERVALS:
        bounds = [f"{name}_low", f"{name}_high"]
        undefined = (pd.to_numeric(table[images]) < MIN_IMAGES) | table[bounds].isna().any(axis=1)
        table[bounds] = table[bounds].astype(float).mask(undefined, np.nan)
    return table


def chexlocalize_cells(table: pd.DataFrame) -> pd.DataFrame:
    """The CheXlocalize table as strings: each metric with its 95% CI, and the images each is over."""

    def ci(row, name: str, images: str) -> str:
        n = int(row[images])
        low, high = (row[name + "_low"], row[name + "_high"]) if n >= MIN_IMAGES else (np.nan, np.nan)
        return interval(row[name], low, high, n)

    return pd.DataFrame({
        "pathology": table["pathology"], "images with a map": table["images"].astype(int).astype(str),
        "with a true region": table["positive_images"].astype(int).astype(str),
        "mIoU (Otsu)": [ci(r, "miou_otsu", "miou_images") for _, r in table.iterrows()],
        "threshold": [("" if pd.isna(t) else f"{t:.1f}") for t in table["threshold_tuned"]],
        "mIoU (threshold)": [ci(r, "miou_tuned", "miou_images") for _, r in table.iterrows()],
        "hit rate": [ci(r, "hit_rate", "positive_images") for _, r in table.iterrows()],
    })  # fmt: skip


def chexlocalize_legend(saliency: str = "cam", tuned_here: bool = True, split: str = "valid") -> str:
    which = {"cam": "the CAM (the paper's maps), of the whole image the model reads,",
             "gradcam": "the CAM without its negative part (for a global-average-pooled linear head, Grad-CAM on the "
                        "pooled features; the benchmark's maps), of the whole image the model reads,"}.get(
        saliency, saliency)  # fmt: skip
    tuned = ("tuned per pathology on these same images (CheXlocalize tunes on its validation set and reports on its "
             "test set: on the validation set alone this figure is optimistic)" if tuned_here else
             "tuned on the validation set and applied here, as the benchmark does")  # fmt: skip
    return (
        f"CheXlocalize's protocol (Saporta et al., 2022), as its code computes it, on its population: every "
        f"{split} image of its ground truth for each of its 10 pathologies, whatever the model's probability. The "
        f"map scored is {which} upsampled (bilinear) to the full-resolution "
        "image. mIoU (Otsu): the map min-max normalized, Otsu's threshold on 255 levels (OpenCV), its contours "
        "filled; over the images where both the true and the predicted segmentation are non-empty. mIoU "
        f"(threshold): the normalized map above the threshold (0.2 to 0.8), {tuned}. Hit rate: the map's maximum "
        "lies inside the true segmentation, over the images where it is non-empty (with a true region). 95% CIs: 1,000 "
        "bootstrap replicates of the images, one resample for every pathology, seed 0, the 25th and 975th sorted "
        f"replicates (n/a with fewer than {MIN_IMAGES} images); no pooled row, as the benchmark reports none."
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
                          threshold: float, has_boxes: bool, chexlocalize: pd.DataFrame | None = None,
                          saliency: str = "cam", tuned_here: bool = True, split: str = "valid") -> str:  # fmt: skip
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
            legend_text = chexlocalize_legend(saliency, tuned_here, split)
            text += markdown(chexlocalize_cells(chexlocalize)) + "\n" + legend_text + "\n"
        else:
            text += "No image of the CheXlocalize ground truth has a map.\n"
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
                      threshold: float, has_boxes: bool, chexlocalize: pd.DataFrame | None = None,
                      saliency: str = "cam", tuned_here: bool = True, split: str = "valid") -> str:  # fmt: skip
    title = "Localization of the class activation maps"
    if not has_boxes or not len(table):
        note = "No true boxes were given, so the pointing game is not measured." if not has_boxes else \
            "No true-positive image has a true box."  # fmt: skip
        sections = [("", note, pd.DataFrame())]
    else:
        sections = [("", legend(crop, feature, threshold), _cells(table, tolerance))]
    if chexlocalize is not None:
        if len(chexlocalize):
            legend_text = chexlocalize_legend(saliency, tuned_here, split)
            sections.append((CHEXLOCALIZE_TITLE, legend_text, chexlocalize_cells(chexlocalize)))
        else:
            sections.append((CHEXLOCALIZE_TITLE, "No image of the CheXlocalize ground truth has a map.",
                             pd.DataFrame()))  # fmt: skip
    return html_page(title, sections)

"""chexpertnet localize: score a folder of CheXlocalize map pickles (ours, or any other model's) against a CheXlocalize
ground-truth file, as the benchmark scores them.

Every map given is scored, or the command says which are not and why: maps of images that are not in the ground
truth are an error naming them (exit status 2, nothing written) unless ``--allow-unmatched``, which scores the others
and names each one left out in the log (and counts them in the Markdown); a map with a NaN or infinite value, or two
files of one image and pathology, are an error naming the files."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ORDER = 135  # position in `chexpertnet --help`
HELP = (
    "score CheXlocalize saliency maps (<image id>_<pathology>_map.pkl, any model's) against gt_segmentations_*.json "
    "or gt_annotations_*.json as the benchmark does: mIoU (Otsu; a tuned threshold) and hit rate per pathology"
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--maps", required=True, help="folder of CheXlocalize map pickles (searched recursively)")
    p.add_argument("--truth", required=True, help="CheXlocalize's gt_segmentations_*.json or gt_annotations_*.json")
    p.add_argument("--thresholds", help="per-pathology thresholds tuned on the validation set: a chexlocalize.csv "
                   "(pathology, threshold_tuned) or CheXlocalize's tuning_results.csv (threshold, task); default: "
                   "tuned on these maps (optimistic on a set that is then also reported)")  # fmt: skip
    p.add_argument("--split", default="valid", choices=("valid", "test"), help="which split the maps are of (text)")
    p.add_argument("--resamples", type=int, default=1000, help="bootstrap replicates over images (CheXlocalize: 1000)")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (CheXlocalize: 0)")
    p.add_argument("--allow-unmatched", action="store_true", help="score the maps of the ground truth's images and "
                   "leave out the others (each named in the log); default: maps of images not in --truth are an error")
    p.add_argument("--out", required=True, help="CSV: one row per pathology")
    p.add_argument("--markdown", help="Markdown: the same table with its legend")


def run(args: argparse.Namespace) -> None:
    import pandas as pd

    from chexpertnet.fileio import write_csv, write_text
    from chexpertnet.localize import chexlocalize as L
    from chexpertnet.localize.chexlocalize_maps import iter_maps, match_truth, read_map
    from chexpertnet.localize.localization import (
        CHEXLOCALIZE_TITLE,
        chexlocalize_cells,
        chexlocalize_legend,
        chexlocalize_table,  # fmt: skip
    )
    from chexpertnet.markup import markdown

    try:
        with open(args.truth) as f:
            truth = json.load(f)
    except (OSError, json.JSONDecodeError) as exc:
        raise L.LocalizeError(f"{args.truth}: cannot be read as JSON ({exc}); give CheXlocalize's "
                              f"gt_segmentations_*.json or gt_annotations_*.json") from None  # fmt: skip
    found = list(iter_maps(args.maps))
    if not found:
        raise L.LocalizeError(f"{args.maps}: no *_map.pkl file (CheXlocalize's <image id>_<pathology>_map.pkl)")
    matched, unmatched = match_truth(found, truth)
    if not matched:
        raise L.LocalizeError(f"{args.maps}: none of its {len(found)} maps is of an image in {args.truth}; check "
                              f"that the maps and the ground truth are of the same split")  # fmt: skip
    if unmatched and not args.allow_unmatched:
        raise L.LocalizeError(f"{args.maps}: {len(unmatched)} of its {len(found)} maps are of images not in "
                              f"{args.truth}, so they would not be scored: {named(unmatched)}. Give the ground truth "
                              f"of the maps' split, or --allow-unmatched to score the others and list these in the "
                              f"log")  # fmt: skip
    for item in unmatched:
        print(json.dumps({"event": "not_scored", **item}), file=sys.stderr)
    given = None
    if args.thresholds:
        given = L.thresholds_from_table(pd.read_csv(args.thresholds), args.thresholds)

    def maps():
        for image_id, pathology, path in matched:
            item = read_map(path)
            full = L.truth_size(truth[image_id], image_id)
            if tuple(item["cxr_dims"]) != (full[1], full[0]):
                raise L.LocalizeError(f"{path}: cxr_dims {item['cxr_dims']} (width, height) is not the size of "
                                      f"its ground truth ({full[1]}, {full[0]})")  # fmt: skip
            yield image_id, pathology, item["map"]

    rows, used, records = L.evaluate(maps(), truth, given, args.resamples, args.seed)
    table = chexlocalize_table(rows)
    write_csv(args.out, table, float_format="%.4f")
    if args.markdown:
        legend = chexlocalize_legend("the maps given,", given is None, args.split)
        left_out = (f" {len(unmatched)} of the {len(found)} maps given were not scored: their images are not in the "
                    "ground truth (--allow-unmatched; each is named in the log)." if unmatched else "")  # fmt: skip
        write_text(args.markdown, f"# {CHEXLOCALIZE_TITLE}\n\n" + markdown(chexlocalize_cells(table)) + "\n" + legend
                   + left_out + "\n")  # fmt: skip
    print(json.dumps({"maps": len(found), "scored": len(records), "not_scored": len(unmatched),
                      "not_scored_files": [item["file"] for item in unmatched], "thresholds": used}),
          file=sys.stderr)  # fmt: skip


def named(items: list[dict], limit: int = 10) -> str:
    """The first ``limit`` files (their names) and why, and how many more."""
    shown = [f"{Path(item['file']).name} ({item['reason']})" for item in items[:limit]]
    more = f" and {len(items) - limit} more" if len(items) > limit else ""
    return ", ".join(shown) + more

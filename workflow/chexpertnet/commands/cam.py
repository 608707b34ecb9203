"""chexpertnet cam: class activation maps of one model: the paper's Figure 1 and, where true boxes are known (the
phantom's phantom_truth.csv, or a user's file), how well the maps localize each finding."""

from __future__ import annotations

import argparse
import json
import sys

ORDER = 130  # position in `chexpertnet --help`
HELP = "class activation maps: Figure 1 (correctly classified examples) and a localization table against true boxes"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, help="checkpoint written by chexpertnet train")
    p.add_argument("--manifest", required=True, help="the experiment's valid manifest")
    p.add_argument("--cache", nargs=2, required=True, metavar=("NPY", "INDEX"), help="the valid image cache")
    p.add_argument("--predictions", required=True, help="the model's predictions CSV (predict step)")
    p.add_argument("--labels", required=True, help="valid.csv (0/1 labels)")
    p.add_argument("--data-root", required=True, help="folder that contains CheXpert-v1.0-small/ (image sizes)")
    p.add_argument(
        "--boxes", help="CSV of true regions: Path, observation and either x0, y0, x1, y1 (a box in pixels of the "
        "original image) or mask (a PNG the size of the image, nonzero inside; relative to the CSV's folder), an "
        "optional 'visible' column 0/1; e.g. the phantom's phantom_truth.csv",
    )  # fmt: skip
    p.add_argument("--chexlocalize", help="CheXlocalize ground truth: gt_segmentations_*.json (COCO RLE) or "
                   "gt_annotations_*.json (polygons), full-resolution coordinates; scored as the benchmark scores it")
    p.add_argument("--chexlocalize-split", default="valid", choices=("valid", "test"),
                   help="the split the CheXlocalize image ids belong to")
    p.add_argument("--chexlocalize-table", help="CSV: CheXlocalize's metrics per pathology (written, with a header "
                   "only, also when --chexlocalize is not given)")
    p.add_argument("--chexlocalize-thresholds", help="per-pathology thresholds tuned elsewhere (the validation set's "
                   "chexlocalize.csv, or CheXlocalize's tuning_results.csv); default: tuned on these images")
    p.add_argument("--saliency", default="cam", choices=("cam", "gradcam"), help="the map scored by CheXlocalize's "
                   "metrics: the CAM (the paper's) or gradcam, the CAM without its negative part (Grad-CAM on the "
                   "pooled features)")
    p.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples over images (CheXlocalize: 1000)")
    p.add_argument("--observations", nargs="+", required=True, help="Figure 1's observations (No Finding is added)")
    p.add_argument("--per-observation", type=int, default=1, help="Figure 1 examples per observation")
    p.add_argument("--seed", type=int, default=0, help="seed of Figure 1's random choice among correct examples")
    p.add_argument("--tolerance", type=float, default=8.0, help="pixels (model input) for the tolerant hit")
    p.add_argument("--threshold", type=float, default=0.5, help="CAM share of its range kept for the IoU")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--title", default="", help="figure title")
    p.add_argument("--figure", required=True, help="PNG: Figure 1")
    p.add_argument("--table", required=True, help="CSV: localization per observation and overall")
    p.add_argument("--markdown", required=True, help="Markdown: the localization table with its legend")
    p.add_argument("--html", required=True, help="HTML: the same, for the report")


def run(args: argparse.Namespace) -> None:
    import pandas as pd
    import torch

    from chexpertnet.data.chexpert import read_csv
    from chexpertnet.errors import DataError
    from chexpertnet.fileio import write_csv, write_text
    from chexpertnet.localize import cam as C
    from chexpertnet.localize import pointing_game as G
    from chexpertnet.localize.cam_figure import cam_figure
    from chexpertnet.localize.localization import (
        chexlocalize_table,
        localization_html,
        localization_markdown,
        summarize,
    )
    from chexpertnet.localize.model_maps import CachedModel
    from chexpertnet.observations import OBSERVATIONS
    from chexpertnet.plotting import save_figure

    torch.set_num_threads(max(1, args.threads))
    unknown = sorted(set(args.observations) - set(OBSERVATIONS))
    if unknown:
        raise DataError(f"--observations: {unknown} are not CheXpert observations; choose from {list(OBSERVATIONS)}")
    cached = CachedModel.load(args.model, args.manifest, *args.cache)  # maps in fp32, in the layout it trained in
    predictions = pd.read_csv(args.predictions, dtype={"Path": str}).set_index("Path")
    long = G.long_table(cached.paths, read_csv(args.labels).set_index("Path"), predictions)
    boxes = G.read_boxes(args.boxes, cached.rows) if args.boxes else None
    size_of = G.ImageSizes(args.data_root)

    # Figure 1: seeded random correctly classified frontal examples, No Finding among them (as the paper)
    wanted = list(dict.fromkeys([*args.observations[:1], "No Finding", *args.observations[1:]]))
    examples = [r for part in C.select_examples(long[long["frontal"]], wanted, args.seed, args.per_observation)
                for _, r in part.iterrows()]  # fmt: skip
    shown = {p: (image.numpy(), m) for part, images, maps in cached.cams([r["Path"] for r in examples])
             for p, image, m in zip(part, images, maps, strict=True)}  # fmt: skip
    resized = cached.array.shape[1]
    panels = [{"image": shown[r["Path"]][0], "cam": shown[r["Path"]][1][OBSERVATIONS.index(r["observation"])].numpy(),
               "observation": r["observation"], "path": r["Path"], "probability": float(r["probability"]),
               "label": int(r["label"]),
               "box": G.figure_box(boxes, r["Path"], r["observation"], size_of, resized, cached.crop)}
              for r in examples]  # fmt: skip
    figure = cam_figure(panels, args.title or "Class activation maps of correctly classified validation images")

    # The pointing game: every true-positive image whose finding has a true region
    records = (G.true_positive_records(long, boxes, args.boxes, cached, size_of, args.tolerance, args.threshold)
               if boxes is not None and len(boxes) else pd.DataFrame(columns=G.RECORD_COLUMNS))  # fmt: skip
    table = summarize(records)

    # CheXlocalize, as the benchmark scores it: every image of its ground truth, maps of the whole image
    chexlocalize_rows, tuned_here = None, True
    if args.chexlocalize:
        from chexpertnet.localize.chexlocalize_images import score_model

        chexlocalize_rows, tuned_here = score_model(
            cached, args.chexlocalize, args.chexlocalize_split, args.manifest, args.chexlocalize_thresholds,
            args.saliency, args.resamples,
        )
    crop = cached.crop
    feature = tuple(cached.model.feature_maps(torch.zeros(1, crop, crop, dtype=torch.uint8)).shape[2:])
    save_figure(figure, args.figure)
    write_csv(args.table, table, float_format="%.4f")
    chexlocalize = chexlocalize_table(chexlocalize_rows or [])  # an interval over < 10 images: both bounds empty
    if args.chexlocalize_table:
        write_csv(args.chexlocalize_table, chexlocalize, float_format="%.4f")
    legend_args = (table, crop, feature, args.tolerance, args.threshold, boxes is not None)
    extra = chexlocalize if chexlocalize_rows is not None else None
    legend = {"chexlocalize": extra, "saliency": args.saliency, "tuned_here": tuned_here,
              "split": args.chexlocalize_split}  # fmt: skip
    write_text(args.markdown, localization_markdown(*legend_args, **legend))
    write_text(args.html, localization_html(*legend_args, **legend))
    overall = table.set_index("observation").loc["overall"].to_dict() if len(table) else {}
    print(json.dumps({"examples": len(panels), "localized": len(records), "overall": overall,
                      "chexlocalize": chexlocalize_rows or []}, default=float), file=sys.stderr)  # fmt: skip

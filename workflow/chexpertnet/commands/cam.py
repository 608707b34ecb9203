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
    p.add_argument("--maps-out", help="folder: write every scored map as CheXlocalize's <image id>_<pathology>_map.pkl")
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
    import os

    import numpy as np
    import pandas as pd
    import torch
    from PIL import Image

    from chexpertnet.data.cache import open_cache, rows_for
    from chexpertnet.data.chexpert import read_csv
    from chexpertnet.data.images import image_size
    from chexpertnet.errors import DataError
    from chexpertnet.fileio import write_csv, write_text
    from chexpertnet.localize import cam as C
    from chexpertnet.localize.cam_figure import cam_figure
    from chexpertnet.localize.localization import (
        chexlocalize_table,
        localization_html,
        localization_markdown,
        summarize,
    )
    from chexpertnet.observations import OBSERVATIONS
    from chexpertnet.plotting import save_figure
    from chexpertnet.train.augment import center_crop
    from chexpertnet.train.checkpoint import load_model
    from chexpertnet.train.numerics import use_channels_last

    torch.set_num_threads(max(1, args.threads))
    unknown = sorted(set(args.observations) - set(OBSERVATIONS))
    if unknown:
        raise DataError(f"--observations: {unknown} are not CheXpert observations; choose from {list(OBSERVATIONS)}")
    model, checkpoint = load_model(args.model)
    crop = checkpoint["config"]["crop_size"]
    if use_channels_last("cpu", checkpoint["config"].get("fast", True)):  # the layout it trained in; maps in fp32
        model.to_channels_last()
    manifest = pd.read_csv(args.manifest, dtype={"Path": str}, keep_default_na=False)
    array, lookup, check = open_cache(*args.cache)
    paths = manifest["Path"].tolist()
    rows = dict(zip(paths, rows_for(paths, lookup, args.manifest), strict=True))
    check(np.fromiter(rows.values(), dtype=np.int64))  # the rows as the cache step wrote them
    predictions = pd.read_csv(args.predictions, dtype={"Path": str}).set_index("Path")
    labels = read_csv(args.labels).set_index("Path")
    labels[list(OBSERVATIONS)] = labels[list(OBSERVATIONS)].apply(pd.to_numeric, errors="coerce")
    long = []
    for o in OBSERVATIONS:
        long.append(pd.DataFrame({"Path": paths, "observation": o, "label": labels.loc[paths, o].to_numpy(),
                                  "probability": predictions.loc[paths, o].to_numpy()}))  # fmt: skip
    long = pd.concat(long, ignore_index=True)
    long["frontal"] = long["Path"].str.contains("frontal")

    def cams_for(selected: list[str]) -> dict[str, torch.Tensor]:
        out = {}
        for start in range(0, len(selected), 32):
            chunk = selected[start : start + 32]
            images = center_crop(torch.from_numpy(np.stack([array[rows[p]] for p in chunk])), crop)
            maps, _ = C.model_cams(model, images)
            out.update({p: (img.numpy(), m) for p, img, m in zip(chunk, images, maps, strict=True)})
        return out

    # Figure 1: seeded random correctly classified frontal examples, No Finding among them (as the paper)
    wanted = list(dict.fromkeys([*args.observations[:1], "No Finding", *args.observations[1:]]))
    chosen = C.select_examples(long[long["frontal"]], wanted, args.seed, args.per_observation)
    boxes = None
    if args.boxes:
        boxes = pd.read_csv(args.boxes, dtype={"Path": str, "mask": str})
        has_box = {"x0", "y0", "x1", "y1"} <= set(boxes.columns)
        missing = sorted({"Path", "observation"} - set(boxes.columns))
        if missing or not (has_box or "mask" in boxes.columns):
            raise DataError(f"{args.boxes}: columns {missing or ['x0', 'y0', 'x1', 'y1', 'or mask']} are missing; "
                            f"give Path, observation and x0, y0, x1, y1 (a box) or mask (a PNG)")  # fmt: skip
        for column in ("x0", "y0", "x1", "y1", "mask"):
            if column not in boxes.columns:
                boxes[column] = np.nan
        if "visible" in boxes.columns:
            boxes = boxes[boxes["visible"] == 1]
        boxes = boxes[boxes[["x0", "y0", "x1", "y1"]].notna().all(axis=1) | boxes["mask"].notna()]
        boxes = boxes[boxes["Path"].isin(rows)]
    sizes: dict[str, tuple[int, int]] = {}

    def size_of(path: str) -> tuple[int, int]:
        if path not in sizes:
            sizes[path] = image_size(os.path.join(args.data_root, path))
        return sizes[path]

    def box_of(path: str, observation: str):
        if boxes is None:
            return None
        match = boxes[(boxes["Path"] == path) & (boxes["observation"] == observation)]
        if match.empty:
            return None
        b = match.iloc[0]
        if pd.isna(b["x0"]):
            return None  # a mask: not drawn
        return C.map_box((b["x0"], b["y0"], b["x1"], b["y1"]), size_of(path), array.shape[1], crop)

    examples = [r for part in chosen for _, r in part.iterrows()]
    maps = cams_for([r["Path"] for r in examples])
    panels = []
    for r in examples:
        image, m = maps[r["Path"]]
        j = OBSERVATIONS.index(r["observation"])
        panels.append({"image": image, "cam": m[j].numpy(), "observation": r["observation"], "path": r["Path"],
                       "probability": float(r["probability"]), "label": int(r["label"]),
                       "box": box_of(r["Path"], r["observation"])})  # fmt: skip
    figure = cam_figure(panels, args.title or "Class activation maps of correctly classified validation images")

    # Localization: every true-positive image whose finding has a true box
    records = []
    if boxes is not None and len(boxes):
        tp = long[(long["label"] == 1) & (long["probability"] >= 0.5)]
        tp = tp.merge(boxes[["Path", "observation", "x0", "y0", "x1", "y1", "mask"]], on=["Path", "observation"])
        tp = tp.sort_values(["observation", "Path"], kind="mergesort")
        tp_maps = cams_for(sorted(set(tp["Path"])))
        for _, r in tp.iterrows():
            cam = tp_maps[r["Path"]][1][OBSERVATIONS.index(r["observation"])].numpy()
            if isinstance(r["mask"], str) and r["mask"]:
                mask_file = os.path.join(os.path.dirname(os.path.abspath(args.boxes)), r["mask"])
                try:
                    with Image.open(mask_file) as img:
                        mask = np.asarray(img.convert("L")) > 0
                except OSError as e:
                    raise DataError(f"{args.boxes}: the mask of {r['Path']} ({r['observation']}) cannot be read: "
                                    f"{e}; give a PNG the size of the image") from None  # fmt: skip
                if mask.shape[::-1] != size_of(r["Path"]):
                    raise DataError(f"{mask_file}: {mask.shape[1]}x{mask.shape[0]} px, but {r['Path']} is "
                                    f"{size_of(r['Path'])[0]}x{size_of(r['Path'])[1]}; give a mask the size of "
                                    f"the image")  # fmt: skip
                region = C.map_mask(mask, array.shape[1], crop)
                if not region.any():
                    continue
                result = C.localize_mask(cam, region, args.tolerance, args.threshold)
            else:
                box = C.map_box((r["x0"], r["y0"], r["x1"], r["y1"]), size_of(r["Path"]), array.shape[1], crop)
                if box is None:
                    continue
                result = C.localize(cam, box, (crop, crop), args.tolerance, args.threshold)
            records.append({"Path": r["Path"], "observation": r["observation"], **result.__dict__})
    table = summarize(pd.DataFrame(records, columns=["Path", "observation", "hit", "tolerant_hit", "reachable",
                                                     "iou", "chance", "pixel_share"]))  # fmt: skip

    # CheXlocalize, as the benchmark scores it: every image of its ground truth, maps of the whole image
    chexlocalize_rows, tuned_here = None, True
    if args.chexlocalize:
        from chexpertnet.localize import chexlocalize as L
        from chexpertnet.localize.chexlocalize_maps import write_map

        try:
            with open(args.chexlocalize) as f:
                truth = json.load(f)
        except (OSError, json.JSONDecodeError) as exc:
            raise DataError(f"{args.chexlocalize}: cannot be read as JSON ({exc}); give CheXlocalize's "
                            f"gt_segmentations_*.json or gt_annotations_*.json") from None  # fmt: skip
        folder = paths[0].split("/")[0]
        path_of = {i: L.image_path(i, args.chexlocalize_split, folder) for i in truth}
        mapped = sorted(i for i, p in path_of.items() if p in rows)
        if not mapped:
            raise DataError(f"{args.chexlocalize}: none of its {len(truth)} images is in {args.manifest} (as "
                            f"{args.chexlocalize_split} images under {folder}/); check --chexlocalize-split and that "
                            f"the file belongs to this dataset")  # fmt: skip
        given = (L.thresholds_from_table(pd.read_csv(args.chexlocalize_thresholds), args.chexlocalize_thresholds)
                 if args.chexlocalize_thresholds else None)  # fmt: skip
        tuned_here = given is None
        columns = {pathology: OBSERVATIONS.index(o) for pathology, o in L.PATHOLOGIES.items()}
        if args.maps_out:
            os.makedirs(args.maps_out, exist_ok=True)
        scored_maps = []
        for start in range(0, len(mapped), 16):
            chunk = mapped[start : start + 16]
            images = torch.from_numpy(np.stack([array[rows[path_of[i]]] for i in chunk]))  # the whole image
            cams, _ = C.model_cams(model, images)
            for image_id, image, cam in zip(chunk, images.numpy(), cams.numpy(), strict=True):
                for pathology, j in columns.items():
                    saliency = L.saliency(cam[j], args.saliency)
                    scored_maps.append((image_id, pathology, saliency))
                    if args.maps_out:
                        path, observation = path_of[image_id], L.PATHOLOGIES[pathology]
                        label = labels.loc[path, observation]
                        h, w = L.truth_size(truth[image_id], image_id)
                        write_map(args.maps_out, image_id, pathology, saliency, predictions.loc[path, observation],
                                  0 if pd.isna(label) else int(label), image, (w, h))  # fmt: skip
        chexlocalize_rows, _, _ = L.evaluate(scored_maps, truth, given, args.resamples, 0)
    feature = tuple(model.feature_maps(torch.zeros(1, crop, crop, dtype=torch.uint8)).shape[2:])
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

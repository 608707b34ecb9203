"""chexpertnet truth: a CheXlocalize ground-truth file as the workflow's truth table (for `cam.boxes`)."""

from __future__ import annotations

import argparse
import json
import sys

ORDER = 95  # position in `chexpertnet --help`
HELP = (
    "convert a CheXlocalize ground-truth file (gt_segmentations_*.json with COCO RLE, or gt_annotations_*.json with "
    "polygons; full-resolution coordinates) into a truth table: Path, observation, mask (a PNG the size of the "
    "dataset's image), usable as cam.boxes"
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--chexlocalize", required=True, help="gt_segmentations_{val,test}.json or gt_annotations_*.json")
    p.add_argument("--split", required=True, choices=("valid", "test"), help="the split the image ids belong to")
    p.add_argument("--root", required=True, help="the folder that contains the dataset folder (as dataset.root)")
    p.add_argument("--folder", default="CheXpert-v1.0-small", help="the dataset folder under --root")
    p.add_argument("--out", required=True, help="the truth CSV; its masks go to <out without .csv>_masks/")


def run(args: argparse.Namespace) -> None:
    import os
    import shutil
    import tempfile
    from pathlib import Path

    import numpy as np
    import pandas as pd
    from PIL import Image

    from chexpertnet.errors import DataError
    from chexpertnet.fileio import write_csv
    from chexpertnet.localize import chexlocalize as L

    source = Path(args.chexlocalize)
    try:
        data = json.loads(source.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(f"{source}: cannot be read as JSON ({exc})") from None
    out = Path(args.out)
    masks_dir = out.with_name(out.stem + "_masks")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{masks_dir.name}.", dir=out.parent))
    rows, counts = [], {"images": 0, "masks": 0, "empty": 0}
    try:
        for image_id, entry in sorted(data.items()):
            path = L.image_path(image_id, args.split, args.folder)
            file = Path(args.root) / path
            if not file.is_file():
                raise DataError(f"{source}: image id {image_id} has no image: {file} does not exist; check --root, "
                                f"--split and --folder")  # fmt: skip
            with Image.open(file) as img:
                width, height = img.size
            counts["images"] += 1
            polygons = "img_size" in entry
            for pathology, value in entry.items():
                if pathology == "img_size":
                    continue
                observation = L.observation_of(pathology, image_id)
                full = L.rasterize(value, entry["img_size"]) if polygons else L.decode_rle(value, image_id)
                mask = L.map_to_image(full, (height, width), image_id)
                if not mask.any():
                    counts["empty"] += 1
                    continue
                name = f"{image_id}_{observation.replace(' ', '_')}.png"
                Image.fromarray(mask.astype(np.uint8) * 255).save(staging / name)
                rows.append({"Path": path, "observation": observation, "mask": f"{masks_dir.name}/{name}"})
                counts["masks"] += 1
        if masks_dir.exists():
            shutil.rmtree(masks_dir)
        os.replace(staging, masks_dir)
        write_csv(out, pd.DataFrame(rows, columns=["Path", "observation", "mask"]))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    print(json.dumps({"truth": str(out), **counts}), file=sys.stderr)

"""chexpertnet chexlocalize-maps: a model's saliency maps of the images of a CheXlocalize ground truth, written as
CheXlocalize's own pickles (``<image id>_<pathology>_map.pkl``), for its scripts or `chexpertnet localize`.

The maps are those the CAM step scores (the whole image's CAM, or gradcam); the folder appears complete or not at
all (written beside it, then renamed)."""

from __future__ import annotations

import argparse
import json
import sys

ORDER = 132  # position in `chexpertnet --help`: after the CAMs
HELP = "write a model's saliency maps of CheXlocalize's images as CheXlocalize's pickles (<id>_<pathology>_map.pkl)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, help="checkpoint written by chexpertnet train")
    p.add_argument("--manifest", required=True, help="the experiment's manifest of the split")
    p.add_argument("--cache", nargs=2, required=True, metavar=("NPY", "INDEX"), help="the split's image cache")
    p.add_argument("--predictions", required=True, help="the model's predictions CSV of the split (each map's prob)")
    p.add_argument("--labels", required=True, help="the split's CSV (each map's gt: 0/1 labels)")
    p.add_argument("--chexlocalize", required=True, help="CheXlocalize ground truth: gt_segmentations_*.json or "
                   "gt_annotations_*.json (its images are the maps'; cxr_dims from its sizes)")  # fmt: skip
    p.add_argument("--chexlocalize-split", default="valid", choices=("valid", "test"))
    p.add_argument("--saliency", default="cam", choices=("cam", "gradcam"))
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", required=True, help="folder of the maps (created; replaced as a whole if it exists)")


def run(args: argparse.Namespace) -> None:
    import os
    import shutil
    import tempfile
    from pathlib import Path

    import pandas as pd
    import torch

    from chexpertnet.data.chexpert import read_csv
    from chexpertnet.localize.chexlocalize import truth_size
    from chexpertnet.localize.chexlocalize_ids import PATHOLOGIES
    from chexpertnet.localize.chexlocalize_images import images_of_truth, read_truth, saliency_maps
    from chexpertnet.localize.chexlocalize_maps import write_map
    from chexpertnet.localize.model_maps import CachedModel

    torch.set_num_threads(max(1, args.threads))
    truth = read_truth(args.chexlocalize)
    cached = CachedModel.load(args.model, args.manifest, *args.cache)
    mapped = images_of_truth(truth, args.chexlocalize_split, cached.rows, args.chexlocalize, args.manifest)
    predictions = pd.read_csv(args.predictions, dtype={"Path": str}).set_index("Path")
    labels = read_csv(args.labels).set_index("Path")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with tempfile.TemporaryDirectory(prefix=f".{out.name}.", dir=out.parent) as tmp:
        for image_id, pathology, saliency, image in saliency_maps(cached, mapped, args.saliency):
            path, observation = mapped[image_id], PATHOLOGIES[pathology]
            label = pd.to_numeric(labels.loc[path, observation], errors="coerce")
            h, w = truth_size(truth[image_id], image_id)
            write_map(tmp, image_id, pathology, saliency, predictions.loc[path, observation],
                      0 if pd.isna(label) else int(label), image, (w, h))  # fmt: skip
            written += 1
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o777 & ~umask)  # as a folder made by mkdir, not TemporaryDirectory's 0700
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
        os.mkdir(tmp)  # for TemporaryDirectory's cleanup
    print(json.dumps({"images": len(mapped), "maps": written, "out": str(out)}), file=sys.stderr)

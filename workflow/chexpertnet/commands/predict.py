"""chexpertnet predict: a model and images in, P(positive) per image and observation out.

Two inputs: a manifest and its cache (as the workflow's `predict-cache` step), or ``--images`` (any folders or
files of JPEG/PNG chest X-rays, no labels): each image preprocessed as the model was trained (8-bit grayscale,
resized to the model's cache size, centre crop, the model's normalization), optionally with its class activation
map for chosen observations.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ORDER = 137  # position in `chexpertnet --help`: a user's tool (it draws CAMs), after the workflow's steps
HELP = "P(positive) per image and observation: for a manifest's images, or for any folder of chest X-rays"
EPILOG = """examples:
  chexpertnet predict --images xrays/ --model results/phantom/models/baseline/seed0/model.pt --out p.csv
  chexpertnet predict --images a.jpg b.png --results results/phantom --experiment baseline --seed 0 \\
      --cam "Pleural Effusion" Cardiomegaly --cam-out cams/ --out p.csv

With --images, a file that cannot be read as an image is named in the error (exit status 2) and left out; every
other image is still predicted and written to --out."""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.epilog, p.formatter_class = EPILOG, argparse.RawDescriptionHelpFormatter
    model = p.add_argument_group("the model (one of)")
    model.add_argument("--model", help="a checkpoint written by chexpertnet train (model.pt)")
    model.add_argument("--experiment", help="with --seed: that run's model in --results")
    model.add_argument("--seed", type=int)
    model.add_argument("--results", default="results/phantom", help="a run's results folder (default: %(default)s)")
    source = p.add_argument_group("the images (one of)")
    source.add_argument("--images", nargs="+", metavar="DIR|FILE", help="folders (searched recursively for .jpg, "
                        ".jpeg, .png) and image files; no labels needed")  # fmt: skip
    source.add_argument("--manifest", help="a manifest CSV of the workflow, with --cache")
    source.add_argument("--cache", nargs=2, metavar=("NPY", "INDEX"))
    p.add_argument("--resize", type=int, help="--images: the side images are resized to (default: the model's, "
                   "stored in model.pt)")  # fmt: skip
    p.add_argument("--cam", nargs="+", default=[], metavar="OBSERVATION",
                   help="--images: also write each image's class activation map for these observations")
    p.add_argument("--cam-out", help="folder of the CAM overlays (PNG), with --cam")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", required=True, help="CSV: Path (with --manifest also patient, study, view) and the 14 "
                   "observations' P(positive)")  # fmt: skip


def model_file(args: argparse.Namespace) -> str:
    from chexpertnet.errors import DataError

    if args.model and args.experiment is None:
        return args.model
    if args.experiment is not None and args.seed is not None and not args.model:
        file = Path(args.results) / "models" / args.experiment / f"seed{args.seed}" / "model.pt"
        if not file.exists():
            raise DataError(f"{file} not found: run the workflow for experiment {args.experiment!r} seed {args.seed} "
                            f"first, or give --model")  # fmt: skip
        return str(file)
    raise DataError("give the model as --model FILE, or as --experiment NAME --seed N [--results FOLDER]")


def run(args: argparse.Namespace) -> None:
    import torch

    from chexpertnet.errors import DataError
    from chexpertnet.train.checkpoint import load_model
    from chexpertnet.train.gpuslots import claim_for_job

    if (args.images is None) == (args.manifest is None) or (args.manifest is None) != (args.cache is None):
        raise DataError("give either --images, or --manifest with --cache")
    if args.cam and (args.images is None or not args.cam_out):
        raise DataError("--cam needs --images and --cam-out FOLDER")
    claim_for_job(args.device, log=lambda record: print(json.dumps(record), file=sys.stderr))  # before CUDA
    torch.set_num_threads(max(1, args.threads))
    file = model_file(args)
    model, checkpoint = load_model(file)
    if args.images is not None:
        predict_images(args, model, checkpoint, file)
    else:
        from chexpertnet.commands.predict_cache import predict_manifest

        predict_manifest(args, model, checkpoint, file)


def predict_images(args: argparse.Namespace, model, checkpoint: dict, file: str) -> None:
    import numpy as np
    import pandas as pd

    from chexpertnet.errors import DataError
    from chexpertnet.fileio import write_csv
    from chexpertnet.observations import OBSERVATIONS
    from chexpertnet.train.predict import find_images, load_images, predict_probabilities

    unknown = [o for o in args.cam if o not in OBSERVATIONS]
    if unknown:
        raise DataError(f"--cam: {unknown} are not CheXpert observations; choose from {list(OBSERVATIONS)}")
    config = checkpoint["config"]
    size = args.resize or checkpoint.get("image_size")
    if size is None:
        raise DataError(f"{file} does not say which size its images were resized to (a model from an older "
                        f"version): give --resize (the run's image.cache_size)")  # fmt: skip
    files = find_images(args.images)
    images, read, failed = load_images(files, int(size))
    probabilities = predict_probabilities(model, images, np.arange(len(images)), config["crop_size"], args.batch_size,
                                          args.device, config["fast"])  # fmt: skip
    out = pd.DataFrame({"Path": [str(f) for f in read]})
    out[list(OBSERVATIONS)] = probabilities
    write_csv(args.out, out, float_format="%.8f")
    if args.cam and len(images):
        write_cams(model, images, read, args.cam, config["crop_size"], Path(args.cam_out))
    print(json.dumps({"images": len(read), "unreadable": len(failed), "model": file, "resize": int(size),
                      "crop": config["crop_size"], "out": args.out}), file=sys.stderr)  # fmt: skip
    if failed:
        listed = "; ".join(f"{f} ({why})" for f, why in failed)
        raise DataError(f"{len(failed)} file(s) could not be read as images and were left out of {args.out} (the "
                        f"other {len(read)} were predicted): {listed}")  # fmt: skip


def write_cams(model, images, files: list[Path], observations: list[str], crop: int, folder: Path) -> None:
    """One PNG per image and observation: the centre crop the model saw with its CAM over it."""
    import numpy as np
    import torch
    from PIL import Image

    from chexpertnet.fileio import atomic_path
    from chexpertnet.localize.cam import model_cams, overlay
    from chexpertnet.observations import OBSERVATIONS
    from chexpertnet.train.augment import center_crop

    model = model.cpu().eval()
    folder.mkdir(parents=True, exist_ok=True)
    for start in range(0, len(images), 16):
        batch = center_crop(torch.from_numpy(images[start : start + 16]), crop)
        cams, _ = model_cams(model, batch)
        for file, image, cam in zip(files[start : start + 16], batch.numpy(), cams.numpy(), strict=True):
            stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", str(file.with_suffix("")).strip("/"))
            for observation in observations:
                picture = overlay(image, cam[OBSERVATIONS.index(observation)])
                name = f"{stem}__{observation.replace(' ', '_')}.png"
                with atomic_path(folder / name) as tmp:
                    Image.fromarray((np.clip(picture, 0, 1) * 255).astype(np.uint8)).save(tmp, format="PNG")

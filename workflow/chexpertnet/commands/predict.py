"""chexpertnet predict: a model and images in, P(positive) per image and observation out.

Two inputs: a manifest and its cache (as the workflow's `predict-cache` step), or ``--images`` (any folders or
files of chest X-rays: JPEG, PNG of any bit depth, DICOM; no labels): each image preprocessed as the model was trained
(8-bit grayscale by the rule of chexpertnet.data.images, resized to the model's cache size, centre crop, the model's
normalization), optionally with its class activation map for chosen observations.
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
  chexpertnet predict --images a.jpg b.png c.dcm --results results/phantom --experiment baseline --seed 0 \\
      --cam "Pleural Effusion" Cardiomegaly --cam-out cams/ --out p.csv
  chexpertnet predict --images mine/CheXpert-v1.0-small/valid --root mine --model model.pt --out p.csv
  chexpertnet score --predictions p.csv --labels mine/CheXpert-v1.0-small/valid.csv --out auc.csv

With --images, folders are searched for .jpg, .jpeg, .png and .dcm files (hidden files and folders, such as
.DS_Store, are ignored). A file that cannot be read as an image, and any other file (a .tif, a .txt), is named in
the error (exit status 2) and left out; every other image is still predicted and written to --out. When no file
can be read, nothing is written. Images deeper than 8 bits (16-bit PNG, DICOM) are mapped onto 0-255 without
clipping: see the README ("Using a trained model on new images").

--out (and --cam-out) may name a folder that does not exist yet if its parent does: that one folder is created,
never a longer path."""




def add_arguments(p: argparse.ArgumentParser) -> None:
    p.epilog, p.formatter_class = EPILOG, argparse.RawDescriptionHelpFormatter
    model = p.add_argument_group("the model (one of)")
    model.add_argument("--model", help="a checkpoint written by chexpertnet train (model.pt)")
    model.add_argument("--experiment", help="with --seed: that run's model in --results")
    model.add_argument("--seed", type=int)
    model.add_argument("--results", default="results/phantom", help="a run's results folder (default: %(default)s)")
    source = p.add_argument_group("the images (one of)")
    source.add_argument("--images", nargs="+", metavar="DIR|FILE", help="folders (searched recursively for .jpg, "
                        ".jpeg, .png and .dcm; hidden files ignored) and image files; no labels needed")  # fmt: skip
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
    p.add_argument("--root", metavar="DIR", help="--images: write each Path relative to DIR, in '/' form, as a "
                   "CheXpert CSV lists its images (so `chexpertnet score` can join your labels); every image must be "
                   "under DIR (default: the paths as given)")  # fmt: skip
    p.add_argument("--out", required=True, help="CSV: Path (with --manifest also patient, study, view) and the 14 "
                   "observations' P(positive)")  # fmt: skip


def model_file(args: argparse.Namespace) -> str:
    from chexpertnet.errors import DataError

    if args.model and args.experiment is None:
        return args.model
    if args.experiment is not None and args.seed is not None and not args.model:
        from chexpertnet.plan.layout import Layout

        file = Path(Layout(args.results).path("model", experiment=args.experiment, seed=args.seed))
        if not file.exists():
            raise DataError(f"{file} not found: run the workflow for experiment {args.experiment!r} seed {args.seed} "
                            f"first, or give --model")  # fmt: skip
        return str(file)
    raise DataError("give the model as --model FILE, or as --experiment NAME --seed N [--results FOLDER]")


def check_new_folder(folder: Path, flag: str, given: str) -> None:
    """An output folder may be missing only if its parent exists (predict creates that one folder, never a path
    tree, so a mistyped path fails here instead of growing folders); else a DataError before anything is done."""
    from chexpertnet.errors import DataError

    if folder.is_dir():
        return
    if folder.exists():
        raise DataError(f"{flag} {given}: {folder} is a file, not a folder; nothing was written")
    if not folder.parent.is_dir():
        raise DataError(f"{flag} {given}: neither {folder} nor {folder.parent} exists; predict creates at most one "
                        f"new folder: create {folder.parent} first, or check the path; nothing was "
                        f"written")  # fmt: skip


def trained_on(checkpoint: dict, file: str) -> dict | None:
    """The dataset a model was trained on: {"name", "source"} as `chexpertnet train` records it in model.pt; for a
    model.pt without the record, one in a phantom run's results folder (<results>/models/<experiment>/seed<N>/,
    with the phantom's truth table in <results>/data/) is the phantom's; else None (not known)."""
    if checkpoint.get("dataset"):
        return checkpoint["dataset"]
    from chexpertnet.plan.layout import Layout

    path = Path(file).resolve()
    if len(path.parents) > 3:
        layout = Layout(str(path.parents[3]))  # the results folder, if this is a run's model
        if layout.match("model", str(path)) and Path(layout.path("phantom_truth")).is_file():
            return {"name": path.parents[3].name, "source": "phantom"}
    return None


def warn_if_phantom(dataset: dict | None, file: str) -> None:
    if dataset and dataset.get("source") == "phantom":
        print(f"warning: {file} was trained on the phantom dataset {dataset.get('name')!r}, synthetic images drawn "
              f"by `chexpertnet phantom`: its probabilities mean something for the phantom's own images only, "
              f"nothing for real chest X-rays; use a model trained on CheXpert (config/chexpert.yaml) for "
              f"those", file=sys.stderr)  # fmt: skip


def run(args: argparse.Namespace) -> None:
    import torch

    from chexpertnet.errors import DataError
    from chexpertnet.train.checkpoint import load_model
    from chexpertnet.train.gpuslots import claim_for_job

    if (args.images is None) == (args.manifest is None) or (args.manifest is None) != (args.cache is None):
        raise DataError("give either --images, or --manifest with --cache")
    if args.cam and (args.images is None or not args.cam_out):
        raise DataError("--cam needs --images and --cam-out FOLDER")
    if args.root is not None and args.images is None:
        raise DataError("--root goes with --images (a manifest's paths are already relative to its dataset root)")
    check_new_folder(Path(args.out).parent, "--out", args.out)
    if Path(args.out).is_dir():
        raise DataError(f"--out {args.out} is a folder: give the CSV file to write, e.g. {Path(args.out) / 'p.csv'}")
    if args.cam_out:
        check_new_folder(Path(args.cam_out), "--cam-out", args.cam_out)
    claim_for_job(args.device, log=lambda record: print(json.dumps(record), file=sys.stderr))  # before CUDA
    torch.set_num_threads(max(1, args.threads))
    file = model_file(args)
    model, checkpoint = load_model(file)
    if args.images is not None:
        warn_if_phantom(trained_on(checkpoint, file), file)
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
    from chexpertnet.train.predict import find_images, load_images, predict_probabilities, relative_paths

    unknown = [o for o in args.cam if o not in OBSERVATIONS]
    if unknown:
        raise DataError(f"--cam: {unknown} are not CheXpert observations; choose from {list(OBSERVATIONS)}")
    config = checkpoint["config"]
    size = args.resize or checkpoint.get("image_size")
    if size is None:
        raise DataError(f"{file} does not say which size its images were resized to (a model from an older "
                        f"version): give --resize (the run's image.cache_size)")  # fmt: skip
    files, others = find_images(args.images)
    paths = dict(zip(files, relative_paths(files, args.root), strict=True))  # before any work: a wrong --root fails
    images, read, failed = load_images(files, int(size))
    if not read:
        raise DataError(f"none of the {len(files)} image file(s) could be read, so nothing was written to "
                        f"{args.out}: {left_out(failed, others)}")  # fmt: skip
    probabilities = predict_probabilities(model, images, np.arange(len(images)), config["crop_size"], args.batch_size,
                                          args.device, config["fast"])  # fmt: skip
    out = pd.DataFrame({"Path": [paths[f] for f in read]})
    out[list(OBSERVATIONS)] = probabilities
    write_csv(args.out, out, float_format="%.8f")
    if args.cam:
        write_cams(model, images, read, args.cam, config["crop_size"], Path(args.cam_out))
    print(json.dumps({"images": len(read), "unreadable": len(failed), "left_out": len(others), "model": file,
                      "trained_on": trained_on(checkpoint, file), "resize": int(size), "crop": config["crop_size"],
                      "root": args.root, "out": args.out}), file=sys.stderr)  # fmt: skip
    if failed or others:
        raise DataError(f"{len(failed) + len(others)} file(s) were left out of {args.out} (the other {len(read)} "
                        f"were predicted): {left_out(failed, others)}")  # fmt: skip


def left_out(failed: list, others: list) -> str:
    """The files not predicted, with the reason: those that could not be read as images, those of other kinds."""
    from chexpertnet.train.predict import KINDS, listing

    said = []
    if failed:
        said.append(f"{len(failed)} file(s) could not be read as images: "
                    f"{listing([f'{f} ({why})' for f, why in failed])}")  # fmt: skip
    if others:
        said.append(f"{len(others)} file(s) are not of a kind predict reads ({KINDS}): "
                    f"{listing([str(f) for f, _ in others])}")  # fmt: skip
    return ". ".join(said)


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
    folder.mkdir(exist_ok=True)  # its parent exists (check_new_folder)
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

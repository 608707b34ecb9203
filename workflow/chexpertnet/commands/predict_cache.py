"""chexpertnet predict-cache: a model and a manifest's images from the image cache in, a predictions CSV out (the
workflow's test-set prediction step; `chexpertnet predict` is the same for a user, and also takes image files)."""

from __future__ import annotations

import argparse
import json
import sys

ORDER = 85  # position in `chexpertnet --help`
HELP = "P(positive) per image and observation for a manifest's images, read from the image cache"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, help="checkpoint written by chexpertnet train")
    p.add_argument("--manifest", required=True)
    p.add_argument("--cache", nargs=2, required=True, metavar=("NPY", "INDEX"))
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", required=True, help="CSV: Path, patient, study, view and the 14 observations")


def run(args: argparse.Namespace) -> None:
    import torch

    from chexpertnet.train.checkpoint import load_model
    from chexpertnet.train.gpuslots import claim_for_job

    claim_for_job(args.device, log=lambda record: print(json.dumps(record), file=sys.stderr))  # before CUDA
    torch.set_num_threads(max(1, args.threads))
    model, checkpoint = load_model(args.model)
    predict_manifest(args, model, checkpoint, args.model)


def predict_manifest(args: argparse.Namespace, model, checkpoint: dict, file: str) -> None:
    import pandas as pd

    from chexpertnet.data.cache import open_cache, rows_for
    from chexpertnet.fileio import write_csv
    from chexpertnet.observations import OBSERVATIONS
    from chexpertnet.train.predict import predict_probabilities

    config = checkpoint["config"]
    manifest = pd.read_csv(args.manifest, dtype={"Path": str, "patient": str}, keep_default_na=False)
    array, lookup, check = open_cache(*args.cache)
    rows = rows_for(manifest["Path"].tolist(), lookup, args.manifest)
    check(rows)  # the rows as the cache step wrote them
    probabilities = predict_probabilities(model, array, rows, config["crop_size"], args.batch_size, args.device,
                                          config["fast"])  # fmt: skip
    out = manifest[["Path", "patient", "study", "view"]].copy()
    out[list(OBSERVATIONS)] = probabilities
    write_csv(args.out, out, float_format="%.8f")
    print(json.dumps({"images": len(out), "model": file}), file=sys.stderr)

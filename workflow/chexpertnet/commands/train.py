"""chexpertnet train: one experiment and seed, from the cache and the manifests."""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import sys
from pathlib import Path

ORDER = 80  # position in `chexpertnet --help`
HELP = "train DenseNet-121 for one experiment and seed (resumes an interrupted run of the same job from --state-dir)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--experiment", required=True)
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--train-manifest", required=True)
    p.add_argument("--train-weights", required=True, help="the train manifest's class-weight table")
    p.add_argument("--valid-manifest", required=True)
    p.add_argument("--train-cache", nargs=2, required=True, metavar=("NPY", "INDEX"))
    p.add_argument("--valid-cache", nargs=2, required=True, metavar=("NPY", "INDEX"))
    p.add_argument("--init", choices=("pretrained", "scratch", "frozen"), required=True,
                   help="frozen: the pretrained backbone frozen (batch-norm statistics too), only the head trained")
    p.add_argument("--pretrained",
                   help="backbone state dict (torchvision DenseNet-121 keys), for --init pretrained or frozen")
    p.add_argument("--normalization", choices=("imagenet", "dataset"), required=True)
    p.add_argument("--stats", help="dataset statistics JSON, for --normalization dataset")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--betas", type=float, nargs=2, default=(0.9, 0.999))
    p.add_argument("--crop-size", type=int, required=True)
    p.add_argument("--hflip", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--device", default="cpu")
    p.add_argument("--fast", action=argparse.BooleanOptionalAction, default=True, help="bf16 autocast, channels_last")
    p.add_argument("--deterministic", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--compile", choices=("off", "default", "reduce-overhead"), default="off",
                   help="torch.compile the training forward/backward (reduce-overhead: with CUDA graphs)")
    p.add_argument("--compile-cache", metavar="DIR",
                   help="with --compile: Inductor's cache folder, shared by the run's trainings (the first of a "
                        "configuration compiles, the later ones load its kernels)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--log-every", type=int, default=20)
    p.add_argument("--checkpoint-every", type=int, default=100)
    p.add_argument("--stage-cache", type=int, choices=(0, 1), default=0,
                   help="1: copy the image caches to --scratch (node-local disk) and read them from there")
    p.add_argument("--scratch", help="node-local folder for --stage-cache 1 (default: $TMPDIR, else the system's)")
    p.add_argument("--state-dir", required=True,
                   help="resume checkpoints (outside the outputs); used only by the same job, removed when it is done")
    p.add_argument("--out-model", required=True)
    p.add_argument("--out-history", required=True, help="JSON lines: training loss every K steps, valid per epoch")
    p.add_argument("--out-config", required=True, help="the resolved configuration (JSON)")
    p.add_argument("--out-throughput", required=True, help="images/s and data-wait fraction (JSON)")
    p.add_argument("--out-epochs", help="CSV: every validation image's P(positive) at each epoch's end (column epoch)")
    p.add_argument("--out-predictions", help="CSV: the final model's P(positive) for every validation image, as "
                   "`chexpertnet predict` writes them (the same numbers)")  # fmt: skip
    p.add_argument("--dataset", metavar="NAME", help="the dataset's name (config dataset.name), recorded in model.pt")
    p.add_argument("--dataset-source", choices=("chexpert", "phantom"),
                   help="recorded in model.pt: `chexpertnet predict` warns when a phantom-trained model is used")


def load_split(manifest_file: str, cache: list[str]):
    import pandas as pd

    from chexpertnet.data.cache import open_cache, rows_for
    from chexpertnet.data.manifest import manifest_arrays
    from chexpertnet.train.loop import Split

    manifest = pd.read_csv(manifest_file, dtype={"Path": str, "substitutes_for": str}, keep_default_na=False)
    array, lookup, check = open_cache(*cache)
    classes, mask = manifest_arrays(manifest)
    rows = rows_for(manifest["Path"].tolist(), lookup, manifest_file)
    return Split(array=array, rows=rows, classes=classes, mask=mask, paths=manifest["Path"].tolist(), check=check)


def epoch_predictions(valid_manifest: str, probabilities: list):
    """Long table: the manifest's Path, patient, study, view, then epoch (1-based) and the 14 P(positive)."""
    import pandas as pd

    from chexpertnet.observations import OBSERVATIONS

    manifest = pd.read_csv(valid_manifest, dtype={"Path": str, "patient": str}, keep_default_na=False)
    frames = []
    for epoch, p in enumerate(probabilities, start=1):
        frame = manifest[["Path", "patient", "study", "view"]].copy()
        frame.insert(4, "epoch", epoch)
        frame[list(OBSERVATIONS)] = p
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def staged_caches(caches: dict[str, list[str]], scratch: str | None) -> tuple[dict[str, list[str]], list[Path]]:
    """The caches copied to node-local scratch ({name: [array, index]}) and the folders to remove once they are
    open; a cache for which the scratch disk lacks room stays where it is."""
    import tempfile
    import time

    from chexpertnet.data.cache import stage_cache

    staged, folders = {}, []
    for name, cache in caches.items():
        start = time.perf_counter()
        copies = stage_cache(*cache, scratch or tempfile.gettempdir())
        if copies is None:
            staged[name] = cache
            continue
        staged[name] = [str(c) for c in copies]
        folders.append(copies[0].parent)
        print(json.dumps({"event": "staged", "cache": cache[0], "to": staged[name][0],
                          "seconds": round(time.perf_counter() - start, 1)}), file=sys.stderr)  # fmt: skip
    return staged, folders


def dataset_record(args: argparse.Namespace) -> dict:
    """{"dataset": {"name", "source"}} for model.pt when the flags say it, else nothing."""
    if args.dataset is None and args.dataset_source is None:
        return {}
    return {"dataset": {"name": args.dataset, "source": args.dataset_source}}


def run(args: argparse.Namespace) -> None:
    from chexpertnet.train.compilecache import use_compile_cache

    if args.compile != "off":  # before torch is imported (it fixes its cache folder then)
        use_compile_cache(args.compile_cache)
    import numpy as np
    import pandas as pd
    import torch

    from chexpertnet.codehash import code_hash
    from chexpertnet.fileio import write_csv, write_json, write_text
    from chexpertnet.train.checkpoint import save_checkpoint
    from chexpertnet.train.faults import pause_hook
    from chexpertnet.train.fingerprint import training_fingerprint
    from chexpertnet.train.gpuslots import claim_for_job
    from chexpertnet.train.loop import TrainConfig, train
    from chexpertnet.train.model import IMAGENET_MEAN, IMAGENET_STD
    from chexpertnet.train.numerics import numeric_path
    from chexpertnet.train.resume import clear_state
    from chexpertnet.train.weights import load_pretrained_state

    # before anything touches CUDA: on a machine with several GPUs, this job's own GPU (train/gpuslots.py)
    gpu = claim_for_job(args.device, log=lambda record: print(json.dumps(record), file=sys.stderr))
    if args.normalization == "dataset":
        if not args.stats:
            raise SystemExit("--normalization dataset needs --stats (the dataset statistics JSON)")
        stats = json.loads(Path(args.stats).read_text())
        mean, std = (stats["mean"],) * 3, (stats["std"],) * 3
    else:
        mean, std = IMAGENET_MEAN, IMAGENET_STD
    pretrained_state = None
    if args.init in ("pretrained", "frozen"):
        if not args.pretrained:
            raise SystemExit(f"--init {args.init} needs --pretrained FILE")
        pretrained_state = load_pretrained_state(args.pretrained)
    config = TrainConfig(
        experiment=args.experiment, seed=args.seed, init=args.init,
        pretrained_file=args.pretrained if args.init in ("pretrained", "frozen") else None,
        mean=tuple(mean), std=tuple(std), batch_size=args.batch_size, epochs=args.epochs, lr=args.lr,
        betas=tuple(args.betas), crop_size=args.crop_size, hflip=args.hflip, device=args.device, fast=args.fast,
        deterministic=args.deterministic, compile=args.compile, threads=args.threads, log_every=args.log_every,
        checkpoint_every=args.checkpoint_every,
    )  # fmt: skip
    weights = pd.read_csv(args.train_weights)[["w_negative", "w_positive", "w_uncertain"]].to_numpy(np.float64)
    caches, staged = {"train": args.train_cache, "valid": args.valid_cache}, []
    if args.stage_cache:
        caches, staged = staged_caches(caches, args.scratch)
    try:
        train_split = load_split(args.train_manifest, caches["train"])
        valid_split = load_split(args.valid_manifest, caches["valid"])
        fingerprint = training_fingerprint(
            code=code_hash("train"),
            settings={**config.settings(), "normalization": args.normalization},
            files={"train_manifest": args.train_manifest, "train_weights": args.train_weights,
                   "valid_manifest": args.valid_manifest, "pretrained": config.pretrained_file, "stats": args.stats},
            caches=caches,  # content digests: a staged copy has its original's
            environment={"numeric_path": numeric_path(torch.device(args.device).type, args.fast),
                         "torch": str(torch.__version__)},
        )  # fmt: skip
    finally:
        # The staged arrays are memory-mapped now: removing their names frees nothing until the process ends, but
        # leaves nothing behind on the node however it ends.
        for folder in staged:
            shutil.rmtree(folder, ignore_errors=True)
    state_dir = Path(args.state_dir)
    hook = pause_hook(state_dir, lambda record: print(json.dumps(record), file=sys.stderr))  # tests only
    result = train(config, train_split, valid_split, weights, state_dir, pretrained_state, fingerprint=fingerprint,
                   checkpoint_hook=hook)  # fmt: skip
    resolved = {
        **dataclasses.asdict(config),
        "normalization": args.normalization,
        "train_manifest": args.train_manifest,
        "valid_manifest": args.valid_manifest,
        "train_images": len(train_split),
        "valid_images": len(valid_split),
        "class_weights": weights.tolist(),
        "fingerprint": fingerprint,
    }
    write_text(args.out_history, "".join(json.dumps(r, sort_keys=True) + "\n" for r in result["history"]))
    write_json(args.out_config, resolved)
    if gpu is not None and torch.cuda.is_available():
        gpu = {**gpu, "name": torch.cuda.get_device_name(0)}
    write_json(args.out_throughput, {**result["throughput"], "gpu": gpu})
    per_epoch = epoch_predictions(args.valid_manifest, result["epoch_probabilities"])
    if args.out_epochs:
        write_csv(args.out_epochs, per_epoch, float_format="%.8f")
    if args.out_predictions:
        final = per_epoch[per_epoch["epoch"] == per_epoch["epoch"].max()].drop(columns="epoch")
        write_csv(args.out_predictions, final, float_format="%.8f")
    save_checkpoint(Path(args.out_model), result["model"].cpu(), result["optimizer"], config, result["epoch"],
                    result["step"], normalization=args.normalization, fingerprint=fingerprint,
                    image_size=int(train_split.array.shape[1]), **dataset_record(args))  # fmt: skip
    clear_state(state_dir)  # every output is in place: this job is done and is never resumed
    print(json.dumps({"done": True, **result["throughput"], "gpu": gpu}), file=sys.stderr)

"""chexpertnet pretrain: DenseNet-121 on the synthetic natural-image task (offline stand-in for ImageNet)."""

from __future__ import annotations

import argparse
import json
import sys

ORDER = 70  # position in `chexpertnet --help`
HELP = "pretrain DenseNet-121 on synthetic shapes and textures; save its state dict (torchvision key names)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--size", type=int, default=64, help="image side")
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--fast", action=argparse.BooleanOptionalAction, default=True, help="bf16 autocast, channels_last")
    p.add_argument("--out", required=True, help="state dict (.pt)")
    p.add_argument("--summary", required=True, help="JSON: held-out accuracy, chance, time")


def run(args: argparse.Namespace) -> None:
    import torch

    from chexpertnet.fileio import atomic_path, write_json
    from chexpertnet.train.pretrain import pretrain_synthetic

    torch.set_num_threads(max(1, args.threads))

    def log(record: dict) -> None:
        print(json.dumps(record), file=sys.stderr)

    state, summary = pretrain_synthetic(args.size, args.steps, args.batch_size, args.seed, args.lr, args.fast, log)
    write_json(args.summary, summary)
    with atomic_path(args.out, suffix=".pt") as tmp:
        torch.save(state, tmp)

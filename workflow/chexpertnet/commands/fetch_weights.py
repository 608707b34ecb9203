"""chexpertnet fetch-weights: torchvision's ImageNet DenseNet-121 weights, fetched once into a local file."""

from __future__ import annotations

import argparse

ORDER = 60  # position in `chexpertnet --help`
HELP = "fetch torchvision's ImageNet DenseNet-121 weights once (needs internet or the file in $TORCH_HOME)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", required=True, help="state dict file (e.g. resources/densenet121-imagenet.pth)")


def run(args: argparse.Namespace) -> None:
    from chexpertnet.train.weights import fetch_imagenet_weights

    fetch_imagenet_weights(args.out)

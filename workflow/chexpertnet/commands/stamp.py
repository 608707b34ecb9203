"""chexpertnet stamp: record a dataset CSV's content digest, the workflow's sentinel for that content."""

from __future__ import annotations

import argparse
import re

ORDER = 25  # position in `chexpertnet --help`
HELP = "record a CSV's SHA-256 (computed by the workflow at DAG time) in a file that changes only with the content"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--split", required=True)
    p.add_argument("--sha256", required=True, help="64 hex digits")
    p.add_argument("--out", required=True)


def run(args: argparse.Namespace) -> None:
    from chexpertnet.errors import DataError
    from chexpertnet.fileio import write_json

    if not re.fullmatch(r"[0-9a-f]{64}", args.sha256):
        raise DataError(f"--sha256 {args.sha256!r} is not a SHA-256 (64 lowercase hex digits)")
    write_json(args.out, {"split": args.split, "sha256": args.sha256})

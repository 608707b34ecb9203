"""The ``chexpertnet`` command: one subcommand per workflow step, each callable outside Snakemake.

Each subcommand lives in ``chexpertnet.commands.<name>``: it parses arguments, reads inputs, calls the step's pure
functions and writes outputs atomically. Bad input data exits with status 2 and a message that names the file,
row and value at fault and says how to fix it.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from chexpertnet import __version__, commands
from chexpertnet.errors import DataError


def _discover() -> tuple[str, ...]:
    """Subcommands are the modules of chexpertnet.commands, in their ORDER (found, not listed here, so adding a
    command does not change this module, whose hash is part of every rule's staleness check)."""
    found = [m.name for m in pkgutil.iter_modules(commands.__path__)]
    ordered = sorted(found, key=lambda name: (importlib.import_module(f"{commands.__name__}.{name}").ORDER, name))
    return tuple(name.replace("_", "-") for name in ordered)


COMMANDS = _discover()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="chexpertnet", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"chexpertnet {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        module = importlib.import_module(f"chexpertnet.commands.{name.replace('-', '_')}")
        p = sub.add_parser(name, help=module.HELP.replace("%", "%%"), description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except DataError as exc:
        print(f"chexpertnet {args.command}: error: {exc}", file=sys.stderr)
        return 2
    return 0

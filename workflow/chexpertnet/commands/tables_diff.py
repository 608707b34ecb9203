"""chexpertnet tables-diff: what moved between two versions of the result tables."""

from __future__ import annotations

import argparse
import json
import sys

ORDER = 115  # position in `chexpertnet --help`
HELP = (
    "compare two versions of the result tables (results/<dataset>/archive/tables): what changed (code, config, "
    "data, models), the provenance fields that differ, ΔAUC per experiment and observation, and every cell that moved"
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--archive", required=True, help="the versions archive, results/<dataset>/archive/tables")
    p.add_argument("--old", type=int, help="the earlier version (default: the one before --new)")
    p.add_argument("--new", type=int, help="the later version (default: the latest)")
    p.add_argument("--out", help="write Markdown here (and .html/.csv beside it); default: Markdown to stdout")


def run(args: argparse.Namespace) -> None:
    from pathlib import Path

    from chexpertnet.errors import DataError
    from chexpertnet.evaluate.versions import versions
    from chexpertnet.evaluate.versions_report import diff_between, diff_texts
    from chexpertnet.fileio import write_text

    have = versions(args.archive)
    if len(have) < 2 and (args.old is None or args.new is None):
        raise DataError(f"{args.archive}: {len(have)} version(s) ({', '.join(map(str, have)) or 'none'}); "
                        "two are needed to compare: regenerate the tables after a change")  # fmt: skip
    new = args.new if args.new is not None else have[-1]
    old = args.old if args.old is not None else max((n for n in have if n < new), default=None)
    for label, number in (("--old", old), ("--new", new)):
        if number not in have:
            raise DataError(f"{label} {number}: no such version in {args.archive} (versions: "
                            f"{', '.join(map(str, have))})")  # fmt: skip
    texts = diff_texts(diff_between(args.archive, old, new))
    if args.out:
        out = Path(args.out)
        for suffix, text in texts.items():
            write_text(out.with_suffix(suffix), text)
        print(json.dumps({"old": old, "new": new, "out": str(out)}), file=sys.stderr)
    else:
        sys.stdout.write(texts[".md"])

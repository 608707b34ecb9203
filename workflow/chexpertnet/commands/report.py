"""chexpertnet report: the self-contained Snakemake HTML report of the tables and figures, written atomically.

Runs `snakemake --report` on this workflow with the run's own config, for the given targets (the files shown in the
report, which must exist), without taking the workflow lock (the calling run holds it). The report embeds
everything it shows and needs no network to open.
"""

from __future__ import annotations

import argparse
import sys

ORDER = 140  # position in `chexpertnet --help`
HELP = "the Snakemake HTML report (tables, curves, CAMs) of a finished run, for the given targets"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--snakefile", required=True, help="the workflow's Snakefile")
    p.add_argument("--config-json", required=True, help="the run's config as JSON (becomes a --configfile)")
    p.add_argument("--out", required=True, help="the report's HTML file")
    p.add_argument("targets", nargs="+", help="files the report shows (they and their inputs must exist)")


def run(args: argparse.Namespace) -> None:
    import json
    import os
    import subprocess
    import tempfile
    from pathlib import Path

    import yaml

    from chexpertnet.errors import DataError
    from chexpertnet.fileio import atomic_path

    config = json.loads(args.config_json)
    # The workflow passes real data's dataset.root as its validated view (results/<name>/data/validated), so that
    # moving the data does not re-run the report; the nested Snakemake needs the data's own root: the view's links
    # point at it (<root>/<folder>/train).
    dataset = config.get("dataset", {})
    link = Path(str(dataset.get("root", ""))) / dataset.get("folder", "CheXpert-v1.0-small") / "train"
    if dataset.get("root") and link.is_symlink():
        dataset["root"] = str(link.resolve().parent.parent)
    out = Path(args.out)
    with tempfile.TemporaryDirectory(prefix=".report.", dir=out.parent if out.parent.exists() else None) as tmp:
        configfile = Path(tmp) / "config.yaml"
        configfile.write_text(yaml.safe_dump(config, sort_keys=True))
        with atomic_path(out, suffix=".html") as html:
            command = [
                sys.executable, "-m", "snakemake", "--snakefile", args.snakefile, "--configfile", str(configfile),
                "--nolock", "--report", str(html), *args.targets,
            ]  # fmt: skip
            done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": ""})
            sys.stderr.write(done.stdout + done.stderr)
            if done.returncode != 0 or not html.exists() or html.stat().st_size == 0:
                raise DataError(f"snakemake --report failed (exit {done.returncode}); its output is above")

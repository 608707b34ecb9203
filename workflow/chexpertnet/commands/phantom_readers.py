"""chexpertnet phantom-readers: simulated radiologists' reads of the phantom's test split, in CheXpert's format."""

from __future__ import annotations

import argparse
import json
import sys

ORDER = 12  # position in `chexpertnet --help`
HELP = (
    "simulated radiologists for the phantom's test split: three readers with a declared sensitivity and specificity "
    "per observation, each a study-level CSV in the format of CheXpert's benchmark radiologists (bc4.csv)"
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--labels", required=True, help="the phantom's test_groundtruth.csv (Study, 14 observations)")
    p.add_argument("--seed", type=int, default=0, help="seed of the simulated reads")
    p.add_argument("--out-dir", required=True, help="folder for <reader>.csv and declared.json")


def run(args: argparse.Namespace) -> None:
    from pathlib import Path

    import pandas as pd

    from chexpertnet.data.chexpert import read_csv
    from chexpertnet.data.simulated_readers import declared, simulate
    from chexpertnet.evaluate import studies
    from chexpertnet.fileio import write_csv, write_json
    from chexpertnet.observations import OBSERVATIONS

    frame = read_csv(args.labels)
    observations = list(OBSERVATIONS)
    labels = studies.binary_by_study(frame, observations, args.labels, "the readers read")
    reads = simulate(labels.to_numpy().astype(int), observations, args.seed)
    out = Path(args.out_dir)
    order = list(reversed(observations))  # another order than the labels', as the benchmark's files have
    for name, values in reads.items():
        table = pd.DataFrame(values, columns=observations)[order]
        table.insert(0, "Study", frame["Study"].to_numpy())
        write_csv(out / f"{name}.csv", table)
    write_json(out / "declared.json", {"seed": args.seed, "readers": declared()})
    print(json.dumps({"readers": list(reads), "studies": len(labels), "out_dir": str(out)}), file=sys.stderr)

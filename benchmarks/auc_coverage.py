"""Coverage of 95% intervals of one AUC with few positive patients, by simulation: the workflow's percentile patient
bootstrap against DeLong's variance on the logit scale, the bias-corrected accelerated (BCa) bootstrap and Newcombe's
score-type interval (Hanley and McNeil's variance evaluated at each candidate AUC).

Binormal scores (negatives N(0, 1), positives N(d, 1), so AUC = Phi(d / sqrt(2))), ``--positives`` positive and
``--negatives`` negative patients; each interval method on the same simulated validation sets. The bootstrap resamples
patients as the workflow does (the positives' count varies from resample to resample).

    python benchmarks/auc_coverage.py --positives 10 15 30 --aucs 0.75 0.85 0.95 --trials 1000

Prints a Markdown table of coverage (and mean width) per method, positives and AUC.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path
from statistics import NormalDist

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow"))

from chexpertnet.evaluate.auc import auc
from chexpertnet.evaluate.delong import structural_components
from chexpertnet.evaluate.metrics import bootstrap_counts, weighted_auc

Z = NormalDist().inv_cdf(0.975)


def percentile(samples: np.ndarray) -> tuple[float, float]:
    return tuple(np.nanpercentile(samples, [2.5, 97.5]))


def logit_delong(scores: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    a, v10, v01 = structural_components(scores, labels)
    se = math.sqrt(np.var(v10, ddof=1) / len(v10) + np.var(v01, ddof=1) / len(v01))
    if a in (0.0, 1.0):
        return (a, a)
    centre, half = math.log(a / (1 - a)), Z * se / (a * (1 - a))
    return tuple(1 / (1 + math.exp(-x)) for x in (centre - half, centre + half))


_GRID = np.linspace(0.0, 1.0, 100_001)


def newcombe(point: float, positives: int, negatives: int) -> tuple[float, float]:
    """Newcombe's (2006) score-type interval (his method 5): the AUCs θ with (θ̂ − θ)² <= z² V(θ), V Hanley and
    McNeil's variance at θ with N* = (m + n)/2: θ(1 − θ)/(mn) [1 + (N* − 1)((1 − θ)/(2 − θ) + θ/(1 + θ))]."""
    t = _GRID
    n_star = (positives + negatives) / 2
    variance = t * (1 - t) / (positives * negatives) * (1 + (n_star - 1) * ((1 - t) / (2 - t) + t / (1 + t)))
    inside = t[(point - t) ** 2 <= Z**2 * variance]
    return (float(inside.min()), float(inside.max())) if len(inside) else (point, point)


def bca(scores: np.ndarray, labels: np.ndarray, samples: np.ndarray, point: float) -> tuple[float, float]:
    samples = samples[~np.isnan(samples)]
    below = np.mean(samples < point) + 0.5 * np.mean(samples == point)
    z0 = NormalDist().inv_cdf(min(max(below, 1e-6), 1 - 1e-6))
    keep = np.ones(len(labels), bool)
    jack = np.empty(len(labels))
    for i in range(len(labels)):  # the jackknife: each patient left out once
        keep[i] = False
        jack[i] = auc(labels[keep], scores[keep])
        keep[i] = True
    d = jack.mean() - jack
    accel = (d**3).sum() / (6 * ((d**2).sum()) ** 1.5) if (d**2).sum() > 0 else 0.0
    out = []
    for z in (-Z, Z):
        q = NormalDist().cdf(z0 + (z0 + z) / (1 - accel * (z0 + z)))
        out.append(float(np.quantile(samples, q)))
    return tuple(out)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--positives", type=int, nargs="+", default=[10, 15, 30])
    p.add_argument("--negatives", type=int, default=190)
    p.add_argument("--aucs", type=float, nargs="+", default=[0.75, 0.85, 0.95])
    p.add_argument("--trials", type=int, default=1000)
    p.add_argument("--resamples", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    rng = np.random.default_rng(args.seed)
    start = time.time()
    methods = ("percentile", "logit", "bca", "newcombe")
    print("| positives | AUC | percentile bootstrap | logit DeLong | BCa bootstrap | Newcombe score |")
    print("|---:|---:|---|---|---|---|")
    for m in args.positives:
        labels = np.r_[np.ones(m), np.zeros(args.negatives)]
        n = len(labels)
        for target in args.aucs:
            d = math.sqrt(2) * NormalDist().inv_cdf(target)
            hits = dict.fromkeys(methods, 0)
            widths = {k: 0.0 for k in hits}
            for t in range(args.trials):
                scores = rng.normal(0, 1, n) + d * labels
                point = auc(labels, scores)
                samples = weighted_auc(scores, labels, bootstrap_counts(n, args.resamples, args.seed + t))
                for key, (low, high) in (("percentile", percentile(samples)), ("logit", logit_delong(scores, labels)),
                                         ("bca", bca(scores, labels, samples, point)),
                                         ("newcombe", newcombe(point, m, args.negatives))):  # fmt: skip
                    hits[key] += low <= target <= high
                    widths[key] += (high - low) / args.trials
            cells = [f"{hits[k] / args.trials:.3f} (width {widths[k]:.3f})" for k in methods]
            print(f"| {m} | {target:.2f} | " + " | ".join(cells) + " |", flush=True)
    print(f"\n{args.trials} simulated sets per row, {args.resamples} bootstrap resamples, {args.negatives} negative "
          f"patients; {time.time() - start:.0f} s", file=sys.stderr)  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

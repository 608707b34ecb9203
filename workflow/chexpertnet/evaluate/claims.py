"""The paper's quantitative claims, each put to the test with a verdict. Pure functions (no file I/O).

Means are over a fixed set of observations, those with at least ``min_positives`` positive and negative patients
(the same in every resample). Every claim compares experiments that the config names by their factors: the *roles*
are found relative to the baseline (an experiment that differs from it in exactly the factor the claim is about).
Estimates are paired patient bootstraps (the same resampled patients for every model; AUCs averaged over seeds, also
inside each resample).

Verdicts (95%):
- a difference claim ("A is better than B"): **supported** when the CI of Δ lies entirely on the claimed side of 0,
  **contradicted** when it lies entirely on the other side, **inconclusive** otherwise;
- "observation X loses most": the share of resamples in which X has the largest loss; supported at ≥ 0.95,
  contradicted at ≤ 0.05, inconclusive between; with fewer than ``min_positives`` positive (or negative) patients
  for X, "inconclusive: N positive patients", never contradicted;
- "most observations reach their best AUC at the last epoch": the count of such observations, with its bootstrap
  CI; supported when the CI lies above half the defined observations, contradicted when it lies at or below half;
- "longer training closes the gap": supported when the longer training is not worse than the pretrained baseline
  (the CI of Δ reaches 0 or above) and is better than the short one (CI above 0); contradicted when it is still
  worse than the baseline (CI below 0) and not better than the short one; inconclusive otherwise;
- a claim whose experiment the config does not have: **inconclusive (not run)**, with the experiment it needs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from chexpertnet.evaluate.metrics import bootstrap_auc, bootstrap_counts, per_observation_auc, percentile_ci
from chexpertnet.evaluate.scoring import MIN_POSITIVES, PatientScores, estimable
from chexpertnet.observations import OBSERVATIONS

SUPPORTED, CONTRADICTED, INCONCLUSIVE = "supported", "contradicted", "inconclusive"
NOT_RUN = "inconclusive (not run)"
LESION = OBSERVATIONS.index("Lung Lesion")
FACTORS = ("views", "normalization", "init", "uncertainty", "epochs")


@dataclass(frozen=True)
class Claim:
    number: str
    section: str
    text: str
    paper: str


CLAIMS = (
    Claim("1", "5.2.1", "Lateral views help: the model trained on frontal and lateral views beats the frontal-only one",
          "mean AUC 0.8236 (both) vs 0.7867 (frontal only)"),
    Claim("1b", "5.2.1", "... also without Lung Lesion", "0.8588 vs 0.8497 (mean without Lung Lesion)"),
    Claim("2", "5.2.1", "Lung Lesion loses the most without lateral views", "Table 2: the largest drop is Lung Lesion"),
    Claim("3", "5.2.2", "CheXpert normalization statistics help (vs ImageNet's)",
          "mean AUC 0.8383 vs 0.8236; better on 8 of 13 observations"),
    Claim("4", "5.2.3", "Training from scratch is worse than from ImageNet initialization",
          "mean AUC 0.7675 vs 0.8236"),
    Claim("5", "5.2.3", "From scratch, most observations reach their best AUC at epoch 3 (the last)",
          "10 of 13 observations best at epoch 3"),
    Claim("6", "5.2.3", "From scratch, longer training would close the gap to the pretrained model",
          "stated as certain; not measured"),
    Claim("7", "5.2.3", "Table 4 read as 'Freezing all Conv Layers': the frozen backbone is worse than fine-tuning",
          "Table 4: mean AUC 0.7675 vs 0.8236 (caption: freezing; text: from scratch, see claim 4)"),
)  # fmt: skip


def _direction_verdict(low: float, high: float, sign: int) -> str:
    if math.isnan(low) or math.isnan(high):
        return INCONCLUSIVE
    if (sign > 0 and low > 0) or (sign < 0 and high < 0):
        return SUPPORTED
    if (sign > 0 and high < 0) or (sign < 0 and low > 0):
        return CONTRADICTED
    return INCONCLUSIVE


def find_role(factors: Mapping[str, Mapping], baseline: str, **changed) -> str | None:
    """The first experiment (sorted by name) whose factors equal the baseline's except exactly ``changed``."""
    base = factors[baseline]
    for name in sorted(factors):
        f = factors[name]
        if name != baseline and all(
            (f.get(k) == changed[k]) if k in changed else (f.get(k) == base.get(k)) for k in FACTORS
        ):
            return name
    return None


def find_long_scratch(factors: Mapping[str, Mapping], baseline: str) -> str | None:
    """An experiment trained from scratch for more epochs than the baseline, otherwise like it (the longest)."""
    base = factors[baseline]
    found = [
        (f["epochs"], name) for name, f in factors.items()
        if f.get("init") == "scratch" and int(f["epochs"]) > int(base["epochs"])
        and all(f.get(k) == base.get(k) for k in ("views", "normalization", "uncertainty"))
    ]  # fmt: skip
    return max(found)[1] if found else None


def _stack(runs: PatientScores) -> np.ndarray:
    return np.asarray(runs.scores)  # (S, n, J)


def _boot(runs: PatientScores, counts: np.ndarray) -> np.ndarray:
    """(B, J) seed-averaged AUC per resample."""
    return np.mean([bootstrap_auc(s, runs.labels, counts) for s in _stack(runs)], axis=0)


def _point(runs: PatientScores) -> np.ndarray:
    return np.mean([per_observation_auc(runs.labels, s) for s in _stack(runs)], axis=0)


def _common(a: PatientScores, b: PatientScores) -> tuple[PatientScores, PatientScores]:
    common = np.intersect1d(a.patients, b.patients)
    return a.subset(common), b.subset(common)


def _mean(values: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """The mean over a fixed set of columns: NaN where one of them is (such a resample drops out of the CI)."""
    return values[..., columns].mean(axis=-1)


def mean_difference(a: PatientScores, b: PatientScores, resamples: int, seed: int,
                    exclude: Sequence[int] = (), min_positives: int = MIN_POSITIVES) -> dict:  # fmt: skip
    """Δ = mean AUC(b) − mean AUC(a) over the observations defined for both with at least ``min_positives``
    positive and negative patients (minus ``exclude``), the same observations in every resample, on the patients
    both scored: point, 95% CI, the two means, and how many observations b improves."""
    a, b = _common(a, b)
    pa, pb = _point(a), _point(b)
    columns = ~np.isnan(pa) & ~np.isnan(pb) & estimable(a.labels, min_positives)
    columns[list(exclude)] = False
    counts = bootstrap_counts(len(a.patients), resamples, seed)
    samples = _mean(_boot(b, counts), columns) - _mean(_boot(a, counts), columns)
    low, high = percentile_ci(samples[:, None])
    return {"a": float(_mean(pa, columns)), "b": float(_mean(pb, columns)),
            "delta": float(_mean(pb, columns) - _mean(pa, columns)), "low": float(low[0]), "high": float(high[0]),
            "better": int((pb[columns] > pa[columns]).sum()), "defined": int(columns.sum())}  # fmt: skip


def largest_loss(full: PatientScores, reduced: PatientScores, observation: int, resamples: int, seed: int,
                 min_positives: int = MIN_POSITIVES) -> dict:  # fmt: skip
    """How often ``observation`` has the largest AUC loss (full − reduced) among the defined observations with at
    least ``min_positives`` positive and negative patients. ``enough`` is False (and ``share`` NaN) when
    ``observation`` itself has fewer: then no share can decide the claim."""
    a, b = _common(full, reduced)
    pa, pb = _point(a), _point(b)
    enough = estimable(a.labels, min_positives)
    positives = int(a.labels[:, observation].sum())
    columns = ~np.isnan(pa) & ~np.isnan(pb) & enough
    if not columns[observation]:
        return {"share": math.nan, "loss": float(pa[observation] - pb[observation]), "enough": False,
                "positives": positives, "negatives": len(a.labels) - positives}  # fmt: skip
    counts = bootstrap_counts(len(a.patients), resamples, seed)
    loss = _boot(a, counts) - _boot(b, counts)
    loss[:, ~columns] = -np.inf
    loss = np.where(np.isnan(loss), -np.inf, loss)
    share = float(np.mean(np.argmax(loss, axis=1) == observation))
    point_loss = np.where(columns, pa - pb, -np.inf)
    order = np.argsort(-point_loss, kind="mergesort")
    return {"share": share, "loss": float(pa[observation] - pb[observation]), "enough": True,
            "positives": positives, "negatives": len(a.labels) - positives,
            "rank": int(np.flatnonzero(order == observation)[0]) + 1, "largest": OBSERVATIONS[int(order[0])],
            "largest_loss": float(point_loss[order[0]]), "defined": int(columns.sum())}  # fmt: skip


def best_at_last_epoch(epochs: Sequence[PatientScores], resamples: int, seed: int) -> dict:
    """The number of defined observations whose AUC (seed-averaged) is highest at the last epoch (ties count as
    the last), with a bootstrap CI of that number."""
    labels = epochs[-1].labels
    points = np.array([_point(e) for e in epochs])  # (E, J)
    columns = ~np.isnan(points).any(axis=0)
    counts = bootstrap_counts(len(labels), resamples, seed)
    boots = np.array([_boot(e, counts) for e in epochs])  # (E, B, J)
    best_last = (boots[-1] >= boots.max(axis=0)) & columns  # NaN compares False
    samples = best_last.sum(axis=1).astype(float)
    low, high = percentile_ci(samples[:, None])
    point = int(((points[-1] >= points.max(axis=0)) & columns).sum())
    return {"count": point, "low": float(low[0]), "high": float(high[0]), "defined": int(columns.sum()),
            "epochs": len(epochs)}  # fmt: skip


def _fmt(x: float) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:+.3f}"


def _ci(d: Mapping) -> str:
    return f"Δ {_fmt(d['delta'])} [{_fmt(d['low'])}, {_fmt(d['high'])}]"


def evaluate_claims(
    factors: Mapping[str, Mapping], baseline: str, scored: Mapping[str, PatientScores],
    epochs: Mapping[str, Sequence[PatientScores]], resamples: int, seed: int, min_positives: int = MIN_POSITIVES,
) -> pd.DataFrame:  # fmt: skip
    """One row per claim: number, section, claim, the paper's numbers, the experiments compared, our estimate,
    verdict and the rule that decided it. ``epochs[name]`` holds an experiment's per-epoch scores (claim 5)."""
    rows = []

    def row(claim: Claim, compared: str, estimate: str, verdict: str, rule: str) -> None:
        rows.append({"claim": claim.number, "section": claim.section, "statement": claim.text, "paper": claim.paper,
                     "compared": compared, "ours": estimate, "verdict": verdict, "rule": rule})  # fmt: skip

    c = {claim.number: claim for claim in CLAIMS}
    base = scored[baseline]
    frontal = find_role(factors, baseline, views="frontal")
    norm = find_role(factors, baseline, normalization="dataset")
    scratch = find_role(factors, baseline, init="scratch")
    frozen = find_role(factors, baseline, init="frozen")
    long_scratch = find_long_scratch(factors, baseline)
    diff_rule = "95% CI of Δ entirely on the claimed side of 0: supported; entirely on the other: contradicted"

    def difference(claim: Claim, other: str | None, sign: int, need: str, exclude: Sequence[int] = (),
                   better_note: bool = False, reverse: bool = False) -> None:  # fmt: skip
        if other is None:
            row(claim, f"needs an experiment with {need}", "", NOT_RUN, diff_rule)
            return
        a, b = (scored[other], base) if reverse else (base, scored[other])
        d = mean_difference(a, b, resamples, seed, exclude, min_positives)
        names = f"{other} − {baseline}" if not reverse else f"{baseline} − {other}"
        estimate = f"mean AUC {d['b']:.3f} vs {d['a']:.3f}, {_ci(d)}"
        if better_note:
            estimate += f"; better on {d['better']} of {d['defined']}"
        row(claim, names, estimate, _direction_verdict(d["low"], d["high"], sign), diff_rule)

    need_frontal = "views: frontal (otherwise as the baseline)"
    difference(c["1"], frontal, +1, need_frontal, reverse=True)
    difference(c["1b"], frontal, +1, need_frontal, exclude=[LESION], reverse=True)
    share_rule = (f"share of resamples with Lung Lesion's loss the largest: ≥ 0.95 supported, ≤ 0.05 contradicted, "
                  f"between inconclusive; inconclusive without a share when Lung Lesion has fewer than "
                  f"{min_positives} positive or negative patients")  # fmt: skip
    if frontal is None:
        row(c["2"], f"needs an experiment with {need_frontal}", "", NOT_RUN, share_rule)
    else:
        d = largest_loss(base, scored[frontal], LESION, resamples, seed, min_positives)
        if not d["enough"]:
            few = min(d["positives"], d["negatives"])
            kind = "positive" if d["positives"] <= d["negatives"] else "negative"
            verdict = f"{INCONCLUSIVE}: {few} {kind} patient{'s' if few != 1 else ''}"
            estimate = (f"Lung Lesion's loss {_fmt(d['loss'])} (a point estimate: fewer than {min_positives} "
                        f"{kind} patients, no share of resamples is computed)")  # fmt: skip
        else:
            verdict = SUPPORTED if d["share"] >= 0.95 else CONTRADICTED if d["share"] <= 0.05 else INCONCLUSIVE
            estimate = (f"Lung Lesion's loss {d['loss']:+.3f} ranks {d['rank']} of {d['defined']} (largest: "
                        f"{d['largest']}, {d['largest_loss']:+.3f}); largest in {d['share']:.0%} of "
                        "resamples")  # fmt: skip
        row(c["2"], f"{baseline} − {frontal}", estimate, verdict, share_rule)
    difference(c["3"], norm, +1, "normalization: dataset", better_note=True)
    difference(c["4"], scratch, -1, "init: scratch")
    count_rule = "bootstrap CI of the count above half the defined observations: supported; at or below: contradicted"
    if scratch is None or len(epochs.get(scratch, ())) < 2:
        row(c["5"], "needs init: scratch with per-epoch predictions", "", NOT_RUN, count_rule)
    else:
        d = best_at_last_epoch(epochs[scratch], resamples, seed)
        half = d["defined"] / 2
        verdict = SUPPORTED if d["low"] > half else CONTRADICTED if d["high"] <= half else INCONCLUSIVE
        row(c["5"], f"{scratch}, epochs 1-{d['epochs']}", f"{d['count']} of {d['defined']} best at epoch "
            f"{d['epochs']} (95% CI {d['low']:.0f}-{d['high']:.0f})", verdict, count_rule)  # fmt: skip
    gap_rule = ("supported: not worse than the baseline (CI of Δ reaches 0) and better than the 3-epoch scratch "
                "(CI above 0); contradicted: still worse than the baseline and not better than the short training")
    if long_scratch is None or scratch is None:
        need = "init: scratch and more epochs than the baseline (e.g. epochs: 9)" if long_scratch is None else \
            "init: scratch"  # fmt: skip
        row(c["6"], f"needs an experiment with {need}", "", NOT_RUN, gap_rule)
    else:
        vs_base = mean_difference(base, scored[long_scratch], resamples, seed, min_positives=min_positives)
        vs_short = mean_difference(scored[scratch], scored[long_scratch], resamples, seed, min_positives=min_positives)
        not_worse, better = vs_base["high"] >= 0, vs_short["low"] > 0
        verdict = SUPPORTED if not_worse and better else \
            CONTRADICTED if vs_base["high"] < 0 and not better else INCONCLUSIVE  # fmt: skip
        estimate = (f"{long_scratch} ({factors[long_scratch]['epochs']} epochs) − {baseline}: {_ci(vs_base)}; "
                    f"− {scratch}: {_ci(vs_short)}")  # fmt: skip
        row(c["6"], f"{long_scratch} vs {baseline} and {scratch}", estimate, verdict, gap_rule)
    difference(c["7"], frozen, -1, "init: frozen")
    return pd.DataFrame(rows)

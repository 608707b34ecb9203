"""The paper's quantitative claims, each put to the test with a verdict. Pure functions (no file I/O).

Means are over a fixed set of observations, those with at least ``min_positives`` positive and negative patients
(the same in every resample). Every claim compares experiments that the config names by their factors: the *roles*
are found relative to the baseline (an experiment that differs from it in exactly the factor the claim is about).
Every Δ is experiment − baseline, as in the comparison table. Estimates are paired patient bootstraps (the same
resampled patients for every model; AUCs averaged over seeds, also inside each resample) and, with several seeds,
the variation between seeds drawn into every resample (:func:`~chexpertnet.evaluate.metrics.seed_noise`).

Verdicts (95%); every rule can come out each of three ways:
- a difference claim ("A is better than B"): **supported** when the CI of Δ lies entirely on the claimed side of 0,
  **contradicted** when it lies entirely on the other side, **inconclusive** when it includes 0;
- "observation X loses most": the share of resamples in which X has the most negative Δ; supported at ≥ 0.95,
  contradicted at ≤ 0.05, inconclusive between; with fewer than ``min_positives`` positive (or negative) patients
  for X, "inconclusive: N positive patients", never contradicted;
- "most observations reach their best AUC at the last epoch": the count of such observations (those with enough
  patients), with its bootstrap CI; supported when the CI lies above half of them, contradicted when it lies at or
  below half, inconclusive when it straddles half;
- "longer training closes the gap" is an equivalence question, decided with a declared margin (``margin``, AUC):
  supported when the whole CI of Δ (longer scratch − baseline) lies inside ±margin, contradicted when it lies
  entirely outside (below −margin: the gap stays; above +margin: it overshoots), inconclusive otherwise (a wide CI
  is a lack of power, never support);
- a claim whose experiment the config does not have: **inconclusive (not run)**, with the experiment it needs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from chexpertnet.evaluate.metrics import (
    bootstrap_auc,
    bootstrap_counts,
    per_observation_auc,
    percentile_ci,
    seed_noise,
    seed_normals,
)
from chexpertnet.evaluate.scoring import MIN_POSITIVES, PatientScores, estimable
from chexpertnet.observations import OBSERVATIONS

SUPPORTED, CONTRADICTED, INCONCLUSIVE = "supported", "contradicted", "inconclusive"
NOT_RUN = "inconclusive (not run)"
LESION = OBSERVATIONS.index("Lung Lesion")
FACTORS = ("views", "normalization", "init", "uncertainty", "epochs")
MARGIN = 0.01  # claim 6's equivalence margin (AUC), the default of the config's claims.margin


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


def _boot(runs: PatientScores, counts: np.ndarray, seed: int = 0, stream: int = 0) -> np.ndarray:
    """(B, J) seed-averaged AUC per resample, plus the variation between seeds (none with one seed); ``stream``
    keeps the seed draws of independent trainings apart, and is the same for the epochs of one training."""
    per_seed = np.array([per_observation_auc(runs.labels, s) for s in _stack(runs)])
    boot = np.mean([bootstrap_auc(s, runs.labels, counts) for s in _stack(runs)], axis=0)
    return boot + seed_noise(per_seed, seed_normals(len(counts), len(per_seed), seed, stream))


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
    samples = _mean(_boot(b, counts, seed, 2), columns) - _mean(_boot(a, counts, seed, 1), columns)
    low, high = percentile_ci(samples[:, None])
    return {"a": float(_mean(pa, columns)), "b": float(_mean(pb, columns)),
            "delta": float(_mean(pb, columns) - _mean(pa, columns)), "low": float(low[0]), "high": float(high[0]),
            "better": int((pb[columns] > pa[columns]).sum()), "defined": int(columns.sum())}  # fmt: skip


def largest_loss(full: PatientScores, reduced: PatientScores, observation: int, resamples: int, seed: int,
                 min_positives: int = MIN_POSITIVES) -> dict:  # fmt: skip
    """How often ``observation`` has the largest AUC loss (Δ = reduced − full, the most negative) among the defined
    observations with at least ``min_positives`` positive and negative patients (a fixed set: a resample in which
    one of them is undefined drops out). ``enough`` is False (and ``share`` NaN) when ``observation`` itself has
    fewer: then no share can decide the claim."""
    a, b = _common(full, reduced)
    pa, pb = _point(a), _point(b)
    enough = estimable(a.labels, min_positives)
    positives = int(a.labels[:, observation].sum())
    columns = ~np.isnan(pa) & ~np.isnan(pb) & enough
    if not columns[observation]:
        return {"share": math.nan, "delta": float(pb[observation] - pa[observation]), "enough": False,
                "positives": positives, "negatives": len(a.labels) - positives}  # fmt: skip
    counts = bootstrap_counts(len(a.patients), resamples, seed)
    delta = (_boot(b, counts, seed, 2) - _boot(a, counts, seed, 1))[:, columns]
    kept = ~np.isnan(delta).any(axis=1)
    target = int(np.flatnonzero(columns).tolist().index(observation))
    share = float(np.mean(np.argmin(delta[kept], axis=1) == target)) if kept.any() else math.nan
    point = np.where(columns, pb - pa, np.inf)
    order = np.argsort(point, kind="mergesort")
    return {"share": share, "delta": float(pb[observation] - pa[observation]), "enough": True,
            "positives": positives, "negatives": len(a.labels) - positives,
            "rank": int(np.flatnonzero(order == observation)[0]) + 1, "largest": OBSERVATIONS[int(order[0])],
            "largest_delta": float(point[order[0]]), "defined": int(columns.sum())}  # fmt: skip


def best_at_last_epoch(epochs: Sequence[PatientScores], resamples: int, seed: int,
                       min_positives: int = MIN_POSITIVES) -> dict:  # fmt: skip
    """The number of observations with enough patients (``min_positives``) whose AUC (seed-averaged) is highest
    at the last epoch (ties count as the last), with a bootstrap CI of that number. The observations are a fixed
    set, defined at every epoch: a resample in which one of them is undefined drops out (it is not "not best")."""
    labels = epochs[-1].labels
    points = np.array([_point(e) for e in epochs])  # (E, J)
    columns = ~np.isnan(points).any(axis=0) & estimable(labels, min_positives)
    counts = bootstrap_counts(len(labels), resamples, seed)
    boots = np.array([_boot(e, counts, seed, 1) for e in epochs])[:, :, columns]  # (E, B, K), one stream: a run
    kept = ~np.isnan(boots).any(axis=(0, 2))
    samples = np.where(kept, (boots[-1] >= boots.max(axis=0)).sum(axis=1), np.nan).astype(float)
    low, high = percentile_ci(samples[:, None])
    point = int((points[-1, columns] >= points[:, columns].max(axis=0)).sum())
    return {"count": point, "low": float(low[0]), "high": float(high[0]), "defined": int(columns.sum()),
            "epochs": len(epochs)}  # fmt: skip


def equivalence_verdict(low: float, high: float, margin: float) -> str:
    """Equivalence with a margin: supported when the CI lies inside ±margin, contradicted when it lies entirely
    outside it (on either side), inconclusive otherwise."""
    if math.isnan(low) or math.isnan(high):
        return INCONCLUSIVE
    if -margin <= low and high <= margin:
        return SUPPORTED
    if high < -margin or low > margin:
        return CONTRADICTED
    return INCONCLUSIVE


def _fmt(x: float) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:+.3f}"


def _ci(d: Mapping) -> str:
    return f"Δ {_fmt(d['delta'])} [{_fmt(d['low'])}, {_fmt(d['high'])}]"


def _few(positives: int, negatives: int) -> str:
    few = min(positives, negatives)
    kind = "positive" if positives <= negatives else "negative"
    return f"{few} {kind} patient{'s' if few != 1 else ''}"


DIFFERENCE_RULE = ("Δ = experiment − baseline; supported: its 95% CI lies entirely on the claimed side of 0; "
                   "contradicted: entirely on the other side; inconclusive: the CI includes 0")  # fmt: skip


def evaluate_claims(
    factors: Mapping[str, Mapping], baseline: str, scored: Mapping[str, PatientScores],
    epochs: Mapping[str, Sequence[PatientScores]], resamples: int, seed: int, min_positives: int = MIN_POSITIVES,
    margin: float = MARGIN,
) -> pd.DataFrame:  # fmt: skip
    """One row per claim: number, section, claim, the paper's numbers, the experiments compared, our estimate,
    verdict and the rule that decided it. ``epochs[name]`` holds an experiment's per-epoch scores (claim 5);
    ``margin`` is claim 6's equivalence margin."""
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

    def difference(claim: Claim, other: str | None, sign: int, need: str, exclude: Sequence[int] = (),
                   better_note: bool = False, note: str = "") -> None:  # fmt: skip
        side = "below" if sign < 0 else "above"
        rule = f"{DIFFERENCE_RULE} (claimed: Δ {side} 0)"
        if other is None:
            row(claim, f"needs an experiment with {need}", "", NOT_RUN, rule)
            return
        d = mean_difference(base, scored[other], resamples, seed, exclude, min_positives)
        estimate = f"mean AUC {d['b']:.3f} vs {d['a']:.3f}, {_ci(d)}"
        if better_note:
            estimate += f"; better on {d['better']} of {d['defined']}"
        row(claim, f"{other} − {baseline}", estimate + note, _direction_verdict(d["low"], d["high"], sign), rule)

    need_frontal = "views: frontal (otherwise as the baseline)"
    difference(c["1"], frontal, -1, need_frontal)
    lesion_positives = int(base.labels[:, LESION].sum())
    lesion_in_mean = bool(estimable(base.labels, min_positives)[LESION]) and not math.isnan(_point(base)[LESION])
    note = "" if lesion_in_mean else (
        f" (Lung Lesion, {_few(lesion_positives, len(base.labels) - lesion_positives)}, is already outside the mean: "
        "the same numbers as claim 1)")  # fmt: skip
    difference(c["1b"], frontal, -1, need_frontal, exclude=[LESION], note=note)
    share_rule = (f"share of resamples in which Lung Lesion's Δ (frontal − baseline) is the most negative: ≥ 0.95 "
                  f"supported, ≤ 0.05 contradicted, between inconclusive; 'inconclusive: N positive patients' when "
                  f"Lung Lesion has fewer than {min_positives} positive or negative patients")  # fmt: skip
    if frontal is None:
        row(c["2"], f"needs an experiment with {need_frontal}", "", NOT_RUN, share_rule)
    else:
        d = largest_loss(base, scored[frontal], LESION, resamples, seed, min_positives)
        if not d["enough"]:
            verdict = f"{INCONCLUSIVE}: {_few(d['positives'], d['negatives'])}"
            estimate = (f"Lung Lesion's Δ {_fmt(d['delta'])} (a point estimate: fewer than {min_positives} "
                        f"positive or negative patients, no share of resamples is computed)")  # fmt: skip
        else:
            verdict = SUPPORTED if d["share"] >= 0.95 else CONTRADICTED if d["share"] <= 0.05 else INCONCLUSIVE
            estimate = (f"Lung Lesion's Δ {d['delta']:+.3f} ranks {d['rank']} of {d['defined']} (most negative: "
                        f"{d['largest']}, {d['largest_delta']:+.3f}); the most negative in {d['share']:.0%} of "
                        "resamples")  # fmt: skip
        row(c["2"], f"{frontal} − {baseline}", estimate, verdict, share_rule)
    difference(c["3"], norm, +1, "normalization: dataset", better_note=True)
    difference(c["4"], scratch, -1, "init: scratch")
    count_rule = ("the count of observations (with enough patients) best at the last epoch: supported when its "
                  "bootstrap CI lies above half of them; contradicted when it lies at or below half; inconclusive "
                  "when it straddles half")  # fmt: skip
    if scratch is None or len(epochs.get(scratch, ())) < 2:
        row(c["5"], "needs init: scratch with per-epoch predictions", "", NOT_RUN, count_rule)
    else:
        d = best_at_last_epoch(epochs[scratch], resamples, seed, min_positives)
        half = d["defined"] / 2
        verdict = SUPPORTED if d["low"] > half else CONTRADICTED if d["high"] <= half else INCONCLUSIVE
        row(c["5"], f"{scratch}, epochs 1-{d['epochs']}", f"{d['count']} of {d['defined']} best at epoch "
            f"{d['epochs']} (95% CI {d['low']:.0f}-{d['high']:.0f})", verdict, count_rule)  # fmt: skip
    gap_rule = (f"equivalence, margin ±{margin:.3f} AUC: supported when the 95% CI of Δ (longer scratch − baseline) "
                f"lies inside ±{margin:.3f}; contradicted when it lies entirely outside (below −{margin:.3f}: the gap "
                "stays; above: it overshoots); inconclusive otherwise")  # fmt: skip
    if long_scratch is None or scratch is None:
        need = "init: scratch and more epochs than the baseline (e.g. epochs: 9)" if long_scratch is None else \
            "init: scratch"  # fmt: skip
        row(c["6"], f"needs an experiment with {need}", "", NOT_RUN, gap_rule)
    else:
        vs_base = mean_difference(base, scored[long_scratch], resamples, seed, min_positives=min_positives)
        vs_short = mean_difference(scored[scratch], scored[long_scratch], resamples, seed, min_positives=min_positives)
        estimate = (f"{long_scratch} ({factors[long_scratch]['epochs']} epochs) − {baseline}: {_ci(vs_base)} "
                    f"(margin ±{margin:.3f}); − {scratch}: {_ci(vs_short)}")  # fmt: skip
        row(c["6"], f"{long_scratch} − {baseline}", estimate,
            equivalence_verdict(vs_base["low"], vs_base["high"], margin), gap_rule)  # fmt: skip
    difference(c["7"], frozen, -1, "init: frozen")
    return pd.DataFrame(rows)

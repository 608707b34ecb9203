"""The paper's quantitative claims, each put to the test with a verdict. Pure functions (no file I/O).

Means are over a fixed set of observations, those with at least ``min_positives`` positive and negative patients
(the same in every resample). Every claim compares experiments that the config names by their factors: the *roles*
are found relative to the baseline (an experiment that differs from it in exactly the factor the claim is about).
Every Δ is experiment − baseline, as in the comparison table. Estimates are paired patient bootstraps (the same
resampled patients for every model; AUCs averaged over seeds, also inside each resample) and, with several seeds,
the variation between seeds drawn into every resample (:func:`~chexpertnet.evaluate.metrics.seed_noise`).

Verdicts (95%); every rule can come out each of three ways. Each claim is its own test and carries its own 5% error
(no adjustment across claims: each answers a separate question of the paper):
- a difference claim ("A is better than B"): **supported** when the CI of Δ lies entirely on the claimed side of 0,
  **contradicted** when it lies entirely on the other side, **inconclusive** when it includes 0;
- "observation X loses most": the differences Δ_j − Δ_X between every rival j and X, with simultaneous 95%
  intervals over the rivals (max-T over the bootstrap: each interval is the difference ± c·se, c the 95th percentile
  of the largest studentized deviation over the rivals, so all of them cover together); **supported** when X loses
  significantly more than every rival (every interval above 0), **contradicted** when some rival loses significantly
  more (an interval below 0), **inconclusive** otherwise; with fewer than ``min_positives`` positive (or negative)
  patients for X, "inconclusive: N positive patients", never contradicted; **not testable here** on a dataset that
  cannot test it (the phantom, whose lateral-only findings are planted, not learned from the paper);
- "most observations reach their best AUC at the last epoch": per observation (those with enough patients), the
  last epoch's AUC minus the best earlier epoch's, with its 95% bootstrap CI (the maximum taken inside each
  resample); a win is a CI above 0, a loss a CI below 0, a tie (a CI that includes 0) is not a win. **Supported**
  when the wins are more than half of the observations, **contradicted** when the losses are at least half (then
  most cannot be best at the last epoch), **inconclusive** otherwise;
- "longer training closes the gap" is a non-inferiority question with a declared margin (``margin``, AUC): Δ =
  longer scratch − baseline; **supported** when the CI's lower end lies above −margin (no worse than the baseline by
  more than the margin; a CI above +margin supports it too), **contradicted** when its upper end lies below −margin
  (the gap stays), **inconclusive** otherwise (a wide CI is a lack of power, never support). A 95% CI inside the
  bound is a one-sided test at 2.5%. The estimate says how many patients a CI of half-width ``margin`` would need;
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
    seed_draws,
    seed_noise,
    seed_part,
)
from chexpertnet.evaluate.scoring import MIN_POSITIVES, PatientScores, estimable
from chexpertnet.observations import OBSERVATIONS

SUPPORTED, CONTRADICTED, INCONCLUSIVE = "supported", "contradicted", "inconclusive"
NOT_TESTABLE = "not testable here"
NOT_RUN = "inconclusive (not run)"
LESION = OBSERVATIONS.index("Lung Lesion")
FACTORS = ("views", "normalization", "init", "uncertainty", "epochs")
MARGIN = 0.01  # claim 6's non-inferiority margin (AUC), the default of the config's claims.margin


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
    return boot + seed_noise(per_seed, seed_draws(len(counts), len(per_seed), seed, stream))


def _delta_boot(a: PatientScores, b: PatientScores, counts: np.ndarray, seed: int = 0) -> np.ndarray:
    """(B, J) resampled Δ = b − a of seed-averaged AUCs, the seeds' variation drawn in: paired seed by seed when the
    two experiments ran the same seeds (:func:`~chexpertnet.evaluate.metrics.seed_part`)."""
    boots = [np.mean([bootstrap_auc(s, r.labels, counts) for s in _stack(r)], axis=0) for r in (a, b)]
    per_seed = [np.array([per_observation_auc(r.labels, s) for s in _stack(r)]) for r in (a, b)]
    return boots[1] - boots[0] + seed_part(per_seed[0], per_seed[1], len(counts), seed, a.paired_with(b))


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
    delta = _delta_boot(a, b, counts, seed)
    samples = np.where(np.isnan(delta[:, columns]).any(axis=1), np.nan, delta[:, columns].mean(axis=1))
    low, high = percentile_ci(samples[:, None])
    return {"a": float(_mean(pa, columns)), "b": float(_mean(pb, columns)),
            "delta": float(_mean(pb, columns) - _mean(pa, columns)), "low": float(low[0]), "high": float(high[0]),
            "better": int((pb[columns] > pa[columns]).sum()), "defined": int(columns.sum()),
            "patients": len(a.patients)}  # fmt: skip


def lesion_loses_most(full: PatientScores, reduced: PatientScores, observation: int, resamples: int, seed: int,
                      min_positives: int = MIN_POSITIVES, level: float = 0.95) -> dict:  # fmt: skip
    """Whether ``observation`` loses more AUC (Δ = reduced − full) than every rival: per rival j (the other defined
    observations with at least ``min_positives`` positive and negative patients), D_j = Δ_j − Δ_observation (above
    0: the observation loses more than j) with simultaneous ``level`` intervals over the rivals (max-T: D_j ± c·se_j,
    se_j the bootstrap standard error, c the ``level`` quantile of max_j |D*_j − D_j| / se_j over the resamples).
    ``enough`` is False when ``observation`` itself has too few patients: then nothing is tested."""
    a, b = _common(full, reduced)
    pa, pb = _point(a), _point(b)
    enough = estimable(a.labels, min_positives)
    positives = int(a.labels[:, observation].sum())
    columns = ~np.isnan(pa) & ~np.isnan(pb) & enough
    out = {"delta": float(pb[observation] - pa[observation]), "positives": positives,
           "negatives": len(a.labels) - positives, "enough": bool(columns[observation])}  # fmt: skip
    if not columns[observation]:
        return out
    counts = bootstrap_counts(len(a.patients), resamples, seed)
    boot = _delta_boot(a, b, counts, seed)  # (B, J) Δ per resample
    point = pb - pa
    rivals = np.flatnonzero(columns & (np.arange(len(columns)) != observation))
    if not len(rivals):
        return out | {"rivals": 0}
    differences = point[rivals] - point[observation]
    samples = boot[:, rivals] - boot[:, [observation]]
    samples = samples[~np.isnan(samples).any(axis=1)]
    se = samples.std(axis=0, ddof=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        deviation = np.where(se > 0, np.abs(samples - differences) / np.where(se > 0, se, 1.0), 0.0)
    c = float(np.quantile(deviation.max(axis=1), level))
    low, high = differences - c * se, differences + c * se
    closest = int(np.argmin(low))
    order = np.argsort(np.where(columns, point, np.inf), kind="mergesort")
    return out | {
        "rivals": len(rivals), "names": [OBSERVATIONS[j] for j in rivals], "differences": differences, "low": low,
        "high": high, "critical": c, "closest": OBSERVATIONS[int(rivals[closest])], "rank":
        int(np.flatnonzero(order == observation)[0]) + 1, "largest": OBSERVATIONS[int(order[0])],
        "largest_delta": float(point[order[0]]), "defined": int(columns.sum()),
        "below": [OBSERVATIONS[int(rivals[k])] for k in np.flatnonzero(high < 0)],
    }  # fmt: skip


def lesion_verdict(d: Mapping) -> str:
    """Claim 2's verdict from :func:`lesion_loses_most`: supported when every simultaneous interval lies above 0,
    contradicted when one lies below 0, inconclusive otherwise."""
    if not d.get("rivals"):
        return INCONCLUSIVE
    if (d["low"] > 0).all():
        return SUPPORTED
    if (d["high"] < 0).any():
        return CONTRADICTED
    return INCONCLUSIVE


def last_epoch_gains(epochs: Sequence[PatientScores], resamples: int, seed: int, min_positives: int = MIN_POSITIVES,
                     level: float = 0.95) -> dict:  # fmt: skip
    """Per observation with enough patients (defined at every epoch): the last epoch's AUC minus the best earlier
    epoch's (seed-averaged; the maximum taken inside each resample too), with its ``level`` bootstrap CI; the wins
    (CI above 0), losses (CI below 0) and ties."""
    labels = epochs[-1].labels
    points = np.array([_point(e) for e in epochs])  # (E, J)
    columns = ~np.isnan(points).any(axis=0) & estimable(labels, min_positives)
    counts = bootstrap_counts(len(labels), resamples, seed)
    boots = np.array([_boot(e, counts, seed, 1) for e in epochs])[:, :, columns]  # (E, B, K), one stream: a run
    gains = boots[-1] - boots[:-1].max(axis=0)  # (B, K)
    gains = gains[~np.isnan(gains).any(axis=1)]
    low, high = percentile_ci(gains, level)
    point = points[-1, columns] - points[:-1, columns].max(axis=0)
    wins, losses = int((low > 0).sum()), int((high < 0).sum())
    return {"gain": point, "low": low, "high": high, "observations": [OBSERVATIONS[j] for j in np.flatnonzero(columns)],
            "wins": wins, "losses": losses, "ties": int(columns.sum()) - wins - losses, "defined": int(columns.sum()),
            "epochs": len(epochs), "count": int((point >= 0).sum())}  # fmt: skip


def last_epoch_verdict(d: Mapping) -> str:
    """Claim 5's verdict: supported when the wins are more than half of the observations, contradicted when the
    losses are at least half, inconclusive otherwise."""
    half = d["defined"] / 2
    if not d["defined"]:
        return INCONCLUSIVE
    if d["wins"] > half:
        return SUPPORTED
    if d["losses"] >= half:
        return CONTRADICTED
    return INCONCLUSIVE


def noninferiority_verdict(low: float, high: float, margin: float) -> str:
    """Non-inferiority with a margin: supported when the CI's lower end lies above −margin, contradicted when its
    upper end lies below −margin, inconclusive otherwise."""
    if math.isnan(low) or math.isnan(high):
        return INCONCLUSIVE
    if low > -margin:
        return SUPPORTED
    if high < -margin:
        return CONTRADICTED
    return INCONCLUSIVE


def patients_for_margin(patients: int, low: float, high: float, margin: float) -> int | None:
    """The patients a CI of half-width ``margin`` would need, at the half-width this one has with ``patients``
    (a CI's width goes as 1/sqrt(patients))."""
    half_width = (high - low) / 2
    if math.isnan(half_width) or half_width <= 0:
        return None
    return math.ceil(patients * (half_width / margin) ** 2)


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
    margin: float = MARGIN, phantom: bool = False,
) -> pd.DataFrame:  # fmt: skip
    """One row per claim: number, section, claim, the paper's numbers, the experiments compared, our estimate,
    verdict and the rule that decided it. ``epochs[name]`` holds an experiment's per-epoch scores (claim 5);
    ``margin`` is claim 6's non-inferiority margin; ``phantom``: the data cannot test claim 2 (its verdict is
    "not testable here", the estimate still shown)."""
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
    base_defined = int((~np.isnan(_point(base)) & estimable(base.labels, min_positives)).sum())
    paper_note = (f"; ours over the {base_defined} observations with at least {min_positives} positive and negative "
                  "patients, the paper's over 13, whose gap rests on one Lung Lesion patient (without it 0.8588 vs "
                  "0.8497: claim 1b)")  # fmt: skip
    difference(c["1"], frontal, -1, need_frontal, note=paper_note)
    lesion_positives = int(base.labels[:, LESION].sum())
    lesion_in_mean = bool(estimable(base.labels, min_positives)[LESION]) and not math.isnan(_point(base)[LESION])
    note = "" if lesion_in_mean else (
        f" (Lung Lesion, {_few(lesion_positives, len(base.labels) - lesion_positives)}, is already outside the mean: "
        "the same numbers as claim 1)")  # fmt: skip
    difference(c["1b"], frontal, -1, need_frontal, exclude=[LESION], note=note)
    lesion_rule = ("D_j = Δ_j − Δ_Lung Lesion for every other observation j with enough patients (Δ = frontal − "
                   "baseline), with simultaneous 95% max-T intervals over them: supported when Lung Lesion loses "
                   "significantly more than every one (all intervals above 0); contradicted when one loses "
                   "significantly more than Lung Lesion (an interval below 0); inconclusive otherwise; "
                   f"'inconclusive: N positive patients' when Lung Lesion has fewer than {min_positives} positive or "
                   "negative patients; not testable on the phantom, whose lateral-only findings are "
                   "planted")  # fmt: skip
    if frontal is None:
        row(c["2"], f"needs an experiment with {need_frontal}", "", NOT_RUN, lesion_rule)
    else:
        d = lesion_loses_most(base, scored[frontal], LESION, resamples, seed, min_positives)
        if not d["enough"]:
            verdict = f"{INCONCLUSIVE}: {_few(d['positives'], d['negatives'])}"
            estimate = (f"Lung Lesion's Δ {_fmt(d['delta'])} (a point estimate: fewer than {min_positives} "
                        f"positive or negative patients, nothing is tested)")  # fmt: skip
        elif not d.get("rivals"):
            verdict, estimate = INCONCLUSIVE, f"Lung Lesion's Δ {d['delta']:+.3f}; no other observation to compare"
        else:
            verdict = lesion_verdict(d)
            k = d["names"].index(d["closest"])
            estimate = (f"Lung Lesion's Δ {d['delta']:+.3f} ranks {d['rank']} of {d['defined']} (most negative: "
                        f"{d['largest']}, {d['largest_delta']:+.3f}); D = Δ_rival − Δ_LL, closest rival "
                        f"{d['closest']}: {_fmt(d['differences'][k])} [{_fmt(d['low'][k])}, {_fmt(d['high'][k])}] "
                        f"(simultaneous over {d['rivals']} rivals)")  # fmt: skip
            if d["below"]:
                estimate += f"; losing significantly more than Lung Lesion: {', '.join(d['below'])}"
        if phantom and d["enough"]:
            verdict = f"{NOT_TESTABLE} ({verdict} on the phantom)"
        row(c["2"], f"{frontal} − {baseline}", estimate, verdict, lesion_rule)
    difference(c["3"], norm, +1, "normalization: dataset", better_note=True)
    difference(c["4"], scratch, -1, "init: scratch")
    gain_rule = ("per observation with enough patients, the last epoch's AUC − the best earlier epoch's with its 95% "
                 "bootstrap CI (a win: above 0; a loss: below 0; a tie, including 0, is not a win): supported when "
                 "the wins are more than half of the observations; contradicted when the losses are at least half; "
                 "inconclusive otherwise")  # fmt: skip
    if scratch is None or len(epochs.get(scratch, ())) < 2:
        row(c["5"], "needs init: scratch with per-epoch predictions", "", NOT_RUN, gain_rule)
    else:
        d = last_epoch_gains(epochs[scratch], resamples, seed, min_positives)
        row(c["5"], f"{scratch}, epochs 1-{d['epochs']}", f"best at epoch {d['epochs']}: {d['count']} of "
            f"{d['defined']} as point estimates; significantly better than every earlier epoch on {d['wins']}, "
            f"worse on {d['losses']}, tied on {d['ties']}", last_epoch_verdict(d), gain_rule)  # fmt: skip
    gap_rule = (f"non-inferiority, margin {margin:.3f} AUC: supported when the 95% CI of Δ (longer scratch − "
                f"baseline) lies above −{margin:.3f} (no worse than the baseline by more than the margin); "
                f"contradicted when it lies below −{margin:.3f} (the gap stays); inconclusive otherwise. A 95% CI "
                "beyond the bound is a one-sided test at 2.5%")  # fmt: skip
    if long_scratch is None or scratch is None:
        need = "init: scratch and more epochs than the baseline (e.g. epochs: 9)" if long_scratch is None else \
            "init: scratch"  # fmt: skip
        row(c["6"], f"needs an experiment with {need}", "", NOT_RUN, gap_rule)
    else:
        vs_base = mean_difference(base, scored[long_scratch], resamples, seed, min_positives=min_positives)
        vs_short = mean_difference(scored[scratch], scored[long_scratch], resamples, seed, min_positives=min_positives)
        needed = patients_for_margin(vs_base["patients"], vs_base["low"], vs_base["high"], margin)
        power = "" if needed is None else (
            f"; a CI of half-width {margin:.3f} would need about {needed:,} patients "
            f"({needed / vs_base['patients']:.1f}x these {vs_base['patients']})")  # fmt: skip
        estimate = (f"{long_scratch} ({factors[long_scratch]['epochs']} epochs) − {baseline}: {_ci(vs_base)} "
                    f"(margin {margin:.3f}){power}; − {scratch}: {_ci(vs_short)}")  # fmt: skip
        row(c["6"], f"{long_scratch} − {baseline}", estimate,
            noninferiority_verdict(vs_base["low"], vs_base["high"], margin), gap_rule)  # fmt: skip
    difference(c["7"], frozen, -1, "init: frozen")
    return pd.DataFrame(rows)

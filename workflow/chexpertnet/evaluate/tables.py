"""The result tables: the paper's Tables 1-4 (one per experiment), the comparison against the baseline, and the
paper's values beside ours. Pure functions from score frames to frames and Markdown/HTML text (no file I/O).

Every number is formatted with a fixed number of decimals so that a table regenerated from the same inputs is
byte-identical; an undefined value is NaN in CSV and ``n/a`` in Markdown/HTML.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from chexpertnet.evaluate.scoring import MEAN_DEFINED, MEAN_ESTIMABLE, MEAN_ROWS, MIN_POSITIVES
from chexpertnet.markup import html_page, markdown
from chexpertnet.observations import ABBREVIATIONS, COMPETITION_TASKS, OBSERVATIONS, abbreviation_legend

NA = "n/a"
FLOAT_FORMAT = "%.6f"
ROUNDING = 0.0005  # the paper prints 3 decimals: a mean of its values can differ from the stated one by this much
UNSTABLE_MARK = "†"


def _isnan(x) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def fmt(x, digits: int = 3, sign: bool = False) -> str:
    if _isnan(x):
        return NA
    return f"{x:+.{digits}f}" if sign else f"{x:.{digits}f}"


def fmt_ci(low, high, digits: int = 3, sign: bool = False) -> str:
    if _isnan(low) or _isnan(high):
        return NA
    return f"[{fmt(low, digits, sign)}, {fmt(high, digits, sign)}]"


def fmt_p(p) -> str:
    if _isnan(p):
        return NA
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def fmt_auc_sd(auc, sd, digits: int = 3) -> str:
    return fmt(auc, digits) if _isnan(sd) else f"{fmt(auc, digits)} ± {fmt(sd, digits)}"


# --- one experiment: the paper's Tables 1-4 -------------------------------------------------------------------------
def _on(on: str) -> str:
    return f", on {on}" if on else ""


def describe(factors: Mapping[str, str]) -> str:
    return ", ".join(f"{k} {v}" for k, v in factors.items())


def paper_row(table: pd.DataFrame) -> pd.DataFrame:
    """The paper's layout: one header of abbreviations and one row of AUCs (± sd over seeds), then the mean."""
    rows = table.set_index("observation")
    cells = {}
    for observation, abbreviation in zip(OBSERVATIONS, ABBREVIATIONS, strict=True):
        r = rows.loc[observation]
        cells[abbreviation] = fmt_auc_sd(r["auc"], r["sd"]) + (UNSTABLE_MARK if r["unstable"] else "")
    cells["mean_all"] = fmt_auc_sd(rows.loc[MEAN_DEFINED, "auc"], rows.loc[MEAN_DEFINED, "sd"])
    return pd.DataFrame([cells])


def detail_rows(table: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame({
        "": table["abbreviation"],
        "observation": table["observation"],
        "AUC": [fmt_auc_sd(a, s) for a, s in zip(table["auc"], table["sd"], strict=True)],
        "95% CI": [fmt_ci(lo, hi) for lo, hi in zip(table["ci_low"], table["ci_high"], strict=True)],
        "positives": table["positives"].astype(str),
        "negatives": table["negatives"].astype(str),
    })  # fmt: skip
    means = out["observation"].isin(MEAN_ROWS)
    out.loc[means, "positives"] = [f"{n} observations" for n in table.loc[means, "positives"]]
    out.loc[means, "negatives"] = ""
    out.loc[table["unstable"].to_numpy(), ""] += UNSTABLE_MARK
    return out


def covers(seeds: int) -> str:
    """What an interval covers, for experiments with ``seeds`` training seeds (the most of any compared)."""
    if seeds > 1:
        return ("the interval covers patient sampling and the variation between training seeds (a t with S − 1 "
                "degrees of freedom and the seeds' variance of their mean, s²/S)")  # fmt: skip
    return "the interval covers patient sampling only (one training seed: the variation between trainings is not in it)"


def _seeds(tables: Mapping[str, pd.DataFrame]) -> int:
    return max((int(t["seeds"].iloc[0]) for t in tables.values()), default=1)


def experiment_notes(table: pd.DataFrame, resamples: int, aggregate: str,
                     min_positives: int = MIN_POSITIVES) -> str:  # fmt: skip
    seeds = int(table["seeds"].iloc[0])
    spread = f"mean ± sd over {seeds} seeds" if seeds > 1 else "one seed"
    observations = table[~table["observation"].isin(MEAN_ROWS)]
    undefined = observations.loc[observations["auc"].isna(), "abbreviation"].tolist()
    few = observations.loc[observations["unstable"] & observations["auc"].notna(), "abbreviation"].tolist()
    counts = table.set_index("abbreviation")["positives"]
    text = (
        f"Patient-level ROC-AUC (patient score = {aggregate} of its images' P(positive)); {spread}; 95% CI of an "
        "observation: Newcombe's score interval over patients (it covers with 10 positive patients, where a "
        "bootstrap percentile interval does not), of a mean: the percentile interval of "
        f"{resamples} patient bootstrap resamples; {covers(seeds)}. {UNSTABLE_MARK}: fewer than {min_positives} "
        "positive or negative patients: the AUC is a point estimate, with no CI, and stays out of the CI'd means"
        f"{' (' + ', '.join(few) + ')' if few else ''}. mean: over the {counts['mean']} observations with enough "
        f"patients, the same observations in every resample; mean5: over those of CheXpert's five competition tasks "
        f"({', '.join(COMPETITION_TASKS)}; {counts['mean5']}); mean_all: over every defined observation "
        f"({counts['mean_all']}; the paper's mean), a point estimate. In the CSV the means' `positives` column holds "
        "the number of observations averaged. "
    )
    if undefined:
        text += f"{NA}: undefined (only one class among the patients: {', '.join(undefined)}), excluded from means. "
    return (text + abbreviation_legend()).strip()


def experiment_markdown(name: str, factors: Mapping[str, str], table: pd.DataFrame, paper: Mapping | None,
                        resamples: int, aggregate: str, on: str = "",
                        min_positives: int = MIN_POSITIVES) -> str:  # fmt: skip
    """``on``: the evaluation set when it is not the validation set, shown in the title ("the test set")."""
    title = f"# {name}: AUC per observation ({describe(factors)}){_on(on)}\n\n"
    if paper:
        title += f"The paper's Table {paper['table']}, \"{paper['title']}\" (section {paper['section']}).\n\n"
    return (
        title + markdown(paper_row(table)) + "\n" + markdown(detail_rows(table)) + "\n"
        + experiment_notes(table, resamples, aggregate, min_positives) + "\n"
    )  # fmt: skip


def experiment_html(name: str, factors: Mapping[str, str], table: pd.DataFrame, paper: Mapping | None,
                    resamples: int, aggregate: str, on: str = "",
                    min_positives: int = MIN_POSITIVES) -> str:  # fmt: skip
    intro = describe(factors)
    if paper:
        intro += f". The paper's Table {paper['table']}, \"{paper['title']}\" (section {paper['section']})."
    return html_page(f"{name}: AUC per observation{_on(on)}", [
        ("", intro, paper_row(table)),
        ("", experiment_notes(table, resamples, aggregate, min_positives), detail_rows(table)),
    ])  # fmt: skip


# --- all experiments against the baseline ----------------------------------------------------------------------------
def comparison_summary(baseline: str, factors: Mapping[str, Mapping[str, str]], tables: Mapping[str, pd.DataFrame],
                       comparisons: Mapping[str, pd.DataFrame]) -> pd.DataFrame:  # fmt: skip
    rows = []
    for name, table in tables.items():
        mean = table.set_index("observation").loc[MEAN_ESTIMABLE]
        row = {
            "experiment": name, **factors[name], "seeds": str(int(mean["seeds"])),
            "mean AUC": fmt_auc_sd(mean["auc"], mean["sd"]), "95% CI": fmt_ci(mean["ci_low"], mean["ci_high"]),
        }  # fmt: skip
        if name == baseline:
            row.update({"Δ mean AUC": "(baseline)", "Δ 95% CI": "", "p": ""})
        else:
            d = comparisons[name].set_index("observation").loc[MEAN_ESTIMABLE]
            row.update({"Δ mean AUC": fmt(d["delta"], sign=True), "Δ 95% CI": fmt_ci(d["ci_low"], d["ci_high"],
                        sign=True), "p": fmt_p(d["p"])})  # fmt: skip
        rows.append(row)
    return pd.DataFrame(rows)


def _grid(comparisons: Mapping[str, pd.DataFrame], cell, rows: int | None = None) -> pd.DataFrame:
    """One row per experiment, one column per abbreviation: ``cell(row)`` of the first ``rows`` comparison rows."""
    return pd.DataFrame([
        {"experiment": name, **{r["abbreviation"]: cell(r) for _, r in comp.iloc[:rows].iterrows()}}
        for name, comp in comparisons.items()
    ])  # fmt: skip


def primary(r: pd.Series) -> bool:
    """The comparison's one primary test: per observation, the paired bootstrap's p-value Holm-adjusted over the
    observations with enough patients, below 0.05; for a mean (a single test, outside that family), its 95% CI
    excludes 0."""
    if r["observation"] in MEAN_ROWS:
        return not _isnan(r["ci_low"]) and (r["ci_low"] > 0 or r["ci_high"] < 0)
    return not _isnan(r["p_holm"]) and r["p_holm"] < 0.05


def _delta_cell(r: pd.Series) -> str:
    cell = fmt(r["delta"], sign=True)
    if cell != NA and primary(r):
        cell = f"**{cell}**"
    if cell != NA and _isnan(r["p"]) and r["observation"] != MEAN_DEFINED:
        cell += UNSTABLE_MARK  # too few patients for a test
    return cell


def _delong_cell(r: pd.Series) -> str:
    return fmt_p(r["p_delong"])


def delta_grid(comparisons: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """ΔAUC per observation and mean: bold where the primary test (:func:`primary`) rejects Δ = 0."""
    return _grid(comparisons, _delta_cell)


def delong_grid(comparisons: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """DeLong's p-value of ΔAUC per observation (secondary, unadjusted: never bold)."""
    return _grid(comparisons, _delong_cell, len(OBSERVATIONS))


def delong_notes(seeds: int) -> str:
    part = ("patient sampling, plus the variance between training seeds, s²/S per experiment" if seeds > 1 else
            "patient sampling only (one training seed)")  # fmt: skip
    return (
        "DeLong's test (DeLong et al. 1988; the fast algorithm of Sun & Xu 2014) of the same Δ per observation: the "
        f"variance of the paired AUC difference from the patients' structural components ({part}), two-sided p, "
        "unadjusted. Secondary: shown beside the primary test for readers who know it, not a second verdict (bold "
        "above is the primary test). n/a where the observation has too few positive or negative patients (as in the "
        "grid above). comparison.csv has its 95% CI (delong_low, delong_high)."
    )


def comparison_notes(baseline: str, resamples: int, comparisons: Mapping[str, pd.DataFrame],
                     on: str = "", min_positives: int = MIN_POSITIVES, seeds: int = 1) -> str:  # fmt: skip
    patients = ", ".join(f"{n} {int(c['patients'].iloc[0])}" for n, c in comparisons.items())
    first = next(iter(comparisons.values())).set_index("abbreviation")
    few = [a for a in ABBREVIATIONS if not _isnan(first.loc[a, "delta"]) and _isnan(first.loc[a, "p"])]
    return (
        f"Δ = experiment − {baseline}, by a paired patient bootstrap ({resamples} resamples; the same resampled "
        f"patients for both; patients scored by both: {patients}); {covers(seeds)}. mean and "
        "the summary's mean AUC: over the observations with enough patients, the same in every resample; mean_all: "
        "over every defined observation, a point estimate. One primary test, bold in the grid: per observation the "
        "paired bootstrap's two-sided p-value, (k + 1)/(B + 1), Holm-adjusted over the observations with enough "
        "patients (p_holm < 0.05); for mean, its 95% CI excludes 0 (a single test, outside that family). "
        "Secondary, never bold: each observation's unadjusted 95% CI and p (comparison.csv's ci_low, ci_high, p) "
        f"and DeLong's test below. {UNSTABLE_MARK}: fewer than {min_positives} positive or negative patients: Δ as a "
        f"point estimate, no CI, no p, never bold{' (' + ', '.join(few) + ')' if few else ''}. {abbreviation_legend()} "
        "A difference whose CI includes 0 "
        f"is not distinguishable from noise on {on or 'this validation set'}."
    )


def comparison_markdown(baseline, factors, tables, comparisons, resamples, on: str = "",
                        min_positives: int = MIN_POSITIVES) -> str:  # fmt: skip
    text = f"# Experiments against the baseline{_on(on)}\n\n" + markdown(comparison_summary(baseline, factors, tables,
                                                                                comparisons))  # fmt: skip
    if comparisons:
        text += "\n## ΔAUC per observation\n\n" + markdown(delta_grid(comparisons))
        text += "\n" + comparison_notes(baseline, resamples, comparisons, on, min_positives, _seeds(tables)) + "\n"
        text += "\n## DeLong's test per observation (p-value, secondary)\n\n" + markdown(delong_grid(comparisons))
        text += "\n" + delong_notes(_seeds(tables)) + "\n"
    return text


def comparison_html(baseline, factors, tables, comparisons, resamples, on: str = "",
                    min_positives: int = MIN_POSITIVES) -> str:  # fmt: skip
    sections = [("", "", comparison_summary(baseline, factors, tables, comparisons))]
    if comparisons:
        grid = delta_grid(comparisons).replace(r"\*\*(.*?)\*\*", r"\1 (primary test: p < 0.05)", regex=True)
        notes = comparison_notes(baseline, resamples, comparisons, on, min_positives, _seeds(tables))
        sections.append(("ΔAUC per observation", notes, grid))
        sections.append(("DeLong's test per observation (p-value, secondary)", delong_notes(_seeds(tables)),
                         delong_grid(comparisons)))
    return html_page(f"Experiments against the baseline{_on(on)}", sections)


def comparison_frame(comparisons: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    if not comparisons:
        return pd.DataFrame(columns=["experiment", "observation", "abbreviation", "patients", "auc_baseline", "auc",
                                     "delta", "ci_low", "ci_high", "p", "p_holm", "delong_low", "delong_high",
                                     "p_delong"])  # fmt: skip
    return pd.concat([c.assign(experiment=n)[["experiment", *c.columns]] for n, c in comparisons.items()],
                     ignore_index=True)  # fmt: skip


# --- the paper beside us ---------------------------------------------------------------------------------------------
def paper_vs_ours(paper: Mapping[str, Mapping], tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Per experiment that the paper reports: its value, ours and ours − paper per observation; the mean of the
    paper's values beside our mean over the same observations; the paper's stated mean beside our mean over every
    defined observation, with a note where the stated mean disagrees with the paper's own values."""
    rows = []
    for name, entry in paper.items():
        if name not in tables:
            continue
        ours = tables[name].set_index("abbreviation")["auc"]
        values = entry.get("values") or {}
        for observation, abbreviation in zip(OBSERVATIONS, ABBREVIATIONS, strict=True):
            p = values.get(abbreviation)
            p = math.nan if p is None else float(p)
            rows.append({"experiment": name, "paper_table": entry["table"], "row": observation,
                         "abbreviation": abbreviation, "paper": p, "ours": ours[abbreviation], "note": ""})  # fmt: skip
        reported = [a for a in ABBREVIATIONS if values.get(a) is not None]
        computed = float(np.mean([values[a] for a in reported])) if reported else math.nan
        # over the observations the paper reports; where it reports none, over every one of ours that is defined
        ours_same = [ours[a] for a in (reported or ABBREVIATIONS) if not math.isnan(ours[a])]
        note = "" if reported else (f"the paper gives no per-observation values; ours: the mean of our "
                                    f"{len(ours_same)} defined observations")  # fmt: skip
        rows.append({"experiment": name, "paper_table": entry["table"],
                     "row": f"mean of the paper's {len(reported)} values", "abbreviation": "mean (values)",
                     "paper": computed, "ours": float(np.mean(ours_same)) if ours_same else math.nan,
                     "note": note})  # fmt: skip
        stated = entry.get("stated_mean")
        stated = math.nan if stated is None else float(stated)
        note = f"stated in {entry.get('stated_mean_source', 'the paper')}"
        if reported and not math.isnan(stated) and abs(stated - computed) > ROUNDING:
            note += (f"; DISAGREES with the paper's own values, whose mean is {computed:.4f} "
                     f"(difference {stated - computed:+.4f})")  # fmt: skip
        rows.append({"experiment": name, "paper_table": entry["table"], "row": "mean as stated by the paper",
                     "abbreviation": "mean (stated)", "paper": stated, "ours": ours["mean_all"],
                     "note": note})  # fmt: skip
    frame = pd.DataFrame(rows, columns=["experiment", "paper_table", "row", "abbreviation", "paper", "ours", "note"])
    frame.insert(6, "difference", frame["ours"] - frame["paper"])
    return frame


def _paper_vs_ours_sections(frame: pd.DataFrame, paper: Mapping[str, Mapping]):
    for name, part in frame.groupby("experiment", sort=False):
        entry = paper[name]
        wide = pd.DataFrame({
            "": ["paper", "ours", "ours − paper"],
            **{a: [fmt(r["paper"], d), fmt(r["ours"], d), fmt(r["difference"], d, sign=True)]
               for _, r in part.iterrows() for a, d in [(r["abbreviation"], 4 if r["row"].startswith("mean") else 3)]},
        })  # fmt: skip
        notes = [f"{r['abbreviation']}: {r['note']}" for _, r in part.iterrows() if r["note"]]
        notes += list(entry.get("notes") or [])
        heading = f"{name}: the paper's Table {entry['table']}, \"{entry['title']}\" (section {entry['section']})"
        yield heading, wide, notes


def paper_vs_ours_markdown(frame: pd.DataFrame, paper: Mapping[str, Mapping]) -> str:
    text = (
        "# The paper's values beside ours\n\nOur values are patient-level AUCs on this dataset; the paper's are on "
        "real CheXpert. ours − paper is not a test: see the comparison table for what is significant.\n"
    )
    for heading, wide, notes in _paper_vs_ours_sections(frame, paper):
        text += f"\n## {heading}\n\n" + markdown(wide)
        text += "".join(f"\n- {n}" for n in notes) + ("\n" if notes else "")
    return text


def paper_vs_ours_html(frame: pd.DataFrame, paper: Mapping[str, Mapping]) -> str:
    return html_page("The paper's values beside ours", [
        (heading, " ".join(notes), wide) for heading, wide, notes in _paper_vs_ours_sections(frame, paper)
    ])  # fmt: skip


P_COLUMNS = ("p", "p_holm", "p_delong")


def to_csv(frame: pd.DataFrame) -> str:
    """CSV text with fixed float formatting and ``\\n`` line endings (NaN as an empty field); p-values with six
    significant digits, so that a small one is not written as 0.000000."""
    frame = frame.copy()
    for column in P_COLUMNS:
        if column in frame.columns:
            frame[column] = [("" if pd.isna(v) else f"{v:.6g}") for v in frame[column]]
    return frame.to_csv(index=False, float_format=FLOAT_FORMAT, lineterminator="\n")


# --- the paper's claims ---------------------------------------------------------------------------------------------
CLAIM_COLUMNS = {"claim": "claim", "section": "section", "statement": "the paper says", "paper": "paper's numbers",
                 "compared": "compared", "ours": "our estimate (95% CI)", "verdict": "verdict"}  # fmt: skip


PHANTOM_CLAIMS = (
    "On the phantom, claims 1, 1b, 4 and 7 test planted effects (findings the frontal view hides; the synthetic "
    "pretraining). Claim 2 cannot be tested (its verdict: not testable here): the phantom hides Lung Lesion, Pleural "
    "Effusion, Atelectasis and Pneumothorax behind the frontal view alike, so which loses most is not planted. "
    "Claims 3, 5 and 6 have no planted "
    "effect: their verdicts describe the phantom, not the paper."
)


def claims_notes(resamples: int, phantom: bool = False, seeds: int = 1) -> str:
    if seeds > 1:
        covers_seeds = (f"AUCs averaged over the {seeds} seeds, also inside each resample, with the variation between "
                        "seeds drawn into every resample: the intervals cover patients and seeds")  # fmt: skip
    else:
        covers_seeds = ("one training seed per experiment: the intervals cover patient sampling only, not the "
                        "variation between trainings, which can be as large (run several seeds to cover "
                        "it)")  # fmt: skip
    text = (f"Δ = experiment − baseline in every row, as in the comparison table. Paired patient bootstrap "
            f"({resamples} resamples; {covers_seeds}). Means over the observations with enough positive and "
            "negative patients, the same in every resample. Each claim is its own test at the 5% level (no "
            "adjustment across claims: each answers a separate question of the paper). A difference is supported "
            "when its 95% CI lies entirely on the claimed side of 0, contradicted when it lies entirely on the other "
            "side, inconclusive when it includes 0; claims 2, 5 and 6 have rules of their own (the CSV's 'rule' "
            "column; docs/methods.md, 'The paper's claims'); 'not run' names the experiment a claim "
            "needs.")  # fmt: skip
    return text + (" " + PHANTOM_CLAIMS if phantom else "")


def claims_markdown(frame: pd.DataFrame, resamples: int, on: str = "", phantom: bool = False, seeds: int = 1) -> str:
    shown = frame[list(CLAIM_COLUMNS)].rename(columns=CLAIM_COLUMNS)
    title = f"# The paper's claims, each with a verdict{_on(on)}\n\n"
    return title + markdown(shown) + "\n" + claims_notes(resamples, phantom, seeds) + "\n"


def claims_html(frame: pd.DataFrame, resamples: int, on: str = "", phantom: bool = False, seeds: int = 1) -> str:
    shown = frame[list(CLAIM_COLUMNS)].rename(columns=CLAIM_COLUMNS)
    notes = claims_notes(resamples, phantom, seeds)
    return html_page(f"The paper's claims, each with a verdict{_on(on)}", [("", notes, shown)])

"""The operating points' tables as Markdown and HTML, from the rows of every run
(:func:`chexpertnet.evaluate.operating_points.evaluate` with ``experiment`` and ``seed`` columns). Pure text."""

from __future__ import annotations

import pandas as pd

from chexpertnet.evaluate.binary import METRICS
from chexpertnet.evaluate.readers_text import value_ci
from chexpertnet.evaluate.tables import UNSTABLE_MARK, fmt
from chexpertnet.markup import html_page, markdown
from chexpertnet.observations import ABBREVIATION_OF, abbreviation_legend

_NAMES = {"sensitivity": "sensitivity", "specificity": "specificity", "ppv": "PPV", "npv": "NPV", "f1": "F1",
          "mcc": "MCC"}  # fmt: skip


def legend(resamples: int, min_positives: int, split: str) -> str:
    where = ("on the validation patients, where each threshold was chosen" if split == "valid" else
             "on the test set, at the threshold chosen on the validation patients (never on the test set)")
    return (
        f"Per experiment, rule and observation: the threshold (a patient is called positive when its score, the "
        f"aggregate of its images' P(positive), is at least it) and, {where}, sensitivity, specificity, PPV, NPV, "
        f"F1 and MCC with 95% CIs from {resamples} patient bootstrap resamples, which cover the sampling of these "
        "patients for this threshold (not the threshold's own variation, nor the training seed). Rules: Youden's J "
        "= the highest sensitivity + specificity − 1; sensitivity ≥ S = the highest threshold that keeps it (the "
        "best specificity); specificity ≥ S likewise; readers' mean specificity = specificity ≥ the radiologists' "
        "mean on the test set. A rule needs at least "
        f"{min_positives} positive and negative validation patients, and for a target S at least 1/(1 − S) of the "
        f"targeted class; where it is not met the row says why. {UNSTABLE_MARK}: fewer than {min_positives} "
        "positive or negative patients in this set: point estimates only. " + abbreviation_legend()
    )


def rows_frame(table: pd.DataFrame) -> pd.DataFrame:
    out = []
    for _, r in table.iterrows():
        cells = {"model": f"{r['experiment']} seed {int(r['seed'])}", "rule": r["rule_label"]}
        if r["rule"] == "readers_specificity":
            cells["rule"] += f" ({fmt(r['target'])})"
        cells["observation"] = ABBREVIATION_OF.get(r["observation"], r["observation"]) + (
            UNSTABLE_MARK if r["unstable"] else "")  # fmt: skip
        if pd.isna(r["threshold"]):
            cells["threshold"] = r["note"] if isinstance(r["note"], str) and r["note"] else "n/a"
            cells |= {_NAMES[k]: "" for k in METRICS}
        else:
            cells["threshold"] = f"{r['threshold']:.4g}"
            for k in METRICS:
                cells[_NAMES[k]] = value_ci(r[k], r[f"{k}_low"], r[f"{k}_high"])
        out.append(cells)
    return pd.DataFrame(out)


def title(split: str) -> str:
    where = "validation set" if split == "valid" else "test set (thresholds from the validation set)"
    return f"Operating points on the {where}"


def op_markdown(table: pd.DataFrame, resamples: int, min_positives: int, split: str) -> str:
    return (f"# {title(split)}\n\n" + markdown(rows_frame(table)) + "\n" + legend(resamples, min_positives, split)
            + "\n")  # fmt: skip


def op_html(table: pd.DataFrame, resamples: int, min_positives: int, split: str) -> str:
    return html_page(title(split), [("", legend(resamples, min_positives, split), rows_frame(table))])

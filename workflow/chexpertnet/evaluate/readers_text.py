"""The readers' tables as Markdown and HTML, and their figure: from :func:`chexpertnet.evaluate.readers.evaluate`'s
frames (one model's, or the workflow's runs with ``experiment`` and ``seed`` columns). Pure text (no file I/O)."""

from __future__ import annotations

import pandas as pd

from chexpertnet.evaluate.tables import NA, UNSTABLE_MARK, fmt, fmt_ci
from chexpertnet.markup import html_page, markdown
from chexpertnet.observations import ABBREVIATION_OF, abbreviation_legend


def legend(resamples: int, min_positives: int, decisions: bool) -> str:
    text = (
        "Each reader's sensitivity and specificity against the labels, study by study; the model's AUC, and its "
        "sensitivity at the reader's false-positive rate on its ROC curve (every threshold, linearly interpolated "
        "between them). Below: 1 when the model's sensitivity there is higher than the reader's (the reader lies "
        "below the curve); a point on the curve is not below. Δ sens = model's − reader's sensitivity at the "
        "reader's false-positive rate. MCC: Matthews correlation of the reader's decisions"
    )
    text += "; Δ MCC = the model's decisions' MCC − the reader's." if decisions else "."
    text += (
        f" 95% CIs from {resamples} resamples of a paired patient bootstrap (the same resampled studies for the "
        "model and every reader): they cover the sampling of patients, not the choice of readers nor the model's "
        f"training seed. {UNSTABLE_MARK}: fewer than {min_positives} positive or negative studies: point estimates "
        "only. " + abbreviation_legend()
    )
    return text


def value_ci(value, low, high, sign: bool = False) -> str:
    """The value and, where there is one, its interval."""
    ci = fmt_ci(low, high, sign=sign)
    return fmt(value, sign=sign) + ("" if ci == NA else f" {ci}")


def _who(row: pd.Series) -> str:
    return f"{row['experiment']} seed {int(row['seed'])}" if "experiment" in row.index else ""


def rows_frame(table: pd.DataFrame) -> pd.DataFrame:
    out = []
    for _, r in table.iterrows():
        cells = {}
        if "experiment" in table.columns:
            cells["model"] = _who(r)
        mark = UNSTABLE_MARK if r["unstable"] else ""
        cells |= {
            "observation": f"{ABBREVIATION_OF.get(r['observation'], r['observation'])}{mark}",
            "reader": r["reader"],
            "sensitivity [95% CI]": value_ci(r["sensitivity"], r["sensitivity_low"], r["sensitivity_high"]),
            "specificity [95% CI]": value_ci(r["specificity"], r["specificity_low"], r["specificity_high"]),
            "model AUC": fmt(r["auc"]),
            "model sens. at reader's FPR": fmt(r["model_sensitivity"]),
            "Δ sens [95% CI]": value_ci(r["sensitivity_gap"], r["sensitivity_gap_low"], r["sensitivity_gap_high"],
                                        sign=True),
            "below": NA if pd.isna(r["below"]) else str(int(r["below"])),
            "reader MCC": fmt(r["reader_mcc"]),
        }  # fmt: skip
        if table["model_mcc"].notna().any():
            cells["model MCC"] = fmt(r["model_mcc"])
            cells["Δ MCC [95% CI]"] = value_ci(r["mcc_gap"], r["mcc_gap_low"], r["mcc_gap_high"], sign=True)
        out.append(cells)
    return pd.DataFrame(out)


def counts_frame(counts: pd.DataFrame) -> pd.DataFrame:
    out = []
    shares = [c for c in counts.columns if c.startswith("share_")]
    for _, r in counts.iterrows():
        cells = {"model": _who(r)} if "experiment" in counts.columns else {}
        below = NA if pd.isna(r["readers_below"]) else f"{int(r['readers_below'])} of {int(r['readers'])}"
        cells |= {"observation": r["observation"] + (UNSTABLE_MARK if r["unstable"] else ""),
                  "readers below the curve": below}  # fmt: skip
        for c in shares:
            cells[f"{c.split('_')[1]} below"] = NA if pd.isna(r[c]) else f"{100 * r[c]:.1f}%"
        out.append(cells)
    return pd.DataFrame(out)


def counts_legend(resamples: int) -> str:
    return ("Readers below the model's ROC curve per observation, and the share of the bootstrap resamples (of "
            f"{resamples}) in which 0, 1, ... of them are below: how firm the count is.")  # fmt: skip


def title(on: str = "") -> str:
    return "Radiologists on the model's ROC curve" + (f", on {on}" if on else "")


def readers_markdown(table: pd.DataFrame, counts: pd.DataFrame, resamples: int, min_positives: int,
                     on: str = "") -> str:  # fmt: skip
    decisions = bool(table["model_mcc"].notna().any())
    return (
        f"# {title(on)}\n\n" + markdown(rows_frame(table)) + "\n" + legend(resamples, min_positives, decisions)
        + "\n\n## Readers below the curve\n\n" + markdown(counts_frame(counts)) + "\n" + counts_legend(resamples)
        + "\n"
    )  # fmt: skip


def readers_html(table: pd.DataFrame, counts: pd.DataFrame, resamples: int, min_positives: int, on: str = "") -> str:
    decisions = bool(table["model_mcc"].notna().any())
    return html_page(title(on), [
        ("", legend(resamples, min_positives, decisions), rows_frame(table)),
        ("Readers below the curve", counts_legend(resamples), counts_frame(counts)),
    ])  # fmt: skip


def readers_figure(table: pd.DataFrame, curves, name: str = ""):
    """One ROC panel per observation: the model's curve, each reader's point with its 95% CI crosses (sensitivity
    vertically, false-positive rate = 1 − specificity horizontally), and the model's decision point where given."""
    from chexpertnet.plotting import pyplot

    plt = pyplot()
    n = len(curves)
    columns = min(n, 5)
    rows = -(-n // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(3.1 * columns, 3.2 * rows), squeeze=False)
    markers = "osD^vP*X"
    readers = list(dict.fromkeys(table["reader"]))
    for ax, curve in zip(axes.flat, curves, strict=False):
        ax.plot(curve.fpr, curve.tpr, color="black", lw=1.2, label=f"model (AUC {fmt(curve.auc)})")
        ax.plot([0, 1], [0, 1], color="#bbbbbb", lw=0.6, ls=":")
        part = table[table["observation"] == curve.observation]
        below = 0
        for _, r in part.iterrows():
            x, y = r["fpr"], r["sensitivity"]
            xerr = [[max(0.0, x - (1 - r["specificity_high"]))], [max(0.0, (1 - r["specificity_low"]) - x)]]
            yerr = [[max(0.0, y - r["sensitivity_low"])], [max(0.0, r["sensitivity_high"] - y)]]
            has_ci = not pd.isna(r["sensitivity_low"])
            ax.errorbar(x, y, xerr=xerr if has_ci else None, yerr=yerr if has_ci else None,
                        fmt=markers[readers.index(r["reader"]) % len(markers)], ms=5, capsize=2, lw=0.8,
                        color=f"C{readers.index(r['reader'])}", label=r["reader"])  # fmt: skip
            below += 0 if pd.isna(r["below"]) else int(r["below"])
        if len(part) and not pd.isna(part["model_fpr"].iloc[0]):
            ax.plot(part["model_fpr"].iloc[0], part["model_decision_sensitivity"].iloc[0], marker="*", ms=11,
                    color="red", ls="none", label="model's decisions")  # fmt: skip
        counted = f"{below} of {len(part)} readers below" if not pd.isna(curve.auc) else "one class only: no curve"
        ax.set_title(f"{curve.observation}\n{counted}", fontsize=9)
        ax.set_xlim(-0.02, 1.02)
        ax.set_ylim(-0.02, 1.02)
        ax.set_aspect("equal")
        ax.tick_params(labelsize=7)
        ax.set_xlabel("1 − specificity", fontsize=8)
        ax.set_ylabel("sensitivity", fontsize=8)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    keep = {label: h for h, label in zip(handles, labels, strict=True) if not label.startswith("model (AUC")}
    fig.legend(list(keep.values()), list(keep), loc="lower center", ncol=len(keep), fontsize=8, frameon=False)
    fig.suptitle(f"Radiologists on the ROC curve{': ' + name if name else ''}", fontsize=11)
    fig.tight_layout(rect=(0, 0.1 / rows, 1, 1 - 0.06 / rows))
    return fig

"""The versions' history and the difference between two versions, as tables (CSV, Markdown, HTML).

:func:`archive_and_report` is what the tables step calls after writing its tables; :func:`diff_between` is what
``chexpertnet tables-diff`` prints.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from chexpertnet.evaluate import versions as V
from chexpertnet.evaluate.scoring import MEAN_ESTIMABLE
from chexpertnet.fileio import write_text
from chexpertnet.markup import html_page, markdown
from chexpertnet.observations import ABBREVIATIONS, OBSERVATIONS

PAUSE_ENV = "CHEXPERTNET_PAUSE_ARCHIVE"  # tests: a marker file to create before the version is renamed into place
IGNORED_PROVENANCE = ("created", "outputs.")  # differ on every regeneration


def _fmt(x, digits: int = 4, sign: bool = False) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return ""
    if isinstance(x, bool):
        return str(x)
    if isinstance(x, int | float):
        return f"{x:+.{digits}f}" if sign else f"{x:.{digits}f}"
    return str(x)


# --- history -----------------------------------------------------------------------------------------------------
def history_display(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for column in out.columns:
        if column.startswith("mean_auc."):
            out[column] = out[column].map(lambda x: _fmt(x, 3))
    out["dirty"] = out["dirty"].map(lambda d: "" if d is None else ("yes" if d else "no"))
    return out.rename(columns=lambda c: c.replace("mean_auc.", "mean AUC ")).fillna("")


HISTORY_NOTE = (
    "One row per version of the tables: a regeneration whose tables differ from the latest version's adds one "
    "(an identical one adds none). 'changed' lists what differs from the previous version: the code of which "
    "steps, which config keys, which data files and which models (experiment/seed)."
)


def history_texts(frame: pd.DataFrame) -> dict[str, str]:
    shown = history_display(frame)
    return {
        ".csv": frame.to_csv(index=False, lineterminator="\n"),
        ".md": "# Versions of the tables\n\n" + markdown(shown) + "\n" + HISTORY_NOTE + "\n",
        ".html": html_page("Versions of the tables", [("", HISTORY_NOTE, shown)]),
    }


# --- the difference between two versions ---------------------------------------------------------------------------
def provenance_differences(old: Mapping[str, Mapping], new: Mapping[str, Mapping]) -> pd.DataFrame:
    """Fields of the tables' provenance that differ (times and output hashes excluded), per field once."""
    rows = {}
    for name in sorted(set(old) | set(new)):
        a, b = V._flatten(old.get(name, {})), V._flatten(new.get(name, {}))
        for key in sorted(set(a) | set(b)):
            if key.startswith(IGNORED_PROVENANCE) or a.get(key) == b.get(key):
                continue
            rows.setdefault(key, {"field": key, "old": json.dumps(a.get(key)), "new": json.dumps(b.get(key))})
    return pd.DataFrame(list(rows.values()), columns=["field", "old", "new"])


def auc_delta_grid(cells: pd.DataFrame, experiments: Sequence[str]) -> pd.DataFrame:
    """ΔAUC (new − old) per experiment and observation from a cell diff (blank: unchanged)."""
    rows = []
    for name in experiments:
        own = cells[(cells["table"] == name) & (cells["column"] == "auc")]
        by_row = dict(zip(own["row"], own["delta"], strict=True))
        row = {"experiment": name}
        for full, abbreviation in zip(OBSERVATIONS, ABBREVIATIONS, strict=True):
            row[abbreviation] = _fmt(by_row.get(full), 3, sign=True)
        row["mean"] = _fmt(by_row.get(MEAN_ESTIMABLE), 3, sign=True)
        rows.append(row)
    return pd.DataFrame(rows)


def diff_between(archive: str | os.PathLike, old: int, new: int) -> dict:
    """Everything that differs between versions ``old`` and ``new``: what changed (code, config, data, models),
    the provenance fields, every table cell that moved, the columns that moved, and ΔAUC per experiment."""
    meta_old, meta_new = V.read_version(archive, old), V.read_version(archive, new)
    folder_old, folder_new = V.version_dir(archive, old), V.version_dir(archive, new)
    cells = V.table_diff(V.read_tables(folder_old), V.read_tables(folder_new))

    def provenance(folder: Path) -> dict:
        return {f.name: json.loads(f.read_text()) for f in sorted(folder.glob("*.provenance.json"))}

    experiments = sorted(set(meta_old.get("mean_auc", {})) | set(meta_new.get("mean_auc", {})))
    moved = cells[cells["column"].astype(str).str.len() > 0].groupby("table")["column"].unique()
    return {
        "old": old, "new": new,
        "changes": V.changes(meta_old, meta_new),
        "provenance": provenance_differences(provenance(folder_old), provenance(folder_new)),
        "cells": cells,
        "moved_columns": {t: sorted(map(str, c)) for t, c in moved.items()},
        "auc_grid": auc_delta_grid(cells, experiments),
    }  # fmt: skip


def diff_texts(diff: Mapping) -> dict[str, str]:
    old, new = diff["old"], diff["new"]
    title = f"Tables: version {old} → version {new}"
    changed = f"Changed since version {old}: {V.describe(diff['changes'])}."
    moved = diff["moved_columns"]
    moved_text = ("Columns that moved: " + "; ".join(f"{t}: {', '.join(c)}" for t, c in moved.items()) + "."
                  if moved else "No table cell moved.")  # fmt: skip
    cells = diff["cells"].copy()
    for column in ("old", "new"):
        cells[column] = cells[column].map(lambda x: _fmt(x, 4))
    cells["delta"] = cells["delta"].map(lambda x: _fmt(x, 4, sign=True))
    grid_note = f"ΔAUC = version {new} − version {old} (blank: the AUC did not move)."
    md = [f"# {title}\n", changed + " " + moved_text + "\n", "## Provenance fields that differ\n",
          markdown(diff["provenance"]) if len(diff["provenance"]) else "None.\n",
          "\n## ΔAUC per experiment and observation\n", markdown(diff["auc_grid"]), "\n" + grid_note + "\n",
          "\n## Every cell that moved\n", markdown(cells) if len(cells) else "None.\n"]  # fmt: skip
    html = html_page(title, [
        ("", changed + " " + moved_text, diff["provenance"]),
        ("ΔAUC per experiment and observation", grid_note, diff["auc_grid"]),
        ("Every cell that moved", "", cells),
    ])  # fmt: skip
    return {".md": "\n".join(md), ".html": html, ".csv": diff["cells"].to_csv(index=False, lineterminator="\n")}


def _pause(incoming: Path) -> None:
    marker = os.environ.get(PAUSE_ENV)
    if marker:
        Path(marker).write_text(str(incoming))
        while True:  # until the test kills this process
            time.sleep(0.05)


def archive_and_report(archive: str | os.PathLike, files: Sequence[str | os.PathLike], meta: Mapping,
                       out_dir: str | os.PathLike) -> int | None:  # fmt: skip
    """Offer the tables to the archive, then write history.{csv,md,html} and latest_diff.{csv,md,html} (the
    latest version against its predecessor) to ``out_dir``. Returns the new version's number (None: unchanged)."""
    number = V.offer(archive, files, meta, pause=_pause if os.environ.get(PAUSE_ENV) else None)
    have = V.versions(archive)
    metas = [V.read_version(archive, n) for n in have]
    out = Path(out_dir)
    for suffix, text in history_texts(V.history_frame(metas)).items():
        write_text(out / f"history{suffix}", text)
    if len(have) >= 2:
        texts = diff_texts(diff_between(archive, have[-2], have[-1]))
    else:
        note = f"Only one version (version {have[-1]}) so far: nothing to compare with." if have else "No version."
        texts = {".md": f"# Tables: the latest version against its predecessor\n\n{note}\n",
                 ".html": html_page("Tables: the latest version against its predecessor",
                                    [("", note, pd.DataFrame())]),
                 ".csv": "table,row,column,old,new,delta\n"}  # fmt: skip
    for suffix, text in texts.items():
        write_text(out / f"latest_diff{suffix}", text)
    return number

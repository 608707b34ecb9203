"""Tables of strings as GitHub Markdown and as a small self-contained HTML page (for the Snakemake report)."""

from __future__ import annotations

import html
from collections.abc import Sequence

import pandas as pd


def markdown(frame: pd.DataFrame) -> str:
    """A GitHub-flavoured Markdown table of string cells."""
    rows = [list(frame.columns), ["---"] * frame.shape[1], *frame.astype(str).to_numpy().tolist()]
    return "\n".join("| " + " | ".join(str(c) for c in row) + " |" for row in rows) + "\n"


def html_page(title: str, sections: Sequence[tuple[str, str, pd.DataFrame]]) -> str:
    """A small self-contained HTML page: a title and (heading, paragraph, table of strings) sections."""
    parts = [
        "<!DOCTYPE html>", '<html><head><meta charset="utf-8">', f"<title>{html.escape(title)}</title>",
        "<style>body{font-family:sans-serif;font-size:14px}table{border-collapse:collapse;margin:8px 0}"
        "td,th{border:1px solid #ccc;padding:3px 7px;text-align:right}th{background:#f3f3f3}"
        "td:first-child,th:first-child{text-align:left}</style>", "</head><body>", f"<h2>{html.escape(title)}</h2>",
    ]  # fmt: skip
    for heading, text, frame in sections:
        if heading:
            parts.append(f"<h3>{html.escape(heading)}</h3>")
        if text:
            parts.append(f"<p>{html.escape(text)}</p>")
        parts.append(frame.astype(str).to_html(index=False, escape=True, border=0))
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"

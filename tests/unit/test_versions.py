"""The versions archive of the result tables: numbering, identical content, atomicity, history and diffs."""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import time
import uuid
from pathlib import Path

import pandas as pd
import pytest

from chexpertnet.evaluate import versions as V
from chexpertnet.evaluate.versions_report import PAUSE_ENV, archive_and_report, diff_between, diff_texts


def write_tables(folder: Path, auc: float, ci: float, note: str = "") -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    table = folder / "baseline.csv"
    table.write_text(
        "observation,abbreviation,auc,ci_low,ci_high\n"
        f"Edema,Ed,{auc},{auc - ci},{auc + ci}\n"
        f"mean (defined observations),mean,{auc},{auc - ci},{auc + ci}\n"
    )
    md = folder / "baseline.md"
    md.write_text(f"| auc |\n| {auc} |\n{note}")
    provenance = folder / "baseline.provenance.json"
    created = uuid.uuid4().hex  # differs on every regeneration, like a real provenance's time
    provenance.write_text(json.dumps({"created": created, "settings": {"bootstrap_resamples": ci}}))
    return [table, md, provenance]


def meta(resamples: int = 2000, code: str = "aaaa", model: str = "m1") -> dict:
    return {
        "created": "2026-11-27T00:00:00+00:00",
        "git": {"commit": "0123456789abcdef", "dirty": False},
        "config_hash": f"h{resamples}",
        "config": {"evaluation": {"resamples": resamples, "seed": 0}, "train": {"lr": 1e-4}},
        "code": {"score": code, "tables": "t"},
        "data": {"valid.csv": "d"},
        "models": {"baseline/seed0": model},
        "mean_auc": {"baseline": 0.8},
    }


def test_versions_are_numbered_and_identical_content_adds_none(tmp_path):
    archive = tmp_path / "archive"
    assert V.offer(archive, write_tables(tmp_path / "t", 0.8, 0.05), meta()) == 1
    # the provenance differs (its time), the tables do not: no new version
    assert V.offer(archive, write_tables(tmp_path / "t", 0.8, 0.05), meta()) is None
    assert V.offer(archive, write_tables(tmp_path / "t", 0.8, 0.05, note="a footnote"), meta()) == 2
    assert V.offer(archive, write_tables(tmp_path / "t", 0.8, 0.05), meta()) == 3
    assert V.offer(archive, write_tables(tmp_path / "t", 0.8, 0.04), meta(resamples=500)) == 4
    assert V.offer(archive, write_tables(tmp_path / "t", 0.7, 0.04), meta(resamples=500, code="bbbb")) == 5
    assert V.versions(archive) == [1, 2, 3, 4, 5]
    v4 = V.read_version(archive, 4)
    assert v4["number"] == 4 and v4["previous"] == 3
    assert (V.version_dir(archive, 4) / "baseline.csv").read_text().splitlines()[1].startswith("Edema,Ed,0.8,0.76,")
    assert (V.version_dir(archive, 4) / "baseline.provenance.json").exists()


def test_changes_name_code_config_data_and_models():
    a, b = meta(), meta(resamples=500, code="bbbb", model="m2")
    b["data"] = {"valid.csv": "e"}
    change = V.changes(a, b)
    assert change == {"code": ["score"], "config": ["evaluation.resamples"], "data": ["valid.csv"],
                      "models": ["baseline/seed0"]}  # fmt: skip
    assert V.describe(change) == "code: score; config: evaluation.resamples; data: valid.csv; models: baseline/seed0"
    assert V.changes(a, a) == {"code": [], "config": [], "data": [], "models": []}


def test_table_diff_reports_exactly_the_cells_that_moved():
    old = {"t": pd.DataFrame({"observation": ["A", "B"], "auc": [0.8, 0.7], "ci_low": [0.7, 0.6], "n": ["x", "y"]})}
    new = {"t": pd.DataFrame({"observation": ["A", "B"], "auc": [0.8, 0.75], "ci_low": [0.71, 0.6], "n": ["x", "z"]})}
    cells = V.table_diff(old, new)
    got = {(r.row, r.column): r.delta for r in cells.itertuples()}
    assert set(got) == {("A", "ci_low"), ("B", "auc"), ("B", "n")}
    assert got[("B", "auc")] == pytest.approx(0.05) and got[("A", "ci_low")] == pytest.approx(0.01)
    assert math.isnan(got[("B", "n")])
    assert V.table_diff(old, old).empty
    only_new = V.table_diff({}, new)
    assert list(only_new["row"]) == ["(whole table)"]


def test_history_and_latest_diff_written_beside_the_tables(tmp_path):
    archive, out = tmp_path / "archive", tmp_path / "tables"
    assert archive_and_report(archive, write_tables(out, 0.8, 0.05), meta(), out) == 1
    assert "Only one version" in (out / "latest_diff.md").read_text()
    assert archive_and_report(archive, write_tables(out, 0.8, 0.04), meta(resamples=500), out) == 2
    history = pd.read_csv(out / "history.csv")
    assert list(history["version"]) == [1, 2]
    assert list(history["changed"]) == ["first version", "config: evaluation.resamples"]
    assert list(history["mean_auc.baseline"]) == [0.8, 0.8]
    diff = diff_between(archive, 1, 2)
    assert diff["moved_columns"] == {"baseline": ["ci_high", "ci_low"]}
    text = (out / "latest_diff.md").read_text()
    assert "version 1 → version 2" in text and "evaluation.resamples" in text and "settings.bootstrap_resamples" in text
    assert diff_texts(diff)[".md"] == text


def _offer_and_pause(archive: str, files: list[str], marker: str) -> None:
    os.environ[PAUSE_ENV] = marker
    archive_and_report(archive, files, meta(resamples=7), Path(files[0]).parent)


def test_a_killed_archiving_leaves_the_archive_consistent(tmp_path):
    archive, out = tmp_path / "archive", tmp_path / "tables"
    archive_and_report(archive, write_tables(out, 0.8, 0.05), meta(), out)
    files = [str(f) for f in write_tables(out, 0.6, 0.05)]
    marker = tmp_path / "paused"
    context = multiprocessing.get_context("spawn")
    proc = context.Process(target=_offer_and_pause, args=(str(archive), files, str(marker)))
    proc.start()
    try:
        while not marker.exists():  # the new version is complete in its hidden folder, not yet renamed
            proc.join(0.05)
            assert proc.is_alive(), "the archiving process ended before pausing"
        (paused,) = [p for p in archive.iterdir() if p.name.startswith(".incoming-")]
        # a concurrent archiving (another tables job) leaves the live one's folder alone
        other = tmp_path / "other"
        assert V.offer(archive, write_tables(other, 0.7, 0.05), meta()) == 2
        assert paused.is_dir() and sorted(paused.iterdir())
        # one left by a process of another host is kept for a day
        foreign = archive / ".incoming-1-abcdef12-some-other-host"
        foreign.mkdir()
        proc.kill()
        proc.join()
    finally:
        if proc.is_alive():
            proc.kill()
    assert V.versions(archive) == [1, 2]  # the half-made version is invisible
    assert paused.is_dir()
    assert archive_and_report(archive, [Path(f) for f in files], meta(resamples=7), out) == 3
    assert not paused.exists()  # its process is dead: removed
    assert foreign.is_dir()
    old = time.time() - V.STALE_AFTER_S - 60
    os.utime(foreign, (old, old))
    assert archive_and_report(archive, [Path(f) for f in files], meta(resamples=7), out) is None
    assert not any(p.name.startswith(".incoming-") for p in archive.iterdir())
    assert V.read_version(archive, 3)["previous"] == 2


def test_reading_a_missing_version_names_the_ones_there(tmp_path):
    archive = tmp_path / "archive"
    V.offer(archive, write_tables(tmp_path / "t", 0.8, 0.05), meta())
    with pytest.raises(FileNotFoundError, match=r"no version 4 .*versions there: 1"):
        V.read_version(archive, 4)


def test_table_diff_of_rows_without_a_unique_key_goes_by_position():
    old = {"t": pd.DataFrame({"experiment": ["a", "a"], "row": ["x", "y"], "v": [1.0, 2.0]})}
    new = {"t": pd.DataFrame({"experiment": ["a", "a"], "row": ["x", "y"], "v": [1.0, 2.5]})}
    cells = V.table_diff(old, new)
    assert list(zip(cells["row"], cells["column"], cells["delta"], strict=True)) == [("row 2", "v", 0.5)]

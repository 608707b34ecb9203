"""The provenance record names the lock of every package's version by its SHA-256."""

from __future__ import annotations

import hashlib

from chexpertnet.evaluate import provenance
from conftest import REPO


def test_the_record_has_the_locks_hash_and_none_without_a_lock(tmp_path, monkeypatch):
    (tmp_path / "a.csv").write_text("x\n")
    shared = provenance.record({"dataset_csvs": [tmp_path / "a.csv"]}, {"seed": 0})
    lock = REPO / "requirements.lock"
    assert lock == provenance.LOCK_FILE
    assert shared["lock"] == {"file": "requirements.lock", "sha256": hashlib.sha256(lock.read_bytes()).hexdigest()}
    assert shared["packages"]["torch"] and shared["inputs"]["dataset_csvs"]
    mine = tmp_path / "requirements.lock"
    mine.write_text("torch==2.14.1\n")
    monkeypatch.setattr(provenance, "LOCK_FILE", mine)
    assert provenance.record({}, {})["lock"]["sha256"] == hashlib.sha256(b"torch==2.14.1\n").hexdigest()
    mine.unlink()  # a package that runs outside a checkout with a lock (installed from a wheel)
    assert provenance.record({}, {})["lock"] is None

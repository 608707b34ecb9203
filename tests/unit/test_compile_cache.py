"""Compile once per configuration: the trainings of a run share Inductor's caches (train/compilecache.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from chexpertnet.train.compilecache import use_compile_cache
from conftest import REPO

PROBE = Path(__file__).with_name("compile_cache_probe.py")


def test_the_cache_folder_and_switches_are_set_and_a_users_folder_wins(tmp_path):
    env: dict[str, str] = {}
    assert use_compile_cache(tmp_path / "c", env) == str((tmp_path / "c").resolve())
    assert env == {"TORCHINDUCTOR_CACHE_DIR": str(tmp_path / "c"), "TORCHINDUCTOR_FX_GRAPH_CACHE": "1",
                   "TORCHINDUCTOR_AUTOGRAD_CACHE": "1"}  # fmt: skip
    assert (tmp_path / "c").is_dir()
    mine = {"TORCHINDUCTOR_CACHE_DIR": str(tmp_path / "mine")}
    assert use_compile_cache(tmp_path / "c2", mine) == str(tmp_path / "mine") and not (tmp_path / "c2").exists()
    assert use_compile_cache(None, {}) is None


def compile_in_a_new_process(cache: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TORCHINDUCTOR_")}
    env["PYTHONPATH"] = str(REPO / "workflow")
    proc = subprocess.run([sys.executable, str(PROBE), str(cache)], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_a_second_process_loads_the_first_ones_compiled_step(tmp_path):
    cache = tmp_path / "shared"
    first = compile_in_a_new_process(cache)
    assert first["inductor"].get("fxgraph_cache_miss", 0) >= 1 and not first["inductor"].get("fxgraph_cache_hit")
    assert any(cache.iterdir())  # the kernels went to the shared folder, not to /tmp/torchinductor_<user>
    second = compile_in_a_new_process(cache)
    assert second["inductor"].get("fxgraph_cache_hit", 0) >= 1 and not second["inductor"].get("fxgraph_cache_miss")
    assert second["aot_autograd"].get("autograd_cache_hit", 0) == 1
    assert second["seconds"] < first["seconds"]

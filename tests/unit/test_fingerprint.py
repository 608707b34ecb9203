"""What identifies a training job: code hashes, cache and file digests, and which components two fingerprints differ
in. Digests are checked against hashlib applied directly to the bytes, not against the code under test."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from chexpertnet.codehash import code_hash, module_closure
from chexpertnet.data.cache import DamagedCache, build_cache
from chexpertnet.train.fingerprint import cache_digest, changed_components, training_fingerprint
from conftest import REPO


@pytest.fixture
def cache(dataset, tmp_path) -> tuple[Path, Path, Path, list[str]]:
    root, csvs = dataset
    paths = pd.read_csv(csvs["train"])["Path"].tolist()
    build_cache(root, paths, 24, tmp_path / "c.npy", tmp_path / "c.csv", progress=False)
    return root, tmp_path / "c.npy", tmp_path / "c.csv", paths


def test_the_index_holds_each_rows_blake2b(cache):
    _, array_file, index_file, paths = cache
    array = np.load(array_file)
    index = pd.read_csv(index_file, dtype=str)
    assert list(index.columns) == ["row", "Path", "digest"] and list(index["Path"]) == paths
    for row, digest in enumerate(index["digest"]):
        assert digest == hashlib.blake2b(array[row].tobytes(), digest_size=16).hexdigest()


def test_cache_digest_follows_content_not_place_or_time(cache, tmp_path):
    root, array_file, index_file, paths = cache
    moved = tmp_path / "moved"
    moved.mkdir()
    shutil.copy(array_file, moved / "c.npy")
    shutil.copy(index_file, moved / "c.csv")
    os.utime(moved / "c.npy", (1, 1))
    assert cache_digest(moved / "c.npy", moved / "c.csv") == cache_digest(array_file, index_file)
    # one image changed at its source: the rebuilt cache has another digest
    with Image.open(root / paths[2]) as img:
        pixels = np.asarray(img.convert("L")).copy()
    pixels[:8, :8] = 255 - pixels[:8, :8]
    Image.fromarray(pixels).save(root / paths[2], quality=95)
    build_cache(root, paths, 24, tmp_path / "d.npy", tmp_path / "d.csv", progress=False)
    assert cache_digest(tmp_path / "d.npy", tmp_path / "d.csv") != cache_digest(array_file, index_file)


def test_an_array_that_does_not_match_its_index_is_named(cache):
    _, array_file, index_file, paths = cache
    array = np.load(array_file, mmap_mode="r+")
    array[3, 0, 0] ^= 0xFF
    array.flush()
    del array
    with pytest.raises(DamagedCache, match=rf"c\.npy row 3 \({paths[3]}\) does not match its digest in .*c\.csv"):
        cache_digest(array_file, index_file)


def test_an_index_without_digests_falls_back_to_the_whole_array(cache, tmp_path):
    _, array_file, index_file, _ = cache
    old = pd.read_csv(index_file)[["row", "Path"]]
    old.to_csv(tmp_path / "old.csv", index=False)
    before = cache_digest(array_file, tmp_path / "old.csv")
    array = np.load(array_file, mmap_mode="r+")
    array[-1, -1, -1] ^= 1  # one bit of the last pixel
    array.flush()
    del array
    assert cache_digest(array_file, tmp_path / "old.csv") != before


def test_training_fingerprint_components(cache, tmp_path):
    _, array_file, index_file, _ = cache
    manifest = tmp_path / "m.csv"
    manifest.write_text("Path\na\n")
    fingerprint = training_fingerprint(
        settings={"lr": 1e-4, "betas": (0.9, 0.999)}, environment={"numeric_path": "fp32"}, code="abc",
        files={"train_manifest": manifest, "stats": None}, caches={"train": (array_file, index_file)},
    )  # fmt: skip
    assert fingerprint["file train_manifest"] == hashlib.sha256(b"Path\na\n").hexdigest()
    assert fingerprint["file stats"] is None and fingerprint["setting betas"] == [0.9, 0.999]
    assert set(fingerprint) == {"code", "setting lr", "setting betas", "file train_manifest", "file stats",
                                "cache train", "environment numeric_path"}  # fmt: skip


def test_changed_components():
    a = {"code": "1", "setting lr": 0.1, "setting betas": [0.9, 0.99], "file stats": None}
    assert changed_components(a, dict(a)) == []
    assert changed_components(a, {**a, "setting betas": (0.9, 0.99)}) == []  # a tuple equals its JSON list
    assert changed_components(a, {**a, "code": "2", "file stats": "f00"}) == ["code", "file stats"]
    assert changed_components(a, {k: v for k, v in a.items() if k != "file stats"}) == ["file stats"]
    assert changed_components(a, {**a, "cache train": "d"}) == ["cache train"]
    assert changed_components(None, a) == ["fingerprint (the state has none)"]


@pytest.fixture
def package(tmp_path) -> Path:
    """A copy of the package to edit."""
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(REPO / "workflow/chexpertnet", tmp_path / "chexpertnet", ignore=ignore)
    return tmp_path


def test_code_hash_follows_the_code_a_command_runs(package):
    loss = package / "chexpertnet/train/loss.py"
    assert "chexpertnet.train.loss" in module_closure(package, "chexpertnet.commands.train")
    assert "chexpertnet.localize.cam" not in module_closure(package, "chexpertnet.commands.train")
    train, cam = code_hash("train", package), code_hash("cam", package)
    assert train == code_hash("train", REPO / "workflow")
    text = loss.read_text()
    loss.write_text(text.replace('"""The paper', '"""Edited. The paper', 1) + "\n# a comment\n")
    assert code_hash("train", package) == train, "docstrings and comments are not code"
    loss.write_text(text.replace("return -(w * mask", "return -2 * (w * mask", 1))
    assert code_hash("train", package) != train
    cam_module = package / "chexpertnet/localize/cam.py"
    cam_module.write_text(cam_module.read_text() + "\nX = 1\n")
    assert code_hash("cam", package) != cam


COMMANDS = sorted(p.stem for p in (REPO / "workflow/chexpertnet/commands").glob("*.py") if p.stem != "__init__")


def test_the_phantom_hash_covers_every_module_of_its_subpackage(package):
    files = sorted((package / "chexpertnet/phantom").rglob("*.py"))  # found on disk, not by the code under test
    modules = {".".join(p.relative_to(package).with_suffix("").parts).removesuffix(".__init__") for p in files}
    assert len(modules) > 10 and "chexpertnet.phantom.signatures.pleura" in modules
    assert modules <= set(module_closure(package, "chexpertnet.commands.phantom"))
    phantom = code_hash("phantom", package)
    for path in files:  # an edit anywhere in the subpackage, even two levels down, reruns the phantom
        original = path.read_text()
        path.write_text(original + "\n\ndef _staleness_probe():\n    return 1\n")
        assert code_hash("phantom", package) != phantom, path
        path.write_text(original)
    assert code_hash("phantom", package) == phantom
    before = {command: code_hash(command, package) for command in COMMANDS}
    deep = package / "chexpertnet/phantom/signatures/pleura.py"
    deep.write_text(deep.read_text() + "\n\ndef _staleness_probe():\n    return 1\n")
    after = {command: code_hash(command, package) for command in COMMANDS}
    assert [c for c in COMMANDS if after[c] != before[c]] == ["phantom"], "no other step runs the phantom"


def write_modules(root: Path, modules: dict[str, str]) -> None:
    for name, text in modules.items():
        path = root.joinpath(*name.split("/"))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_module_closure_resolves_relative_imports_and_runs_the_packages_above(tmp_path):
    write_modules(tmp_path, {
        "chexpertnet/__init__.py": "",
        "chexpertnet/commands/__init__.py": "",
        "chexpertnet/commands/step.py": "def run():\n    from chexpertnet.sub.deep.leaf import f\n",
        "chexpertnet/sub/__init__.py": "from .a import A\nfrom . import b\n",
        "chexpertnet/sub/a.py": "from ..top import T\nA = T\n",
        "chexpertnet/sub/b.py": "import chexpertnet.other.x\n",
        "chexpertnet/sub/unused.py": "",
        "chexpertnet/sub/deep/__init__.py": "",
        "chexpertnet/sub/deep/leaf.py": "from ...top import T as f\nfrom .. import b\nfrom .sibling import S\n",
        "chexpertnet/sub/deep/sibling.py": "import os\nfrom numpy import array\nS = 1\n",
        "chexpertnet/top.py": "T = 1\n",
        "chexpertnet/other/__init__.py": "",
        "chexpertnet/other/x.py": "",
        "chexpertnet/nspkg/y.py": "",  # a folder without __init__.py (a namespace package)
        "chexpertnet/commands/other.py": "from chexpertnet.nspkg.y import Y\n",
    })  # fmt: skip
    assert module_closure(tmp_path, "chexpertnet.commands.step") == [
        "chexpertnet",
        "chexpertnet.commands",
        "chexpertnet.commands.step",
        "chexpertnet.other",
        "chexpertnet.other.x",
        "chexpertnet.sub",  # its __init__.py runs before sub.deep.leaf
        "chexpertnet.sub.a",
        "chexpertnet.sub.b",
        "chexpertnet.sub.deep",
        "chexpertnet.sub.deep.leaf",
        "chexpertnet.sub.deep.sibling",
        "chexpertnet.top",
    ]
    assert module_closure(tmp_path, "chexpertnet.commands.other") == [
        "chexpertnet",
        "chexpertnet.commands",
        "chexpertnet.commands.other",
        "chexpertnet.nspkg.y",
    ]
    (tmp_path / "chexpertnet/__main__.py").write_text("")
    before = code_hash("step", tmp_path)
    leaf = tmp_path / "chexpertnet/sub/deep/sibling.py"
    leaf.write_text(leaf.read_text() + "S = 2\n")
    assert code_hash("step", tmp_path) != before, "a module reached by a relative import only is hashed"


def test_a_relative_import_beyond_the_package_is_an_error(tmp_path):
    write_modules(tmp_path, {"chexpertnet/__init__.py": "", "chexpertnet/bad.py": "from .. import os\n"})
    with pytest.raises(ImportError, match="beyond the top-level package"):
        module_closure(tmp_path, "chexpertnet.bad")

"""A regression guard: the phantom's output pinned to what the single-module phantom.py made (commit 0fada83, the
last one before the phantom became a subpackage; phantom_pinned.json was recorded with it).

Plans, labels and the CSVs are pinned exactly on any machine. Pixels depend in their last bits on numpy's SIMD code
path (its AVX-512 and AVX2 code differ by 1-2 grey levels in a pixel or two of some images), so each image is pinned
exactly on the code paths the file holds digests for, and everywhere by its 16 x 16 block means (within 0.05 grey
levels), what it shows and its boxes (within a pixel). This guards against accidents, not against intent: when you
change the phantom on purpose, record the file anew with the changed code and commit it:

    .venv/bin/python tests/unit/test_phantom_pinned.py          # replaces the file, this machine's code path
    NPY_DISABLE_CPU_FEATURES="X86_V4 AVX512_ICL AVX512_SPR" \\
        .venv/bin/python tests/unit/test_phantom_pinned.py --add   # adds the AVX2 code path's digests

It uses only the phantom's public API, so the same script records with any version of it.
"""

from __future__ import annotations

import hashlib
import json
import platform
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import PIL
import pytest

from chexpertnet import phantom

PINNED = Path(__file__).with_name("phantom_pinned.json")
PLANNED = phantom.PhantomConfig(train_patients=120, valid_patients=30, seed=7, valid_fracture=True)
GENERATED = phantom.PhantomConfig(train_patients=12, valid_patients=4, seed=5, height=96)
SIZES = {"frontal": (96, 117), "lateral": (117, 96)}
BLOCK, MEAN_TOLERANCE = 16, 0.05
DEVICES = phantom.ET_TUBE | phantom.NG_TUBE | phantom.CENTRAL_LINE | phantom.PACEMAKER | phantom.ECG_LEADS


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def code_path() -> str:
    """What the pixels' last bits depend on: numpy's SIMD code path, numpy, Pillow, the machine."""
    from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__

    simd = "+".join(t for t in __cpu_dispatch__ if __cpu_features__.get(t))
    return f"{platform.machine()} numpy {np.__version__} ({simd}) Pillow {PIL.__version__}"


def render_cases() -> dict[str, tuple]:
    """Every finding alone on both views, the variants that hide or double a signature, and all at once."""
    anatomy = {
        "male": phantom.sample_anatomy(np.random.default_rng(11), "Male"),
        "female": phantom.sample_anatomy(np.random.default_rng(12), "Female"),
    }

    def finding(i: int, severity: float = 0.8, side: int = 1, variant: int = 0) -> phantom.Finding:
        return phantom.Finding(severity, side, 0.6, 0.5, 0.5, 100 + i, variant)

    cases = {}
    for i, name in enumerate(phantom.FINDINGS):
        for view in ("frontal", "lateral"):
            f = finding(i, variant=DEVICES if name == "Support Devices" else 0)
            cases[f"{name} {view}"] = (anatomy["male"], {name: f}, view, SIZES[view], "PA", i)
    extra = {
        "retrocardiac lesion": {"Lung Lesion": finding(20, variant=1)},
        "small effusion": {"Pleural Effusion": finding(21, severity=0.3, side=-1)},
        "bilateral effusion": {"Pleural Effusion": finding(22, severity=0.9, variant=1)},
        "all": {name: finding(23 + i, variant=DEVICES if name == "Support Devices" else 0)
                for i, name in enumerate(phantom.FINDINGS)},
    }  # fmt: skip
    for k, (label, findings) in enumerate(extra.items()):
        for view in ("frontal", "lateral"):
            cases[f"{label} {view} AP"] = (anatomy["female"], findings, view, SIZES[view], "AP", 40 + k)
    for view, size in (("frontal", (320, 390)), ("lateral", (390, 320))):
        cases[f"all {view} full size"] = (anatomy["female"], extra["all"], view, size, "PA", 50)
    return cases


def block_means(image: np.ndarray) -> list[str]:
    """Means of the image's 16 x 16 blocks, a row of blocks per string."""
    h, w = (image.shape[0] // BLOCK) * BLOCK, (image.shape[1] // BLOCK) * BLOCK
    means = image[:h, :w].astype(np.float64).reshape(h // BLOCK, BLOCK, w // BLOCK, BLOCK).mean(axis=(1, 3))
    return [" ".join(f"{m:.3f}" for m in row) for row in means]


def parse_means(rows: list[str]) -> np.ndarray:
    return np.array([[float(m) for m in row.split()] for row in rows])


def record_renders() -> tuple[dict, dict]:
    portable, exact = {}, {}
    for name, (anatomy, findings, view, size, projection, seed) in render_cases().items():
        r = phantom.render(anatomy, findings, view, size, projection, seed)
        portable[name] = {
            "shape": list(r.image.shape),
            "visible": sorted(k for k, v in r.visible.items() if v),
            "boxes": {k: list(v) for k, v in sorted(r.boxes.items()) if v is not None},
            "block_means": block_means(r.image),
        }
        exact[name] = sha(r.image.tobytes())
    return portable, exact


def record_plans() -> dict[str, list[str]]:
    counts = {"train": PLANNED.train_patients, "valid": PLANNED.valid_patients}
    return {
        split: [sha(repr(phantom.plan_patient(PLANNED, split, i)).encode())[:16] for i in range(1, n + 1)]
        for split, n in counts.items()
    }


def record_generated() -> tuple[dict, dict]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        phantom.generate(root, GENERATED)
        files = {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}
        truth = pd.read_csv(root / phantom.TRUTH_FILE, dtype=str, keep_default_na=False)
    csvs = {name: sha(data) for name, data in files.items() if name.endswith(".csv") and name != phantom.TRUTH_FILE}
    cells = truth[["Path", "observation", "present", "severity", "visible"]].to_csv(index=False).encode()
    boxed = truth[truth["x0"] != ""]
    boxes = {f"{r.Path} {r.observation}": [int(r.x0), int(r.y0), int(r.x1), int(r.y1)] for r in boxed.itertuples()}
    portable = {"csvs": csvs, "truth_cells": sha(cells), "truth_boxes": boxes}
    return portable, {name: sha(data) for name, data in files.items()}


def record() -> dict:
    renders, render_digests = record_renders()
    generated, file_digests = record_generated()
    return {
        "plans": record_plans(),
        "generated": generated,
        "renders": renders,
        "exact": {code_path(): {"renders": render_digests, "files": file_digests}},
    }


def close_boxes(a: dict[str, list[int]], b: dict[str, list[int]]) -> bool:
    return a.keys() == b.keys() and all(np.abs(np.subtract(a[k], b[k])).max() <= 1 for k in a)


def plan_changes(got: dict, want: dict) -> list[str]:
    return [
        f"{split} patient {i}: its plan (anatomy, studies, findings, labels) changed"
        for split in want
        for i, (a, b) in enumerate(zip(got[split], want[split], strict=True), start=1)
        if a != b
    ]


def generated_changes(got: dict, want: dict) -> list[str]:
    problems = []
    if got["csvs"] != want["csvs"]:
        problems.append("train.csv or valid.csv changed")
    if got["truth_cells"] != want["truth_cells"]:
        problems.append("phantom_truth.csv: presence, severity or visibility changed")
    if not close_boxes(got["truth_boxes"], want["truth_boxes"]):
        problems.append("phantom_truth.csv: a box moved by more than a pixel")
    return problems


def render_changes(got: dict, want: dict) -> list[str]:
    if got.keys() != want.keys():
        return [f"other render cases: {sorted(got.keys() ^ want.keys())}"]
    problems = []
    for name, g in got.items():
        w = want[name]
        if g["shape"] != w["shape"] or g["visible"] != w["visible"]:
            problems.append(f"{name}: shape or what it shows changed ({g['visible']} vs {w['visible']})")
        elif not close_boxes(g["boxes"], w["boxes"]):
            problems.append(f"{name}: a box moved by more than a pixel ({g['boxes']} vs {w['boxes']})")
        else:
            worst = np.abs(parse_means(g["block_means"]) - parse_means(w["block_means"])).max()
            if worst > MEAN_TOLERANCE:
                problems.append(f"{name}: a 16 x 16 block's mean moved by {worst:.3f} grey levels")
    return problems


def exact_changes(got: dict[str, str], want: dict[str, str] | None) -> list[str]:
    if want is None:  # no digests for this code path
        return []
    if got.keys() != want.keys():
        return [f"other files or cases: {sorted(got.keys() ^ want.keys())}"]
    return [f"{name}: its bytes changed" for name in got if got[name] != want[name]]


@pytest.fixture(scope="module")
def pinned() -> dict:
    return json.loads(PINNED.read_text())


def exact_digests(pinned: dict, part: str) -> dict[str, str] | None:
    return pinned["exact"].get(code_path(), {}).get(part)


def test_plans_are_pinned(pinned):
    assert plan_changes(record_plans(), pinned["plans"]) == []


def test_generated_files_are_pinned(pinned):
    generated, files = record_generated()
    assert generated_changes(generated, pinned["generated"]) == []
    assert exact_changes(files, exact_digests(pinned, "files")) == []


def test_renders_are_pinned(pinned):
    renders, digests = record_renders()
    assert render_changes(renders, pinned["renders"]) == []
    assert exact_changes(digests, exact_digests(pinned, "renders")) == []


def test_the_pixels_are_pinned_bit_for_bit_on_this_machine(pinned):
    """Says whether the two tests above compared this machine's pixels bit for bit or within tolerance only."""
    if exact_digests(pinned, "renders") is None:
        pytest.skip(f"no digests for {code_path()} (recorded: {sorted(pinned['exact'])}): pixels within tolerance")


if __name__ == "__main__":
    fresh = record()
    if "--add" in sys.argv[1:]:  # another code path's digests; the rest must match the file as the tests do
        old = json.loads(PINNED.read_text())
        problems = [
            *plan_changes(fresh["plans"], old["plans"]),
            *generated_changes(fresh["generated"], old["generated"]),
            *render_changes(fresh["renders"], old["renders"]),
        ]
        if problems:
            raise SystemExit("not added: the phantom here differs from the pinned one:\n" + "\n".join(problems))
        fresh = old | {"exact": old["exact"] | fresh["exact"]}
    PINNED.write_text(json.dumps(fresh, indent=1, sort_keys=True) + "\n")
    print(f"{PINNED}: {len(fresh['renders'])} renders, code paths {sorted(fresh['exact'])}")

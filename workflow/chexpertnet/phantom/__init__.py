"""The phantom: a synthetic drop-in for CheXpert-v1.0-small with known ground truth.

Each patient gets an anatomy (body size, position, rotation, organ sizes); each study gets a set of
findings with a severity, a place and a shape seed; each view (frontal or lateral) is rendered from those as a
simplified radiograph (bright = dense). Train labels are noisy and uncertain like the CheXpert labeller's output;
valid labels are the ground truth. ``phantom_truth.csv`` records, per image and observation, whether the finding is
present, its severity, whether this view shows it and the box of its signature in this image's pixels.

Everything but :func:`generate` (and its per-patient worker) is pure: the same arguments give the same arrays,
whatever process computes them.

The stages, one module each (this package re-exports the public names; other code imports them from here):

- ``plan.py``: :class:`PhantomConfig`; a patient's studies, views and projection (:func:`plan_patient`, no pixels).
- ``anatomy.py``: a patient's body (:func:`sample_anatomy`).
- ``findings.py``: which findings a study has (prevalence, a Gaussian copula over shared factors), where each sits
  and how bad (:class:`Finding`).
- ``labels.py``: the train labels (hedged, blank, rarely wrong) and the valid labels (the truth).
- ``canvas.py``: drawing in the patient's frame (Canvas), soft shapes, the Scene a view is painted into.
- ``geometry.py``: where the lungs, domes, hila and ribs are on each view.
- ``frontal.py``, ``lateral.py``: each view's anatomy; then the findings' signatures.
- ``signatures/``: what each finding paints on each view, frontal and lateral side by side, by region (heart.py,
  lungs.py, pleura.py, devices.py, fracture.py), and the two registries that paint them.
- ``rendering.py``: :func:`render` one view: the density map, then film response, window, noise and blur.
- ``write.py``: image sizes and paths, JPEG, the CSVs and ``phantom_truth.csv`` (:func:`generate`).

How to add a finding. A study can have the findings in ``FINDINGS`` (findings.py): the 13 pathologies of
chexpertnet.observations and "Support Devices"; these are labelled and have rows in ``phantom_truth.csv``. A name
appended there is drawn but never labelled (a distractor). A new kind of an existing finding (another device, a
cavitating lesion) is a ``Finding.variant`` value, set in ``_finding`` and read by its painters. Then:

1. ``findings.py``: its prevalence in ``TRAIN_PREVALENCE`` (``VALID_PREVALENCE`` copies it unless enriched), its
   loadings on the shared factors in ``LOADINGS``, and, in ``_finding``, its zone if not the default (``side``,
   ``lateral``/``vertical`` in the frontal lung, ``depth`` on the lateral view) and its ``variant``.
2. ``labels.py``: how often the labeller hedges on it, in ``HEDGING`` (pathologies only).
3. ``signatures/``: a frontal and a lateral painter ``(scene, finding) -> None`` next to each other in the module of
   its region, each adding to ``scene.layer(name)`` and ending with ``scene.done(name)`` (or ``scene.hidden(name)``
   where that view does not show it); register them in ``FRONTAL_PAINTERS`` and ``LATERAL_PAINTERS``
   (signatures/__init__.py). A view without a registered painter never shows the finding. A finding that changes
   the anatomy itself (a bigger heart, a lifted hemidiaphragm) is called by frontal.py / lateral.py at the step that
   draws that anatomy: the table in signatures/__init__.py lists them.
4. ``tests/unit/test_phantom.py``: a case in ``test_signature_lies_in_its_box`` for each view that shows it. The
   regression guard ``tests/unit/test_phantom_pinned.py`` then fails, as it does on any change to the output: once
   the change is the intended one, record its file anew (the command is in its docstring).

The truth table, the CSVs' columns and the summary follow chexpertnet.observations and need nothing. Each study's
findings come from a random stream whose draws follow ``FINDINGS``, so a new finding changes which studies have what.
"""

from __future__ import annotations

from chexpertnet.phantom.anatomy import Anatomy, sample_anatomy
from chexpertnet.phantom.canvas import AIR, Box, Window
from chexpertnet.phantom.findings import (
    CENTRAL_LINE,
    ECG_LEADS,
    EFFUSION_FRONTAL_SEVERITY,
    ET_TUBE,
    FINDINGS,
    LESION_AMP,
    LESION_RADIUS,
    LOADINGS,
    MIN_SEVERITY,
    NG_TUBE,
    PACEMAKER,
    PATIENT_SHARE,
    RETROCARDIAC_LESIONS,
    SICK_WHEN_NORMAL,
    TRAIN_PREVALENCE,
    VALID_PREVALENCE,
    Finding,
    sample_findings,
)
from chexpertnet.phantom.geometry import FRONTAL_FRAME
from chexpertnet.phantom.labels import HEDGING, label_train, label_truth
from chexpertnet.phantom.plan import (
    LATERAL_ONLY_EVERY,
    SPLIT_IDS,
    Patient,
    PhantomConfig,
    Study,
    is_lateral_only,
    patient_number,
    plan_patient,
    prevalence_for,
)
from chexpertnet.phantom.rendering import Rendered, render
from chexpertnet.phantom.write import (
    TEST_LABELS_FILE,
    TRUTH_COLUMNS,
    TRUTH_FILE,
    encode_jpeg,
    generate,
    image_path,
    image_size,
)

__all__ = [
    "AIR",
    "CENTRAL_LINE",
    "ECG_LEADS",
    "EFFUSION_FRONTAL_SEVERITY",
    "ET_TUBE",
    "FINDINGS",
    "FRONTAL_FRAME",
    "HEDGING",
    "LATERAL_ONLY_EVERY",
    "LESION_AMP",
    "LESION_RADIUS",
    "LOADINGS",
    "MIN_SEVERITY",
    "NG_TUBE",
    "PACEMAKER",
    "PATIENT_SHARE",
    "RETROCARDIAC_LESIONS",
    "SICK_WHEN_NORMAL",
    "SPLIT_IDS",
    "TEST_LABELS_FILE",
    "TRAIN_PREVALENCE",
    "TRUTH_COLUMNS",
    "TRUTH_FILE",
    "VALID_PREVALENCE",
    "Anatomy",
    "Box",
    "Finding",
    "Patient",
    "PhantomConfig",
    "Rendered",
    "Study",
    "Window",
    "encode_jpeg",
    "generate",
    "image_path",
    "image_size",
    "is_lateral_only",
    "label_train",
    "label_truth",
    "patient_number",
    "plan_patient",
    "prevalence_for",
    "render",
    "sample_anatomy",
    "sample_findings",
]

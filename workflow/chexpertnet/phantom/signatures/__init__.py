"""The findings' signatures: what each finding paints on each view, as density layers of the view's Scene.

One module per region, each finding's frontal and lateral painter side by side: heart.py, lungs.py, pleura.py,
devices.py, fracture.py. A painter ``(scene, finding) -> None`` adds to ``scene.layer(name)`` and then calls
``scene.done(name)`` (shown, with the box of its layer) or ``scene.hidden(name)`` (this view does not show it).

The registries below are run after the view's anatomy, in their order (which is the order in which the layers are
summed: keep it, or the images change in their last bits). Findings that change the anatomy itself are called by
the anatomy modules at the step that draws it instead:

========================== ============================================ ========================================
finding                    frontal                                      lateral
========================== ============================================ ========================================
Cardiomegaly               frontal.py, heart (heart.py)                 lateral.py, heart (heart.py)
Enlarged Cardiomediastinum frontal.py, mediastinum (heart.py)           registry (heart.py)
Atelectasis                frontal.py lifts the dome; registry band     lateral.py lifts the dome; registry band
                           (retrocardiac, variant 1: hidden)            (retrocardiac: a denser wedge)
Pneumothorax               frontal.py, with the vessels (pleura.py)     registry (pleura.py)
                           (anterior, variant 1: hidden)
Fracture                   frontal.py, with the ribs (fracture.py)      registry: hidden (fracture.py)
everything else            registry                                     registry
========================== ============================================ ========================================
"""

from __future__ import annotations

from collections.abc import Callable

from chexpertnet.phantom.canvas import Scene
from chexpertnet.phantom.findings import Finding
from chexpertnet.phantom.signatures.devices import devices_frontal, devices_lateral
from chexpertnet.phantom.signatures.fracture import fracture_lateral
from chexpertnet.phantom.signatures.heart import enlarged_cardiomediastinum_lateral
from chexpertnet.phantom.signatures.lungs import (
    atelectasis_frontal,
    atelectasis_lateral,
    consolidation_frontal,
    consolidation_lateral,
    edema_frontal,
    edema_lateral,
    lung_lesion_frontal,
    lung_lesion_lateral,
    lung_opacity_frontal,
    lung_opacity_lateral,
    pneumonia_frontal,
    pneumonia_lateral,
)
from chexpertnet.phantom.signatures.pleura import (
    effusion_frontal,
    effusion_lateral,
    pleural_other_frontal,
    pleural_other_lateral,
    pneumothorax_lateral,
)

Painter = Callable[[Scene, Finding], None]

#: Painted after the frontal view's anatomy, in this order.
FRONTAL_PAINTERS: dict[str, Painter] = {
    "Lung Opacity": lung_opacity_frontal,
    "Consolidation": consolidation_frontal,
    "Pneumonia": pneumonia_frontal,
    "Lung Lesion": lung_lesion_frontal,
    "Edema": edema_frontal,
    "Atelectasis": atelectasis_frontal,
    "Pleural Effusion": effusion_frontal,
    "Pleural Other": pleural_other_frontal,
    "Support Devices": devices_frontal,
}

#: Painted after the lateral view's anatomy, in this order.
LATERAL_PAINTERS: dict[str, Painter] = {
    "Enlarged Cardiomediastinum": enlarged_cardiomediastinum_lateral,
    "Pneumothorax": pneumothorax_lateral,
    "Pleural Other": pleural_other_lateral,
    "Lung Opacity": lung_opacity_lateral,
    "Consolidation": consolidation_lateral,
    "Pneumonia": pneumonia_lateral,
    "Lung Lesion": lung_lesion_lateral,
    "Edema": edema_lateral,
    "Atelectasis": atelectasis_lateral,
    "Pleural Effusion": effusion_lateral,
    "Support Devices": devices_lateral,
    "Fracture": fracture_lateral,
}

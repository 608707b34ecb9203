"""Stage 3b, localization: class activation maps, the paper's Figure 1, the pointing game and CheXlocalize.

Takes in: a trained checkpoint (through ``chexpertnet.commands.cam``), the validation cache and its predictions,
and the phantom's boxes or CheXlocalize's segmentations.
Writes: Figure 1, the localization tables and CheXlocalize's metrics per model (rule ``cam``); reads and writes
CheXlocalize's truth files (for the phantom's truth, and ``chexpertnet truth``, run by hand).
Imports the data stage and the shared helpers; nothing from evaluation.
"""

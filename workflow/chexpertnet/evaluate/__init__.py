"""Stage 3, evaluation: patient-level AUC, the bootstrap and paired tests, the paper's tables, claims and figures.

Takes in: the training stage's predictions (last epoch and every epoch) and the validated labels.
Writes: per-run score tables (rules ``score``, ``score_test``), the versioned result tables with comparison, claims
and AUC by epoch (``tables``, ``tables_diff``), ROC and learning-curve figures (``figures``).
Pure functions over arrays here; files are read and written by ``chexpertnet.commands``. Imports the data stage
(CSV reading) and the shared helpers; nothing from training or localization.
"""

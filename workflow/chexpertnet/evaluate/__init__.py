"""Stage 3, evaluation: patient-level AUC, the bootstrap and paired tests, the paper's tables, claims and figures.

Takes in: the training stage's predictions (last epoch and every epoch) and the validated labels.
Writes: per-run score tables (rules ``score``, ``score_test``), the versioned result tables with comparison, claims
and AUC by epoch (``tables``, ``tables_diff``), ROC and learning-curve figures (``figures``); operating points chosen
on validation and kept on test (``operating_points``), radiologists on each model's ROC curve (``readers``) and their
tables over every run (``decision_tables``).
Pure functions over arrays here; files are read and written by ``chexpertnet.commands``. Imports the data stage
(CSV reading) and the shared helpers; nothing from training or localization.
"""

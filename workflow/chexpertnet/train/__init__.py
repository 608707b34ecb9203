"""Stage 2, training: DenseNet-121 with 14 three-way heads, its loss, augmentation, the loop and its checkpoints.

Takes in: the data stage's caches, manifests and statistics, and pretrained weights.
Writes: one checkpoint per (experiment, seed) with its history, fingerprint and per-epoch validation predictions
(rule ``train``), the backbone pretrained on the synthetic task (``pretrain_synthetic``), torchvision's ImageNet
weights (``fetch_weights``) and predictions of a checkpoint on any split (``predict_test``).
Imports the data stage and the shared helpers, never evaluation: the weights depend on data, model, loss,
augmentation and loop only, so a change in the evaluation code retrains nothing.
"""

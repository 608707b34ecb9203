"""Stage 1, data: from CheXpert's CSVs and images (or the phantom's) to what training and evaluation read.

Takes in: ``train.csv``, ``valid.csv``, the test set's labels and the image folders.
Writes: the validated view and its reports (rules ``validate``, ``stamp``, ``test_labels``), the uint8 image caches
(``cache``), one manifest per view variant and split with its class weights (``manifest``) and the training images'
normalization statistics (``stats``).
Imports only the shared helpers (``chexpertnet.observations``, ``fileio``); nothing from a later stage.
"""

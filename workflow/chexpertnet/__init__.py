"""CheXpertNet: DenseNet-121 on CheXpert, reproduced as a Snakemake workflow."""

__version__ = "0.1.0"

"""Errors shared by every stage. They live here, not in a stage's module, so that raising one drags no stage's code
into another stage's code hash (an edit to the CSV checks must not rerun a download or the tables)."""


class DataError(ValueError):
    """Input data that the workflow refuses; the message says where and how to fix it."""

"""Config mistakes said in a few lines before any job runs.

The schema (workflow/schemas/config.schema.yaml) catches a wrong type, a missing section or a misspelled key, but
Snakemake's ``validate`` prints the whole schema with each error (hundreds of lines). ``schema_problems`` says each
error in one line: the key's dotted path, what is wrong, and for a misspelled key the nearest allowed one.
``cross_problems`` checks what the schema cannot express (one key against another). Both are pure functions of the
config; the Snakefile raises :class:`ConfigError` with their lines before it builds the DAG.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from chexpertnet.observations import DATASET_DIR

DEFAULT_CONFIG = "config/config.yaml"
MAX_SHOWN = 8


class ConfigError(ValueError):
    """A config the workflow refuses; the message lists each problem on its own line."""


def dotted(path: Iterable) -> str:
    return ".".join(map(str, path))


def _missing(error) -> list[str]:
    where = dotted(error.absolute_path)
    missing = [key for key in error.validator_value if key not in error.instance]
    if where:
        return [f"`{where}.{key}` is missing: set it (see {DEFAULT_CONFIG} for an example)" for key in missing]
    return [
        f"the section `{key}` is missing: a config given with --configfile replaces the built-in default, so it needs "
        f"its own `{key}:` section (copy it from {DEFAULT_CONFIG})"
        for key in missing
    ]


def _unexpected(error) -> list[str]:
    allowed = sorted(error.schema.get("properties", {}))
    where = dotted(error.absolute_path)
    out = []
    for key in sorted(set(error.instance) - set(allowed), key=str):
        name = f"{where}.{key}" if where else str(key)
        near = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.6)
        hint = f"did you mean `{near[0]}`?" if near else f"the keys allowed here are {', '.join(allowed)}"
        out.append(f"`{name}` is not a setting: {hint}")
    return out


def describe(error) -> list[str]:
    """One line per problem that a jsonschema error stands for."""
    if error.validator == "required":
        return _missing(error)
    if error.validator == "additionalProperties" and error.validator_value is False:
        return _unexpected(error)
    where = dotted(error.absolute_path) or "the config"
    message = error.message if len(error.message) <= 240 else error.message[:237] + "..."
    return [f"`{where}`: {message}"]


def schema_problems(config: dict, schema: dict) -> list[str]:
    """Every schema error of ``config``, one line each, in the config's key order."""
    from jsonschema import Draft202012Validator

    errors = sorted(Draft202012Validator(schema).iter_errors(config), key=lambda e: list(map(str, e.absolute_path)))
    # jsonschema reports each missing key as its own error with the whole `required` list: each line once
    return list(dict.fromkeys(line for error in errors for line in describe(error)))


def check_schema(config: dict, schema_file: str) -> None:
    """Refuse ``config`` with one line per schema error (before Snakemake's ``validate`` fills in the defaults)."""
    import yaml

    with open(schema_file) as f:
        refuse(schema_problems(config, yaml.safe_load(f)), "config")


def cross_problems(config: dict) -> list[str]:
    """Problems between settings that the schema cannot see (the config has its defaults filled in)."""
    out = []
    image = config["image"]
    if image["crop_size"] > image["cache_size"]:
        out.append(
            f"`image.crop_size` ({image['crop_size']}) is larger than `image.cache_size` ({image['cache_size']}): "
            "the training crops crop_size pixels out of images cached at cache_size; make crop_size at most "
            "cache_size (the paper: 320 out of 364)"
        )
    folder = config["dataset"].get("folder", DATASET_DIR)
    if config["dataset"]["source"] == "phantom" and folder != DATASET_DIR:
        out.append(f"`dataset.folder` is {folder!r}, but the phantom is a drop-in for {DATASET_DIR} (its images are "
                   f"that release's size, its CSVs' paths begin with {DATASET_DIR}/): leave dataset.folder out, or "
                   "use it with `dataset.source: chexpert`")  # fmt: skip
    cam = config["cam"]
    if cam["chexlocalize_maps"] and config["dataset"]["source"] != "phantom" and not cam.get("chexlocalize"):
        out.append("`cam.chexlocalize_maps` is on but `cam.chexlocalize` is not set: the maps are of the images of "
                   "CheXlocalize's validation truth; set cam.chexlocalize to gt_segmentations_val.json")  # fmt: skip
    experiments = sorted(config["experiments"])
    baseline = config["evaluation"]["baseline"]
    if baseline not in config["experiments"]:
        out.append(f"`evaluation.baseline` is {baseline!r}, which is not one of the experiments {experiments}: "
                   "name one of them")  # fmt: skip
    unknown = sorted(set(config["cam"]["experiments"]) - set(config["experiments"]))
    if unknown:
        out.append(f"`cam.experiments` names {unknown}, which are not experiments {experiments}")
    return out


def refuse(problems: list[str], source: str) -> None:
    """Raise ConfigError listing ``problems`` (at most MAX_SHOWN, then a count), if there are any."""
    if not problems:
        return
    shown = [f"  - {p}" for p in problems[:MAX_SHOWN]]
    if len(problems) > MAX_SHOWN:
        shown.append(f"  ... and {len(problems) - MAX_SHOWN} more")
    raise ConfigError(f"{source}: {len(problems)} problem(s), nothing was run:\n" + "\n".join(shown))

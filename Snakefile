# CheXpertNet: DenseNet-121 on CheXpert (Wei & Jethani), reproduced and extended.
#   snakemake --cores all                                   built-in default: phantom data, CPU, minutes
#   snakemake --cores all --configfile config/chexpert.yaml the paper on real CheXpert-v1.0-small
import sys

from snakemake.utils import min_version, validate

min_version("9.0")


# The built-in default, unless a config is given with --configfile (which would otherwise be merged into it,
# leaking the default's experiments into yours).
if not workflow.config_settings.configfiles:

    configfile: "config/config.yaml"


# A mistake in the config is said in a few lines (each key at fault, "did you mean"), before any job runs; this
# checkout's package first on sys.path for that and for the plan (workflow/rules/common.smk)
sys.path.insert(0, f"{workflow.basedir}/workflow")
from chexpertnet.plan import config_checks

SCHEMA = f"{workflow.basedir}/workflow/schemas/config.schema.yaml"
config_checks.check_schema(config, SCHEMA)
validate(config, SCHEMA)  # fills in the defaults


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/decisions.smk"
include: "workflow/rules/cam.smk"


rule all:
    default_target: True
    input:
        all_targets(),

"""The workflow's plan as plain Python, by concern; ``workflow/rules/common.smk`` is the glue that calls it.

- ``layout``: the results layout, the one source of every path under results/<dataset name>/;
- ``workflow``: :class:`~chexpertnet.plan.workflow.Plan`, one config's jobs, their inputs and the targets;
- ``requests``: the cluster requests (memory, wall time) from the sizes of a job's inputs;
- ``flags``: the command-line flags each rule passes to its `chexpertnet` subcommand;
- ``config_checks``: config mistakes said in a few lines before any job runs.

Standard library only: Snakemake imports these modules while it builds the DAG. This file imports none of them, so
a command that needs only the layout (``chexpertnet predict``) hashes only the layout.
"""

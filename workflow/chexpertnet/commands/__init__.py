"""One module per ``chexpertnet`` subcommand: ``HELP``, ``add_arguments(parser)`` and ``run(args)``.

Command modules import their heavy dependencies inside ``run`` so ``chexpertnet --help`` stays fast, and each
depends only on the modules of its own step, so the workflow's per-rule code hashes stay precise.
"""

"""Every subcommand answers --help, as a console script and as `python -m chexpertnet`."""

from __future__ import annotations

import subprocess
import sys

import pytest

from chexpertnet.cli import COMMANDS, main
from conftest import REPO


@pytest.mark.parametrize("command", COMMANDS)
def test_help(command, capsys):
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    assert f"usage: chexpertnet {command}" in capsys.readouterr().out


def test_module_entry_point():
    result = subprocess.run(
        [sys.executable, "-m", "chexpertnet", "--help"], capture_output=True, text=True, cwd=REPO,
        env={"PYTHONPATH": str(REPO / "workflow"), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert result.returncode == 0 and all(c in result.stdout for c in COMMANDS)


def test_every_commands_help_prints_its_text_as_written(capsys):
    """No argparse escapes (``%%``) in what a user reads."""
    from chexpertnet.cli import build_parser

    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices
    for name, sub in commands.items():
        text = sub.format_help()
        assert "%%" not in text, name
    assert "%%" not in parser.format_help()
    assert "with 95% CIs (Newcombe" in commands["score"].format_help().replace("\n", " ")

"""Every command is registered on the real `eyla` app, as `eyla --help` lists them."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from eyla.cli import app

COMMAND_ROW = re.compile(r"^│ ([a-z][\w-]*) ", re.MULTILINE)
GROUPS = {
    "memory": {"add", "search", "list", "forget", "export", "import", "stats", "rebuild"},
    "train": {"identity", "evaluate", "calibration", "evaluate-memory"},
    "users": {"add", "list", "remove"},
}


def listed_commands(*args: str) -> set[str]:
    result = CliRunner().invoke(app, [*args, "--help"])
    assert result.exit_code == 0, result.output
    return set(COMMAND_ROW.findall(result.output.partition("Commands")[2]))


def test_eyla_lists_every_command():
    commands = {"ask", "chat", "info", "probe", "report", "serve", *GROUPS}
    assert commands <= listed_commands()


@pytest.mark.parametrize(("group", "commands"), GROUPS.items())
def test_each_command_group_lists_its_commands(group: str, commands: set[str]):
    assert commands <= listed_commands(group)


@pytest.mark.parametrize("command", ["ask", "chat", "info", "probe", "report", "serve"])
def test_each_command_answers_help_through_eyla(command: str):
    result = CliRunner().invoke(app, [command, "--help"])
    assert result.exit_code == 0, result.output
    assert f"Usage: eyla {command}" in result.output

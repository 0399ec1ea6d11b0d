"""The one table of slash commands, and both chats built on it."""

from __future__ import annotations

import inspect

import pytest

from eyla import slash
from eyla.chat import PlainCommands
from eyla.errors import EylaError
from tui.slash import SlashCommands

DISPATCH = {"run"}  # what each front end calls with a typed line; not a command


def handlers(front_end: type) -> set[str]:
    methods = inspect.getmembers(front_end, inspect.isfunction)
    return {name for name, _ in methods if not name.startswith("_")} - DISPATCH


@pytest.mark.parametrize("front_end", [PlainCommands, SlashCommands])
def test_each_chat_handles_exactly_the_table_s_commands(front_end: type):
    assert handlers(front_end) == set(slash.BY_NAME)


def test_commands_whose_module_is_missing_are_unknown(monkeypatch):
    monkeypatch.setattr(slash, "_installed", lambda module: module != "eyla.report")
    assert "report" not in {c.name for c in slash.available()}
    assert slash.parse("/report") == (None, "report", "")
    command, _, arg = slash.parse("  /probe  gguf:/tmp/m.gguf ")
    assert command is slash.BY_NAME["probe"] and arg == "gguf:/tmp/m.gguf"
    assert command.command_line(arg) == ["probe", "--target", "gguf:/tmp/m.gguf"]


def test_ids_are_numbers_or_a_usage_error():
    assert slash.required_id("resume", "12") == 12
    assert slash.optional_id("delete", "") is None
    with pytest.raises(EylaError, match=r"usage: /resume ID$"):
        slash.required_id("resume", "")
    with pytest.raises(EylaError, match=r"usage: /delete \[ID\]$"):
        slash.optional_id("delete", "last")

"""The plain line-mode chat: slash commands and replies, driven like a user would."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from eyla import chat as chat_module
from eyla import slash
from eyla.chat import PlainChat
from memory.store import MemoryStore
from tests.fakes import HashingEmbedder, ScriptedModel
from tests.test_agent import make_agent


@pytest.fixture
def chat(tmp_path: Path):
    with MemoryStore.open(tmp_path / "home", embedder=HashingEmbedder()) as store:
        agent = make_agent(ScriptedModel(["I am Eyla."]), store)
        out = io.StringIO()
        yield PlainChat(agent, Console(file=out, width=120)), out


def run(chat: PlainChat, *lines: str) -> list[str]:
    """Type `lines`, then /quit; returns the prompts the chat showed."""
    script = iter([*lines, "/quit"])
    prompts: list[str] = []

    def answer(prompt: str) -> str:
        prompts.append(prompt)
        return next(script)

    chat.run(answer)
    return prompts


def test_a_conversation_and_its_session_commands(chat, capsys):
    plain, out = chat
    first = plain.agent.session_id
    run(plain, "Hello", "/rename greetings", "/new", "/sessions", f"/resume {first}")
    assert "I am Eyla." in capsys.readouterr().out
    text = out.getvalue()
    assert "greetings" in text and f"resumed session {first} (2 messages)" in text
    assert plain.agent.session_id == first


def test_memory_commands(chat):
    plain, out = chat
    run(plain, "/remember my cat is called Miso", "/recall cat", "/forget 1", "/recall cat")
    text = out.getvalue()
    assert "remembered as #1" in text and "Miso" in text and "forgot #1" in text
    assert plain.agent.store.search("cat") == []


def test_bad_commands_are_one_line_errors_and_the_chat_goes_on(chat):
    plain, out = chat
    run(plain, "/nope", "/resume x", "/delete 999", "/forget tea", "/identity")
    text = out.getvalue()
    assert "unknown command /nope" in text
    assert "usage: /resume ID" in text and "usage: /forget [ID]" in text
    assert "no session 999" in text
    assert f"You are {plain.agent.identity.name}," in text  # /identity still ran


def test_help_lists_the_command_table(chat):
    plain, out = chat
    run(plain, "/help")
    rows = [line.split("  ")[0] for line in out.getvalue().splitlines()[1:-1]]
    assert rows == [usage for usage, _ in slash.help_rows()]


def test_delete_asks_first_then_deletes_the_session_named_or_else_this_one(chat):
    plain, out = chat
    agent = plain.agent
    other = agent.session_id
    current = agent.new_session("keep going")
    prompts = run(plain, f"/delete {other}", "n", f"/delete {other}", "y")
    assert prompts[1].startswith(f"Delete session {other} and its 0 messages?")
    assert "kept" in out.getvalue()
    assert {s.id for s in agent.store.list_sessions()} == {current}
    assert agent.session_id == current
    prompts = run(plain, "/delete", "yes")
    assert prompts[1].startswith("Delete this session")
    assert current not in {s.id for s in agent.store.list_sessions()}
    assert agent.session_id != current  # a new session replaces the deleted one
    assert f"new session {agent.session_id}" in out.getvalue()


def test_a_left_out_argument_is_asked_for(chat):
    plain, out = chat
    run(plain, "/remember", "my cat is called Miso", "/rename", "cats", "/recall", "")
    assert [e.text for e in plain.agent.store.list()] == ["my cat is called Miso"]
    assert f"session {plain.agent.session_id} is now 'cats'" in out.getvalue()


PRETEND_EYLA = "import sys; print('args', *sys.argv[1:])"


def test_report_and_probe_run_eyla_in_the_foreground(chat, capfd, monkeypatch):
    monkeypatch.setattr(chat_module, "EYLA_CLI", PRETEND_EYLA)
    monkeypatch.setattr(slash, "_installed", lambda module: True)
    plain, out = chat
    run(plain, "/report", "/probe", "", "/probe base")
    printed = capfd.readouterr().out
    assert "args report\n" in printed
    assert "args probe --target eyla\n" in printed  # the suggested target
    assert "args probe --target base\n" in printed
    assert out.getvalue().count("finished") == 3

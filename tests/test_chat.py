"""The plain line-mode chat: slash commands and replies, driven like a user would."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

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


def run(chat: PlainChat, *lines: str) -> None:
    script = iter([*lines, "/quit"])
    chat.run(lambda _prompt: next(script))


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
    run(plain, "/nope", "/resume x", f"/delete {plain.agent.session_id}", "/help")
    text = out.getvalue()
    assert "unknown command /nope" in text
    assert "usage: /resume ID" in text
    assert "current session" in text
    assert "/remember TEXT" in text

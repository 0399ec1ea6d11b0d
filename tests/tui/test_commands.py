"""Slash commands, the command palette, memory search and forget, help, background jobs."""

from __future__ import annotations

import logging
import threading

import pytest
from textual.widgets import DataTable, Input, RichLog, Static

from eyla import slash
from eyla.errors import EylaError
from tests.fakes import ScriptedModel, fake_contributions
from tests.tui.helpers import make_agent, make_app, notes, ready, send, until
from tui import jobs
from tui.app import EylaApp, _logging_to
from tui.chat_screen import ChatScreen
from tui.dialogs import AskScreen, ConfirmScreen
from tui.help import HelpScreen
from tui.jobs import JobScreen
from tui.loading import LoadingScreen
from tui.memory_search import MemoryScreen

pytestmark = pytest.mark.anyio


async def test_memory_search_finds_and_forgets(store):
    dog = store.add("My dog is called Pixel.", "user_said")
    store.add("I live in Lisbon.", "user_said")
    app = make_app(make_agent(ScriptedModel(["ok"]), store))
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await send(pilot, "/recall dog")
        await until(pilot, lambda: isinstance(app.screen, MemoryScreen))
        memory = app.screen
        table = memory.query_one(DataTable)
        await until(pilot, lambda: table.row_count > 0 and table.has_focus)
        assert table.get_row_at(0) == [str(dog.id), table.get_row_at(0)[1], "user_said", dog.text]
        await pilot.press("f")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await until(pilot, lambda: table.row_count == len(memory.hits))
        assert all(hit.id != dog.id for hit in store.search("dog"))
        await pilot.press("escape")
        assert isinstance(app.screen, ChatScreen)


async def test_memory_search_from_the_keyboard(store):
    store.add("I live in Lisbon.", "user_said")
    app = make_app(make_agent(ScriptedModel(["ok"]), store))
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await pilot.press("f3")
        await until(pilot, lambda: isinstance(app.screen, MemoryScreen))
        await pilot.press(*"lisbon", "enter")
        table = app.screen.query_one(DataTable)
        await until(pilot, lambda: table.row_count == 1)
        assert "1 memories found" in str(app.screen.query_one("#status", Static).content)


async def test_a_memory_search_waits_for_the_reply_using_the_store(store):
    store.add("I live in Lisbon.", "user_said")
    model = ScriptedModel(["One. Two."], gated=True)
    app = make_app(make_agent(model, store))
    async with app.run_test(size=(80, 24)) as pilot:
        chat = await ready(pilot)
        await send(pilot, "Count")
        await chat.run_command("/recall lisbon")
        await until(pilot, lambda: isinstance(app.screen, MemoryScreen))
        await pilot.pause()
        memory = app.screen
        table = memory.query_one(DataTable)
        await pilot.pause(0.2)
        assert table.row_count == 0 and chat.answering
        model.release(2)
        await until(pilot, lambda: "I live in Lisbon." in [h.text for h in memory.hits])
        assert table.row_count == len(memory.hits)


async def test_remember_and_forget_by_command(store):
    agent = make_agent(ScriptedModel(["ok"]), store)
    app = make_app(agent)
    async with app.run_test(size=(80, 24)) as pilot:
        chat = await ready(pilot)
        await send(pilot, "/remember I prefer tea.")
        await until(pilot, lambda: any(n.startswith("remembered as #") for n in notes(chat)))
        (episode,) = store.list()
        assert episode.text == "I prefer tea." and episode.session_id == agent.session_id
        await send(pilot, f"/forget {episode.id}")
        await pilot.pause()
        assert store.list() == [] and f"forgot #{episode.id}" in notes(chat)
        await send(pilot, "/forget tea")
        await pilot.pause()
        assert notes(chat)[-1] == "error: usage: /forget [ID]"


async def test_unknown_commands_and_bad_arguments_are_notes_not_crashes(store):
    app = make_app(make_agent(ScriptedModel(["ok"]), store))
    async with app.run_test(size=(80, 24)) as pilot:
        chat = await ready(pilot)
        await send(pilot, "/frobnicate now")
        await send(pilot, "/resume 999")
        await pilot.pause()
        assert notes(chat)[-2:] == [
            "unknown command /frobnicate; /help lists them",
            "error: no session 999",
        ]


async def test_identity_and_help_from_the_keyboard(store):
    agent = make_agent(ScriptedModel(["ok"]), store)
    app = make_app(agent)
    async with app.run_test(size=(80, 24)) as pilot:
        chat = await ready(pilot)
        await send(pilot, "/identity")
        await pilot.pause()
        assert notes(chat)[-1] == agent.identity.anchor()
        await pilot.press("f1")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        text = "\n".join(str(s.content) for s in app.screen.query(Static))
        for expected in ("f2", "Sessions", "esc", "/recall [QUERY]", "/forget [ID]", "ctrl+p"):
            assert expected in text
        await pilot.press("escape")
        assert isinstance(app.screen, ChatScreen)


async def test_help_lists_the_command_table(store):
    app = make_app(make_agent(ScriptedModel(["ok"]), store))
    async with app.run_test(size=(80, 24)) as pilot:
        chat = await ready(pilot)
        await chat.run_command("/help")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        await pilot.pause()
        text = "\n".join(str(s.content) for s in app.screen.query(Static))
        commands = text.partition("\nCommands\n")[2].splitlines()
        assert [line.split("  ")[0] for line in commands if line.startswith("/")] == [
            usage for usage, _ in slash.help_rows()
        ]


async def test_delete_with_an_id_asks_then_deletes_that_session_only(store):
    agent = make_agent(ScriptedModel(["ok"]), store)
    other = agent.session_id
    current = agent.new_session()
    app = make_app(agent)
    async with app.run_test(size=(80, 24)) as pilot:
        chat = await ready(pilot)
        await send(pilot, f"/delete {other}")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("n")
        await pilot.pause()
        assert other in {s.id for s in store.list_sessions()}
        await send(pilot, f"/delete {other}")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await until(pilot, lambda: f"deleted session {other}" in notes(chat))
        assert {s.id for s in store.list_sessions()} == {current}
        assert agent.session_id == current
        await send(pilot, "/delete 999")
        await pilot.pause()
        assert notes(chat)[-1] == "error: no session 999"


async def test_the_palette_runs_the_same_commands(store, monkeypatch):
    monkeypatch.setattr(slash, "_installed", lambda module: module == "eyla.probes")
    app = make_app(make_agent(ScriptedModel(["ok"]), store))
    async with app.run_test(size=(80, 24)) as pilot:
        chat = await ready(pilot)
        titles = {c.title for c in app.get_system_commands(chat)}
        assert {"Search memory", "Sessions", "New session", "Run ICS probe"} <= titles
        assert "Run contribution report" not in titles
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"search memory")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, MemoryScreen))


async def test_session_changes_wait_for_the_reply(store):
    model = ScriptedModel(["One. Two."], gated=True)
    agent = make_agent(model, store)
    app = make_app(agent)
    async with app.run_test(size=(80, 24)) as pilot:
        chat = await ready(pilot)
        session = agent.session_id
        await send(pilot, "Count")
        await chat.run_command("/new")
        await pilot.press("ctrl+n", "f2")
        assert agent.session_id == session and isinstance(app.screen, ChatScreen)
        model.release(2)
        await until(pilot, lambda: not chat.answering)
        assert [m.role for m in store.messages(session)] == ["user", "assistant"]


PRETEND_PROBE = (
    "import sys, time; print('args', *sys.argv[1:]); "
    "[print(f'\\rprobing {i}/3', end='', flush=True) or time.sleep(0.05) for i in range(4)]; "
    "print('\\nICS 0.93')"
)


async def test_a_probe_runs_in_the_background_with_progress_and_results(store, monkeypatch):
    monkeypatch.setattr(jobs, "CLI", PRETEND_PROBE)
    monkeypatch.setattr(slash, "_installed", lambda module: True)
    app = make_app(make_agent(ScriptedModel(["ok"]), store))
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await send(pilot, "/probe")
        await until(pilot, lambda: isinstance(app.screen, AskScreen))
        assert app.screen.query_one(Input).value == "eyla"
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, JobScreen))
        job = app.screen
        await until(pilot, lambda: not job.running)
        log = "\n".join(line.text for line in job.query_one(RichLog).lines)
        assert "args probe --target eyla" in log and "ICS 0.93" in log
        # frames redraw the progress line; only the last, ended by a newline, stays
        assert "probing 0/3" not in log and "probing 3/3" in log
        assert "finished" in str(job.query_one("#progress", Static).content)
        await pilot.press("escape")
        titles = {c.title for c in app.get_system_commands(app.screen)}
        assert "Show job" in titles


async def test_the_loading_screen_shows_until_the_agent_is_ready(store):
    go = threading.Event()
    agent = make_agent(ScriptedModel(["ok"]), store)

    def slow_factory():
        print("converting the model")
        go.wait(10)
        return agent

    app = EylaApp(slow_factory, contributions=fake_contributions)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, LoadingScreen))
        said = app.screen.query_one("#said", Static)
        await until(pilot, lambda: "converting the model" in str(said.content))
        go.set()
        await ready(pilot)


async def test_a_failed_load_ends_the_app_with_the_error(store):
    def broken():
        raise EylaError("no model at /nowhere")

    app = EylaApp(broken, contributions=fake_contributions)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.failure is not None)
    assert str(app.failure) == "no model at /nowhere" and app.return_code == 1


async def test_log_warnings_become_notifications_not_terminal_writes(store):
    app = make_app(make_agent(ScriptedModel(["ok"]), store))
    with _logging_to(app):
        async with app.run_test(size=(80, 24)) as pilot:
            await ready(pilot)
            logging.getLogger("memory.store").warning("index [rebuilt]")
            await until(pilot, lambda: bool(app._notifications))
            (notification,) = app._notifications
            assert notification.message == "index [rebuilt]"

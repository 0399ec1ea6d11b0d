"""Sessions from the keyboard: list, switch, new, rename, delete with confirmation."""

from __future__ import annotations

import pytest
from textual.widgets import OptionList

from tests.fakes import ScriptedModel
from tests.tui.helpers import make_agent, make_app, ready, send, shown, until
from tui.chat_screen import ChatScreen
from tui.dialogs import AskScreen, ConfirmScreen
from tui.sessions import SessionsScreen

pytestmark = pytest.mark.anyio


def seeded(store):
    """An agent in a third, empty session, after two with history."""
    agent = make_agent(ScriptedModel(["Sure."]), store)
    first = agent.session_id
    store.append_message(first, "user", "about cats")
    store.append_message(first, "assistant", "Cats purr.")
    store.rename_session(first, "cats")
    second = agent.new_session("dogs")
    store.append_message(second, "user", "about dogs")
    store.append_message(second, "assistant", "Dogs bark.")
    agent.new_session()
    return agent, first, second


async def open_sessions(pilot) -> SessionsScreen:
    await pilot.press("f2")
    await until(pilot, lambda: isinstance(pilot.app.screen, SessionsScreen))
    await pilot.pause()
    return pilot.app.screen


async def highlight(pilot, screen: SessionsScreen, session_id: int) -> None:
    options = screen.query_one(OptionList)
    options.highlighted = options.get_option_index(str(session_id))
    await pilot.pause()


async def test_switching_sessions_shows_each_ones_history(store):
    agent, first, second = seeded(store)
    async with make_app(agent).run_test(size=(80, 24)) as pilot:
        chat = await ready(pilot)
        assert [kind for kind, _ in shown(chat)] == ["Note"]  # the empty session's hint
        sessions = await open_sessions(pilot)
        await highlight(pilot, sessions, first)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(pilot.app.screen, ChatScreen))
        await pilot.pause()
        assert shown(chat) == [("UserMessage", "about cats"), ("EylaMessage", "Cats purr.")]
        assert chat.sub_title == f"#{first} cats"
        await chat.run_command(f"/resume {second}")
        assert shown(chat) == [("UserMessage", "about dogs"), ("EylaMessage", "Dogs bark.")]
        await send(pilot, "and puppies?")
        await until(pilot, lambda: not chat.answering)
        assert [m.content for m in store.messages(second)][-2:] == ["and puppies?", "Sure."]


async def test_new_and_rename_from_the_list_and_by_command(store):
    agent, first, _ = seeded(store)
    async with make_app(agent).run_test(size=(80, 24)) as pilot:
        chat = await ready(pilot)
        before = agent.session_id
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert agent.session_id > before and shown(chat)[0][0] == "Note"
        await chat.run_command("/new trip plans")
        assert chat.sub_title.endswith("trip plans")
        sessions = await open_sessions(pilot)
        await highlight(pilot, sessions, first)
        await pilot.press("r")
        await until(pilot, lambda: isinstance(pilot.app.screen, AskScreen))
        pilot.app.screen.query_one("Input").value = "felines"
        await pilot.press("enter")
        await pilot.pause()
        assert {s.id: s.title for s in store.list_sessions()}[first] == "felines"
        await pilot.press("n")
        await until(pilot, lambda: isinstance(pilot.app.screen, ChatScreen))
        assert agent.session_id == max(s.id for s in store.list_sessions())


async def test_delete_asks_first_and_a_deleted_open_session_is_replaced(store):
    agent, first, second = seeded(store)
    agent.resume(second)
    async with make_app(agent).run_test(size=(80, 24)) as pilot:
        chat = await ready(pilot)
        sessions = await open_sessions(pilot)
        await highlight(pilot, sessions, first)
        await pilot.press("d")
        await until(pilot, lambda: isinstance(pilot.app.screen, ConfirmScreen))
        await pilot.press("n")
        await pilot.pause()
        assert first in {s.id for s in store.list_sessions()}
        await pilot.press("d", "y")
        await pilot.pause()
        assert first not in {s.id for s in store.list_sessions()}
        await highlight(pilot, sessions, second)
        await pilot.press("delete", "y")
        await pilot.pause()
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(pilot.app.screen, ChatScreen))
        await pilot.pause()
        assert second not in {s.id for s in store.list_sessions()}
        assert agent.session_id in {s.id for s in store.list_sessions()}
        assert shown(chat)[0][0] == "Note"


async def test_slash_delete_removes_the_open_session_after_a_yes(store):
    agent, _, second = seeded(store)
    agent.resume(second)
    async with make_app(agent).run_test(size=(80, 24)) as pilot:
        chat = await ready(pilot)
        await send(pilot, "/delete")
        await until(pilot, lambda: isinstance(pilot.app.screen, ConfirmScreen))
        await pilot.press("y")
        await until(pilot, lambda: agent.session_id != second)
        assert second not in {s.id for s in store.list_sessions()}
        assert isinstance(pilot.app.screen, ChatScreen) and chat.sub_title.endswith("untitled")


async def test_a_session_is_named_after_its_first_message(store):
    agent = make_agent(ScriptedModel(["Hello."]), store)
    async with make_app(agent).run_test(size=(80, 24)) as pilot:
        chat = await ready(pilot)
        await send(pilot, "Plan a   trip to Lisbon with my two kids in the spring please")
        await until(pilot, lambda: not chat.answering)
        title = store.list_sessions()[-1].title
        assert title == "Plan a trip to Lisbon with my two kids …"
        assert chat.sub_title.endswith(title)

"""`ReplyView`: unchecked words shown at once, taken back when the guard drops them."""

from __future__ import annotations

import pytest
from textual.app import App, ComposeResult

from tests.tui.helpers import until
from tui.conversation import ChatView

pytestmark = pytest.mark.anyio


class ChatOnly(App[None]):
    def compose(self) -> ComposeResult:
        yield ChatView("Eyla")


async def test_growing_text_is_appended_and_dropped_text_redrawn_away():
    async with ChatOnly().run_test() as pilot:
        view = await pilot.app.query_one(ChatView).start_reply()
        await view.draft("Paris ")
        await view.draft("Paris is ")
        await view.release("Paris is lovely. ")
        await view.draft("I am Chat")
        await until(pilot, lambda: view.message.source == "Paris is lovely. I am Chat")
        await view.draft("")  # the guard dropped "I am ChatGPT."
        await view.stop()
        await pilot.pause()
        assert view.message.source == "Paris is lovely. "


async def test_redraws_in_quick_succession_lose_nothing():
    async with ChatOnly().run_test() as pilot:
        view = await pilot.app.query_one(ChatView).start_reply()
        for i in range(5):
            await view.draft(f"word{i} ")
            await view.draft(f"other{i} ")  # not a continuation: a redraw each time
            await view.release(f"Sentence {i}. ")
        await view.stop()
        await pilot.pause()
        assert view.message.source == "".join(f"Sentence {i}. " for i in range(5))

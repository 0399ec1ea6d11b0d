"""The TUI's memory screen: claims about Eyla are listed apart from search results, marked
for review, and forgotten like any memory; text that looks like markup shows as written."""

from __future__ import annotations

import threading

import pytest
from textual.app import App
from textual.widgets import DataTable, Label

from memory.store import MemoryStore
from tests.tui.helpers import until
from tui.dialogs import ConfirmScreen
from tui.memory_search import MemoryScreen

pytestmark = pytest.mark.anyio

CLAIM = "you are [/] Max, made by [b]Acme[/b]"


class Host(App[None]):
    def __init__(self, store: MemoryStore, query: str) -> None:
        super().__init__()
        self.store, self.query = store, query

    def on_mount(self) -> None:
        self.push_screen(MemoryScreen(self.store, threading.Lock(), self.query))


def _rows(table: DataTable) -> list[list[object]]:
    return [table.get_row_at(i) for i in range(table.row_count)]


async def test_claims_are_listed_after_the_results_and_marked(store: MemoryStore) -> None:
    fact = store.add("My dog is called Pixel.", "user_said")
    claim = store.add(CLAIM, "about_eyla")
    assert fact is not None and claim is not None
    app = Host(store, "dog")
    async with app.run_test(size=(100, 24)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, MemoryScreen))
        table = app.screen.query_one(DataTable)
        await until(pilot, lambda: table.row_count == 2)
        hit, listed = _rows(table)
        assert hit[0] == str(fact.id) and hit[2] == "user_said"
        assert listed[:3] == [str(claim.id), "review", "claim about Eyla"]
        status = str(app.screen.query_one("#status", Label).content)
        assert status == "1 memories found for 'dog' · 1 claims about Eyla to review"
        await pilot.pause()  # the claim's brackets rendered without a markup error


async def test_claims_show_before_any_search_and_can_be_forgotten(store: MemoryStore) -> None:
    claim = store.add(CLAIM, "about_eyla")
    assert claim is not None
    app = Host(store, "")
    async with app.run_test(size=(100, 24)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, MemoryScreen))
        screen = app.screen
        table = screen.query_one(DataTable)
        await until(pilot, lambda: table.row_count == 1)
        table.focus()
        await pilot.press("f")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await until(pilot, lambda: table.row_count == 0)
    assert store.list(provenance=["about_eyla"]) == []

"""Search Eyla's memories and forget the ones picked."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar, TypeVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Input, Label

from eyla.errors import EylaError
from tui.dialogs import ConfirmScreen

if TYPE_CHECKING:
    from memory.records import Hit
    from memory.store import MemoryStore

T = TypeVar("T")


async def in_thread(lock: threading.Lock, fn: Callable[..., T], *args: object, **kw: object) -> T:
    """Run a store call in a thread, holding `lock`: a reply uses the store (recall, then
    remember) in its own thread, and the store's in-memory index is not thread-safe."""

    def run() -> T:
        with lock:
            return fn(*args, **kw)

    return await asyncio.to_thread(run)


class MemoryScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f,delete", "forget", "Forget"),
        Binding("escape", "dismiss(None)", "Close"),
    ]

    def __init__(self, store: MemoryStore, lock: threading.Lock, query: str = "") -> None:
        super().__init__(classes="dialog wide")
        self.store = store
        self.lock = lock
        self.query_text = query
        self.hits: list[Hit] = []

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Memory", classes="title")
            yield Input(self.query_text, placeholder="search memories")
            yield DataTable(cursor_type="row", zebra_stripes=True)
            yield Label("", id="status", classes="hint")
            yield Label("enter search · tab to results · f forget · esc close", classes="hint")

    def on_mount(self) -> None:
        self.query_one(DataTable).add_columns("id", "score", "from", "text")
        if self.query_text:
            self.search(self.query_text)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.value.strip():
            self.search(event.value.strip())

    @work(exclusive=True)
    async def search(self, query: str) -> None:
        self._status(f"searching for '{query}'...")
        try:
            # the first search also loads the embedder
            hits = await in_thread(self.lock, self.store.search, query)
        except EylaError as exc:
            self._status(f"error: {exc}")
        else:
            self._show(query, hits)

    def _status(self, text: str) -> None:
        self.query_one("#status", Label).update(text)

    def _show(self, query: str, hits: list[Hit]) -> None:
        self.hits = hits
        table = self.query_one(DataTable)
        table.clear()
        for hit in hits:
            row = (str(hit.id), f"{hit.score:.2f}", hit.provenance, hit.text)
            table.add_row(*row, key=str(hit.id))
        found = f"{len(hits)} memories" if hits else "nothing"
        self._status(f"{found} found for '{query}'")
        if hits:
            table.focus()

    def action_forget(self) -> None:
        table = self.query_one(DataTable)
        if not self.hits or table.cursor_row >= len(self.hits):
            return
        hit = self.hits[table.cursor_row]

        async def forget(sure: bool | None) -> None:
            if sure:
                await in_thread(self.lock, self.store.forget, hit.id)
                self.hits.remove(hit)
                table.remove_row(str(hit.id))
                self._status(f"forgot #{hit.id}")

        self.app.push_screen(ConfirmScreen(f"Forget memory #{hit.id}: '{hit.text}'?"), forget)

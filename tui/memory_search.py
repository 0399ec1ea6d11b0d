"""Search Eyla's memories and forget the ones picked; review the claims about Eyla.

Claims a user made about Eyla itself (provenance `about_eyla`) are never search results, as
those are quoted to the model as true; they are listed below the results, marked, so the
user can review them and forget them the same way.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar, TypeVar

from rich import markup as rich_markup
from textual import markup, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import DataTable, Input, Label

from eyla.errors import EylaError
from memory.records import QUARANTINED
from tui.dialogs import ConfirmScreen

if TYPE_CHECKING:
    from memory.records import Episode, Hit
    from memory.store import MemoryStore

T = TypeVar("T")

REVIEW_LIMIT = 50  # claims about Eyla listed at a time


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
        self.hits: list[Episode] = []  # the rows shown: search results, then claims

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Memory", classes="title")
            yield Input(self.query_text, placeholder="search memories")
            yield DataTable(cursor_type="row", zebra_stripes=True)
            yield Label("", id="status", classes="hint")
            yield Label(
                "enter search · tab to results · f forget · esc close · "
                "claims about Eyla are never quoted to the model",
                classes="hint",
            )

    def on_mount(self) -> None:
        self.query_one(DataTable).add_columns("id", "score", "from", "text")
        if self.query_text:
            self.search(self.query_text)
        else:
            self.review()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.value.strip():
            self.search(event.value.strip())

    @work(exclusive=True)
    async def search(self, query: str) -> None:
        self._status(f"searching for '{query}'...")
        try:
            # the first search also loads the embedder
            hits = await in_thread(self.lock, self.store.search, query)
            claims = await in_thread(self.lock, self._claims)
        except EylaError as exc:
            self._status(f"error: {exc}")
        else:
            self._show(hits, claims)
            found = f"{len(hits)} memories" if hits else "nothing"
            self._status(f"{found} found for '{query}'{_to_review(claims)}")

    @work(exclusive=True)
    async def review(self) -> None:
        """Before any search: the claims about Eyla, for the user to review."""
        try:
            claims = await in_thread(self.lock, self._claims)
        except EylaError as exc:
            self._status(f"error: {exc}")
        else:
            self._show([], claims)
            self._status(_to_review(claims).removeprefix(" · ") or "search your memories")

    def _claims(self) -> list[Episode]:
        return self.store.list(provenance=[QUARANTINED], limit=REVIEW_LIMIT)

    def _status(self, text: str) -> None:
        self.query_one("#status", Label).update(Content(text))  # Content: never markup

    def _show(self, hits: list[Hit], claims: list[Episode]) -> None:
        self.hits = [*hits, *claims]
        table = self.query_one(DataTable)
        table.clear()
        for hit in hits:
            table.add_row(*_cells(hit, f"{hit.score:.2f}", hit.provenance), key=str(hit.id))
        for claim in claims:
            table.add_row(*_cells(claim, "review", "claim about Eyla"), key=str(claim.id))
        if self.hits:
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

        question = f"Forget memory #{hit.id}: '{markup.escape(hit.text)}'?"
        self.app.push_screen(ConfirmScreen(question), forget)


def _cells(episode: Episode, score: str, source: str) -> tuple[str, str, str, str]:
    # a table cell's string is Rich markup: the memory's text must show as written
    return str(episode.id), score, source, rich_markup.escape(episode.text)


def _to_review(claims: list[Episode]) -> str:
    return f" · {len(claims)} claims about Eyla to review" if claims else ""

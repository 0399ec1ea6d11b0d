"""The help screen: every key and command, built from the live bindings and the table."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from eyla.slash import help_rows

MOVING = [
    ("enter", "send, or run a /command"),
    ("tab / shift+tab", "next / previous pane"),
    ("pageup / pagedown", "scroll the chat"),
    ("ctrl+p", "command palette: search the commands below"),
]


def two_columns(title: str, rows: list[tuple[str, str]]) -> Content:
    width = max(len(left) for left, _ in rows)
    lines = [Content.styled(title, "bold $accent")]
    lines += [Content.styled(f"{left:<{width}}  ", "bold") + Content(right) for left, right in rows]
    return Content("\n").join(lines)


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,f1,q", "dismiss(None)", "Close")]

    def __init__(self, keys: list[tuple[str, str]]) -> None:
        super().__init__(classes="dialog wide")
        self.keys = keys

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Help", classes="title")
            with VerticalScroll():
                yield Static(two_columns("Keys", [*self.keys, *MOVING]))
                yield Static(two_columns("Commands", help_rows()))
            yield Label("arrows / pageup / pagedown scroll · esc close", classes="hint")

    def on_mount(self) -> None:
        self.query_one(VerticalScroll).focus()

"""The session list: open, start, rename and delete sessions from the keyboard."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

from tui.dialogs import AskScreen, ConfirmScreen

if TYPE_CHECKING:
    from memory.records import SessionInfo
    from memory.store import MemoryStore


def session_title(info: SessionInfo) -> str:
    return info.title or "untitled"


class SessionsScreen(ModalScreen[int | None]):
    """Dismisses with the id of the session to open (a new one for `n`), or None.

    Renames and deletes happen here; the chat screen notices if its session was deleted.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n", "new", "New"),
        Binding("r", "rename", "Rename"),
        Binding("d,delete", "delete", "Delete"),
        Binding("escape", "dismiss(None)", "Close"),
    ]

    def __init__(self, store: MemoryStore, current: int) -> None:
        super().__init__(classes="dialog wide")
        self.store = store
        self.current = current
        self.sessions: dict[int, SessionInfo] = {}

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Sessions", classes="title")
            yield OptionList()
            yield Label("enter open · n new · r rename · d delete · esc close", classes="hint")

    def on_mount(self) -> None:
        self.refresh_list()

    def refresh_list(self) -> None:
        """Newest first; the highlight stays where it was, else on the open session."""
        options = self.query_one(OptionList)
        highlighted = options.highlighted
        sessions = sorted(self.store.list_sessions(), key=lambda s: s.updated_at, reverse=True)
        self.sessions = {info.id: info for info in sessions}
        options.clear_options()
        options.add_options(self._option(info) for info in sessions)
        ids = list(self.sessions)
        if highlighted is None and self.current in ids:
            highlighted = ids.index(self.current)
        if ids:
            options.highlighted = min(highlighted or 0, len(ids) - 1)
        options.focus()

    def _option(self, info: SessionInfo) -> Option:
        label = Content.from_markup(
            "$mark #$id [b]$title[/] [dim]· $n messages · $when[/]",
            mark="●" if info.id == self.current else " ",
            id=str(info.id),
            title=session_title(info),
            n=str(info.message_count),
            when=f"{info.updated_at.astimezone():%Y-%m-%d %H:%M}",
        )
        return Option(label, id=str(info.id))

    def selected(self) -> SessionInfo | None:
        options = self.query_one(OptionList)
        if options.highlighted is None:
            return None
        return self.sessions[int(options.get_option_at_index(options.highlighted).id or 0)]

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(int(event.option.id or 0))

    def action_new(self) -> None:
        self.dismiss(self.store.create_session().id)

    def action_rename(self) -> None:
        if (info := self.selected()) is None:
            return

        def rename(title: str | None) -> None:
            if title is not None:
                self.store.rename_session(info.id, title)
                self.refresh_list()

        self.app.push_screen(AskScreen(f"Rename session #{info.id} to:", info.title), rename)

    def action_delete(self) -> None:
        if (info := self.selected()) is None:
            return

        def delete(sure: bool | None) -> None:
            if sure:
                self.store.delete_session(info.id)
                self.refresh_list()

        question = (
            f"Delete session #{info.id} '{session_title(info)}' and its "
            f"{info.message_count} messages? Its memories are kept."
        )
        self.app.push_screen(ConfirmScreen(question), delete)

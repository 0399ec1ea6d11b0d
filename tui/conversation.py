"""The conversation: the user's messages, Eyla's replies (Markdown, streamed) and notes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.containers import VerticalScroll
from textual.widgets import Markdown, Static
from textual.widgets.markdown import MarkdownStream

if TYPE_CHECKING:
    from models.generate import Message


EMPTY = "A new conversation. Say hello; f1 shows the keys and commands."


class UserMessage(Static):
    BORDER_TITLE = "you"

    def __init__(self, text: str) -> None:
        # what the user typed is shown as typed, never read as markup
        super().__init__(text, markup=False)


class EylaMessage(Markdown):
    """Eyla's reply, rendered as Markdown; its own type so the stylesheet can find it."""


class Note(Static):
    """What the app, not Eyla, says: cancelled replies, notices, command results."""

    def __init__(self, text: str, error: bool = False, id: str | None = None) -> None:
        super().__init__(text, markup=False, classes="error" if error else None, id=id)


class ChatView(VerticalScroll):
    """Kept scrolled to the end while it grows, unless the user scrolls up (the anchor)."""

    def __init__(self, eyla_name: str) -> None:
        super().__init__(id="chat")
        self.eyla_name = eyla_name

    def on_mount(self) -> None:
        self.anchor()

    async def show(self, history: list[Message]) -> None:
        """Replace what is shown with a session's transcript."""
        await self.remove_children()
        await self.mount_all(
            UserMessage(m["content"]) if m["role"] == "user" else self._reply(m["content"])
            for m in history
        )
        if not history:
            await self.mount(Note(EMPTY, id="empty"))
        self.anchor()

    async def add_user(self, text: str) -> None:
        await self.query("#empty").remove()
        await self.mount(UserMessage(text))
        self.anchor()

    async def start_reply(self) -> MarkdownStream:
        """An empty reply, and the stream that fills it as Eyla speaks."""
        reply = self._reply("")
        reply.border_subtitle = "answering · esc cancels"
        await self.mount(reply)
        return Markdown.get_stream(reply)

    def end_reply(self) -> None:
        self.query(EylaMessage).last().border_subtitle = ""

    async def note(self, text: str, error: bool = False) -> None:
        await self.mount(Note(text, error))

    def _reply(self, text: str) -> EylaMessage:
        reply = EylaMessage(text)
        reply.border_title = self.eyla_name
        return reply

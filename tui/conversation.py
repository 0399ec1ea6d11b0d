"""The conversation: the user's messages, Eyla's replies (Markdown, streamed) and notes."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from textual.containers import VerticalScroll
from textual.widgets import Markdown, Static

if TYPE_CHECKING:
    from textual.widgets.markdown import MarkdownStream

    from models.generate import Message


EMPTY = "A new conversation. Say hello; f1 shows the keys and commands."


class UserMessage(Static):
    BORDER_TITLE = "you"

    def __init__(self, text: str) -> None:
        # what the user typed is shown as typed, never read as markup
        super().__init__(text, markup=False)


class EylaMessage(Markdown):
    """Eyla's reply, rendered as Markdown; its own type so the stylesheet can find it."""


class ReplyView:
    """What the screen shows of the reply being written: the sentences the guard has
    released, then the words after them that it has not read yet. Text that only grows is
    streamed; when the guard drops what was shown unchecked, the reply is redrawn without
    it."""

    _stream: MarkdownStream

    def __init__(self, message: EylaMessage) -> None:
        self.message = message
        self.checked = ""
        self.unchecked = ""
        self._shown = ""

    @classmethod
    async def start(cls, message: EylaMessage) -> ReplyView:
        view = cls(message)
        await view._open_stream()
        return view

    async def release(self, sentence: str) -> None:
        """`sentence` passed the guard. What was shown unchecked began with it, or was the
        start of it (the words that ended it had not been drafted yet)."""
        self.checked += sentence
        covered = self.unchecked.startswith(sentence)
        self.unchecked = self.unchecked[len(sentence) :] if covered else ""
        await self._show()

    async def draft(self, text: str) -> None:
        """`text` follows the released sentences, not yet read by the guard."""
        self.unchecked = text
        await self._show()

    async def stop(self) -> None:
        """The reply is over: what stays on screen is what the guard released."""
        self.unchecked = ""
        await self._show()
        await self._stream.stop()

    async def _show(self) -> None:
        target = self.checked + self.unchecked
        if target.startswith(self._shown):
            await self._stream.write(target[len(self._shown) :])
        else:
            await self._redraw(target)
        self._shown = target

    async def _redraw(self, text: str) -> None:
        await self._stream.stop()
        await self.message.update(text)
        await self._open_stream()

    async def _open_stream(self) -> None:
        self._stream = Markdown.get_stream(self.message)
        # a stream stopped before its task first ran raises CancelledError from `stop()`:
        # let the task start now
        await asyncio.sleep(0)


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

    async def start_reply(self) -> ReplyView:
        """An empty reply, and the view that fills it as Eyla speaks."""
        reply = self._reply("")
        reply.border_subtitle = "answering · esc cancels"
        await self.mount(reply)
        return await ReplyView.start(reply)

    def end_reply(self) -> None:
        self.query(EylaMessage).last().border_subtitle = ""

    async def note(self, text: str, error: bool = False) -> None:
        await self.mount(Note(text, error))

    def _reply(self, text: str) -> EylaMessage:
        reply = EylaMessage(text)
        reply.border_title = self.eyla_name
        return reply

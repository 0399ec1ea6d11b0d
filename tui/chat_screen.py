"""The chat screen: the conversation, the input line and the side panel.

A reply runs `Agent.turn()` in a thread; the words it generates arrive here as messages
and are shown at once, and each sentence stays once the identity guard has released it
(one the guard drops is taken back: `ReplyView`). Afterwards the side panel shows the
reply's confidence and memories, and a second thread measures each subsystem's
contribution to what the model wrote, after the prompt it was given (both from the turn's
record). One lock keeps the two threads from using the model at once; the next reply (or
quitting) stops a measurement still running rather than wait for it. Another lock keeps
memory commands from using the store while a reply does.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.message import Message
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Footer, Header, Input

from tui.conversation import ChatView, ReplyView
from tui.interrupt import Interrupted, stoppable
from tui.panel import ConfidenceGauge, ContributionBars, MemoryList, SidePanel
from tui.sessions import session_title
from tui.slash import SWITCHING, SlashCommands

if TYPE_CHECKING:
    from eyla.agent import Agent, TurnResult
    from memory.records import SessionInfo
    from models.eyla_model import EylaModel
    from models.generate import Message as ChatMessage

    Contributions = Callable[[EylaModel, list[ChatMessage], str], dict[str, float]]

IDLE = "Message Eyla · /help lists commands"
BUSY = "Eyla is answering · esc cancels"
TALL = 40  # rows from which the identity card opens in full
WIDE = 120  # columns from which the side panel widens


class ReplyPiece(Message):
    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


class ReplyDraft(Message):
    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


class ReplyDone(Message):
    def __init__(self, result: TurnResult | None, error: str | None = None) -> None:
        super().__init__()
        self.result = result
        self.error = error


class ChatScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel reply"),
        Binding("ctrl+n", "command('/new')", "New"),
        Binding("f2", "command('/sessions')", "Sessions"),
        Binding("f3", "command('/recall')", "Memory"),
        Binding("f1", "command('/help')", "Help"),
        Binding("pageup", "scroll_chat(-1)", "Scroll up", show=False),
        Binding("pagedown", "scroll_chat(1)", "Scroll down", show=False),
    ]

    answering: reactive[bool] = reactive(False, bindings=True)

    def __init__(self, agent: Agent, contributions: Contributions) -> None:
        super().__init__()
        self.agent = agent
        self.contributions = contributions
        self.cancel = threading.Event()
        self._model = threading.Lock()
        self.store_lock = threading.Lock()
        self._stop_measuring = threading.Event()
        self._reply: ReplyView | None = None
        # bumped by every reply and session switch: a late measurement of an older reply
        # must not land in the panel
        self._epoch = 0
        self.commands = SlashCommands(self)

    def compose(self) -> ComposeResult:
        identity = self.agent.identity
        yield Header()
        with Horizontal(id="body"):
            yield ChatView(identity.name)
            yield SidePanel(
                identity,
                self.agent.settings.agent.confidence_threshold,
                collapsed=self.app.size.height < TALL,
            )
        yield Input(placeholder=IDLE, id="prompt")
        yield Footer()

    async def on_mount(self) -> None:
        self.title = self.agent.identity.name
        await self.show_session()
        self.query_one(Input).focus()

    def on_resize(self) -> None:
        self.set_class(self.size.width >= WIDE, "-wide")

    def on_unmount(self) -> None:
        # so the app's exit, which joins these threads, does not wait for them
        self.cancel.set()  # a reply stops at its next token
        self._stop_measuring.set()  # a measurement at its next decoder layer

    # -- the reply ------------------------------------------------------------------

    async def on_input_submitted(self, event: Input.Submitted) -> None:
        text = event.value
        event.input.clear()
        if text.strip().startswith("/"):
            await self.run_command(text)
        elif text.strip() and not self.answering:
            await self.send(text)

    async def send(self, text: str) -> None:
        chat = self.query_one(ChatView)
        await chat.add_user(text)
        self._reply = await chat.start_reply()
        self.query_one(SidePanel).clear("answering...")
        self.cancel = threading.Event()
        self._stop_measuring.set()  # the last reply's measurement gives way to this reply
        self._epoch += 1
        self.answering = True
        self._answer(text, self.cancel)

    @work(thread=True)
    def _answer(self, text: str, cancel: threading.Event) -> None:
        try:
            with self._model, self.store_lock:
                result = self.agent.turn(
                    text,
                    on_text=lambda piece: self.post_message(ReplyPiece(piece)),
                    on_draft=lambda tail: self.post_message(ReplyDraft(tail)),
                    cancel=cancel,
                )
        except Exception as exc:  # a failed reply ends that reply, not the chat
            self.post_message(ReplyDone(None, f"{type(exc).__name__}: {exc}"))
        else:
            self.post_message(ReplyDone(result))

    async def on_reply_piece(self, message: ReplyPiece) -> None:
        if self._reply is not None:
            await self._reply.release(message.text)

    async def on_reply_draft(self, message: ReplyDraft) -> None:
        if self._reply is not None:
            await self._reply.draft(message.text)

    async def on_reply_done(self, message: ReplyDone) -> None:
        if self._reply is not None:
            await self._reply.stop()
            self._reply = None
        chat = self.query_one(ChatView)
        chat.end_reply()
        self.answering = False
        result = message.result
        if message.error:
            await chat.note(f"error: {message.error}", error=True)
        if result is None:
            return
        if result.cancelled:
            await chat.note("reply cancelled")
        if result.notice:
            await chat.note(result.notice)
        self._name_untitled_session()
        self._show_result(result)

    def _show_result(self, result: TurnResult) -> None:
        self.query_one(ConfidenceGauge).confidence = result.confidence
        self.query_one(MemoryList).hits = result.memories
        bars = self.query_one(ContributionBars)
        bars.values = None
        if not result.generated.strip():
            bars.status = "no reply to measure"
            return
        bars.status = "measuring..."
        # what the model saw and wrote, not the reply as shown: that may carry the gate's
        # hedge or lack a sentence the guard dropped, and a retry's prompt has its note
        self._stop_measuring = threading.Event()
        self._measure(self._epoch, result.prompt, result.generated, self._stop_measuring)

    @work(group="measure")
    async def _measure(
        self, epoch: int, messages: list[ChatMessage], reply: str, stop: threading.Event
    ) -> None:
        values: dict[str, float] | None = None
        try:
            values = await asyncio.to_thread(self._contributions, messages, reply, stop)
            status = "no neural subsystems" if not values else ""
        except Interrupted:
            return  # a newer reply took the model; its own measurement follows
        except Exception as exc:  # the bars are optional; the chat goes on without them
            status = f"unavailable: {exc}"
        if epoch == self._epoch:
            bars = self.query_one(ContributionBars)
            bars.values, bars.status = values, status

    def _contributions(
        self, messages: list[ChatMessage], reply: str, stop: threading.Event
    ) -> dict[str, float]:
        with self._model, stoppable(self.agent.model, stop):
            return self.contributions(self.agent.model, messages, reply)

    def action_cancel(self) -> None:
        self.cancel.set()

    def watch_answering(self, answering: bool) -> None:
        prompt = self.query_one(Input)
        prompt.disabled = answering
        prompt.placeholder = BUSY if answering else IDLE
        if not answering:
            prompt.focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cancel":
            return self.answering
        if action == "command" and self.answering and str(parameters[0])[1:] in SWITCHING:
            return None  # shown, greyed out
        return True

    def action_scroll_chat(self, pages: int) -> None:
        chat = self.query_one(ChatView)
        if pages < 0:
            chat.scroll_page_up()
        else:
            chat.scroll_page_down()

    # -- sessions -------------------------------------------------------------------

    async def show_session(self) -> None:
        """Show the agent's current session as stored, and an empty side panel."""
        self._stop_measuring.set()  # nobody will see the last session's bars
        self._epoch += 1
        self.show_title()
        await self.query_one(ChatView).show(self.agent.history())
        self.query_one(SidePanel).clear()

    async def open_session(self, session_id: int | None = None, title: str = "") -> None:
        """Resume `session_id`, or start a new session."""
        if session_id is None:
            self.agent.new_session(title)
        else:
            self.agent.resume(session_id)
        await self.show_session()

    def show_title(self) -> None:
        info = self.session_info()
        self.sub_title = f"#{info.id} {session_title(info)}" if info else ""

    def session_info(self) -> SessionInfo | None:
        sessions = self.agent.store.list_sessions()
        return next((s for s in sessions if s.id == self.agent.session_id), None)

    def _name_untitled_session(self) -> None:
        """Name a session after its first message, so the session list says something."""
        info = self.session_info()
        history = self.agent.history()
        if info and not info.title and history:
            first = " ".join(history[0]["content"].split())
            title = first if len(first) <= 40 else first[:39] + "…"
            self.agent.store.rename_session(info.id, title)
            self.show_title()

    # -- commands -------------------------------------------------------------------

    async def action_command(self, line: str) -> None:
        await self.run_command(line)

    async def run_command(self, line: str) -> None:
        """Run a slash command line; the palette and the keys come here too."""
        await self.commands.run(line)

"""`EylaApp`, and `run_chat`, which `eyla chat` calls."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from functools import partial
from typing import TYPE_CHECKING, ClassVar

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.screen import Screen

from eyla.slash import available
from tui.chat_screen import ChatScreen
from tui.jobs import JobScreen
from tui.loading import LoadingScreen

if TYPE_CHECKING:
    from eyla.agent import Agent
    from models.eyla_model import EylaModel
    from models.generate import Message as ChatMessage
    from tui.chat_screen import Contributions


def traced_contributions(
    model: EylaModel, messages: list[ChatMessage], reply: str
) -> dict[str, float]:
    """The tracer's per-reply measurement, imported when first needed (it loads torch)."""
    from models.tracer import reply_contributions

    return reply_contributions(model, messages, reply)


class Loaded(Message):
    def __init__(self, agent: Agent | None, error: Exception | None = None) -> None:
        super().__init__()
        self.agent = agent
        self.error = error


class Logged(Message):
    def __init__(self, text: str, level: int) -> None:
        super().__init__()
        self.text = text
        self.level = level


class EylaApp(App[None]):
    """Starts at once on a loading screen while `agent_factory` runs in a thread."""

    CSS_PATH = "eyla.tcss"
    TITLE = "Eyla"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("ctrl+q", "quit", "Quit", priority=True)]

    def __init__(
        self,
        agent_factory: Callable[[], Agent],
        contributions: Contributions = traced_contributions,
    ) -> None:
        super().__init__()
        self.agent_factory = agent_factory
        self.contributions = contributions
        self.agent: Agent | None = None
        self.failure: Exception | None = None

    async def on_mount(self) -> None:
        # mounted first, so the screen catches what loading prints from the start
        await self.push_screen(LoadingScreen())
        self._load()

    @work(thread=True)
    def _load(self) -> None:
        try:
            # set here, not in the handler: the caller closes it even if the app quit first
            self.agent = self.agent_factory()
        except Exception as exc:  # shown to the user by the caller, after the app exits
            self.post_message(Loaded(None, exc))
        else:
            self.post_message(Loaded(self.agent))

    def on_loaded(self, message: Loaded) -> None:
        if message.agent is None:
            self.failure = message.error
            self.exit(return_code=1)
        else:
            self.switch_screen(ChatScreen(message.agent, self.contributions))

    def on_logged(self, message: Logged) -> None:
        if isinstance(self.screen, LoadingScreen):
            self.screen.said(message.text)
        elif message.level >= logging.WARNING:
            self.notify(message.text, severity="warning", markup=False)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        if not isinstance(screen, ChatScreen):
            return
        for command in available():
            if command.title:
                run = partial(screen.run_command, f"/{command.name}")
                yield SystemCommand(command.title, command.help, run)
        if self.is_screen_installed("job"):
            job = self.get_screen("job")
            if isinstance(job, JobScreen):
                show = partial(self.push_screen, "job")
                yield SystemCommand("Show job", f"the output of '{job.job_title}'", show)


class _ToApp(logging.Handler):
    """Log records become app messages: a write to the terminal would tear the screen."""

    def __init__(self, app: App) -> None:
        super().__init__()
        self.app = app

    def emit(self, record: logging.LogRecord) -> None:
        self.app.post_message(Logged(self.format(record), record.levelno))


@contextmanager
def _logging_to(app: App) -> Iterator[None]:
    root = logging.getLogger()
    saved = root.handlers[:]
    root.handlers = [_ToApp(app)]
    try:
        yield
    finally:
        root.handlers = saved


def run_chat(agent_factory: Callable[[], Agent]) -> None:
    """Run the chat app; `agent_factory` builds the agent (the slow part) in a thread while
    the app shows its progress. Its error, if it fails, is raised here after the app exits."""
    app = EylaApp(agent_factory)
    try:
        with _logging_to(app):
            app.run()
    finally:
        if app.agent is not None:
            app.agent.close()
    if app.failure is not None:
        raise app.failure

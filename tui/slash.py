"""What each slash command of `eyla.slash.COMMANDS` does in the TUI; the input line, the
palette and the keys all run these."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.binding import Binding

from eyla.errors import EylaError
from eyla.slash import BY_NAME, SWITCHING, deletion, optional_id, parse, required_id
from tui.conversation import ChatView
from tui.dialogs import AskScreen, ConfirmScreen
from tui.help import HelpScreen
from tui.jobs import JobScreen
from tui.memory_search import MemoryScreen, in_thread
from tui.sessions import SessionsScreen

if TYPE_CHECKING:
    from textual.app import App

    from tui.chat_screen import ChatScreen


class SlashCommands:
    """One method per command, each taking the typed argument."""

    def __init__(self, screen: ChatScreen) -> None:
        self.screen = screen
        self.agent = screen.agent

    @property
    def app(self) -> App:
        return self.screen.app

    async def run(self, line: str) -> None:
        command, name, arg = parse(line)
        if command is None:
            await self._note(f"unknown command /{name}; /help lists them", error=True)
            return
        if self.screen.answering and name in SWITCHING:
            self.app.notify("wait for the reply, or press esc to cancel it", severity="warning")
            return
        try:
            await getattr(self, name)(arg)
        except EylaError as exc:
            await self._note(f"error: {exc}", error=True)

    async def _note(self, text: str, error: bool = False) -> None:
        await self.screen.query_one(ChatView).note(text, error)

    async def help(self, _: str) -> None:
        bindings = [*self.screen.BINDINGS, *self.app.BINDINGS]
        keys = [
            (self.app.get_key_display(b), b.description)
            for b in bindings
            if isinstance(b, Binding) and b.show
        ]
        self.app.push_screen(HelpScreen(keys))

    async def new(self, title: str) -> None:
        await self.screen.open_session(None, title)

    async def sessions(self, _: str) -> None:
        async def chosen(session_id: int | None) -> None:
            if session_id is not None:
                await self.screen.open_session(session_id)
            elif self.screen.session_info() is None:  # the open session was deleted
                await self.screen.open_session()
            else:
                self.screen.show_title()  # it may have been renamed

        self.app.push_screen(SessionsScreen(self.agent.store, self.agent.session_id), chosen)

    async def resume(self, arg: str) -> None:
        await self.screen.open_session(required_id("resume", arg))

    async def rename(self, title: str) -> None:
        def rename(title: str | None) -> None:
            if title is not None:
                self.agent.store.rename_session(self.agent.session_id, title)
                self.screen.show_title()

        if title:
            rename(title)
        else:
            info = self.screen.session_info()
            ask = AskScreen(BY_NAME["rename"].ask, info.title if info else "")
            self.app.push_screen(ask, rename)

    async def delete(self, arg: str) -> None:
        session_id, question = deletion(self.agent, arg)

        async def delete(sure: bool | None) -> None:
            if sure:
                self.agent.store.delete_session(session_id)
                if session_id == self.agent.session_id:
                    await self.screen.open_session()
                await self._note(f"deleted session {session_id}")

        self.app.push_screen(ConfirmScreen(question), delete)

    async def remember(self, text: str) -> None:
        def remember(text: str | None) -> None:
            if text:
                self.screen.run_worker(self._remember(text), group="remember")

        if text:
            remember(text)
        else:
            self.app.push_screen(AskScreen(BY_NAME["remember"].ask), remember)

    async def _remember(self, text: str) -> None:
        store, session = self.agent.store, self.agent.session_id
        # the first memory also loads the embedder
        lock = self.screen.store_lock
        episode = await in_thread(lock, store.add, text, "user_said", session_id=session)
        await self._note(f"remembered as #{episode.id}" if episode else "already remembered")

    async def recall(self, query: str) -> None:
        self.app.push_screen(MemoryScreen(self.agent.store, self.screen.store_lock, query))

    async def forget(self, arg: str) -> None:
        episode_id = optional_id("forget", arg)
        if episode_id is None:  # the search screen picks them
            await self.recall("")
            return
        await in_thread(self.screen.store_lock, self.agent.store.forget, episode_id)
        await self._note(f"forgot #{episode_id}")

    async def identity(self, _: str) -> None:
        await self._note(self.agent.identity.anchor())

    async def report(self, _: str) -> None:
        self._start_job("Contribution report", BY_NAME["report"].command_line(""))

    async def probe(self, target: str) -> None:
        command = BY_NAME["probe"]

        def probe(target: str | None) -> None:
            if target:
                self._start_job(f"ICS probe: {target}", command.command_line(target))

        if target:
            probe(target)
        else:
            self.app.push_screen(AskScreen(command.ask, command.suggest), probe)

    async def quit(self, _: str) -> None:
        self.app.exit()

    def _start_job(self, title: str, args: list[str]) -> None:
        """One background job at a time; its screen stays installed to be reopened."""
        if self.app.is_screen_installed("job"):
            job = self.app.get_screen("job")
            if isinstance(job, JobScreen) and job.running:
                self.app.notify("a job is already running; here it is", severity="warning")
                self.app.push_screen("job")
                return
            self.app.uninstall_screen("job")
            job.remove()
        self.app.install_screen(JobScreen(title, args), "job")
        self.app.push_screen("job")

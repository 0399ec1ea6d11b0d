"""`eyla chat --plain`: a line-mode chat for terminals without a TUI."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from collections.abc import Callable

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from eyla.agent import Agent
from eyla.errors import EylaError
from eyla.slash import BY_NAME, EYLA_CLI, deletion, help_rows, optional_id, parse, required_id

KEYS = "Ctrl-D leaves too; Ctrl-C cancels a reply or a running report or probe."


class PlainChat:
    def __init__(self, agent: Agent, console: Console | None = None) -> None:
        self.agent = agent
        self.console = console or Console()
        self.commands = PlainCommands(self)
        self.lines: Callable[[str], str] = input
        self.done = False

    def run(self, lines: Callable[[str], str] = input) -> None:
        self.lines = lines
        self.done = False
        self.console.print(
            f"[bold]{self.agent.identity.name}[/] · session {self.agent.session_id} · "
            "/help for commands"
        )
        while not self.done:
            try:
                line = lines("you> ")
            except (EOFError, KeyboardInterrupt):
                self.console.print()
                return
            try:
                self.handle(line)
            except EylaError as exc:
                self.console.print(f"[red]error:[/] {escape(str(exc))}", highlight=False)

    def handle(self, line: str) -> None:
        if line.strip().startswith("/"):
            self.commands.run(line)
        else:
            self._reply(line)

    def ask(self, question: str, suggest: str = "") -> str:
        """Ask on the input line, `suggest` taken when the answer is empty; Ctrl-D or
        Ctrl-C answer nothing."""
        offer = f" [{suggest}]" if suggest else ""
        try:
            answer = self.lines(f"{question}{offer} ").strip()
        except (EOFError, KeyboardInterrupt):
            self.console.print()
            return ""
        return answer or suggest

    def confirm(self, question: str) -> bool:
        return self.ask(f"{question} [y/N]").lower() in ("y", "yes")

    def _reply(self, text: str) -> None:
        cancel = threading.Event()
        previous = signal.signal(signal.SIGINT, lambda *_: cancel.set())
        try:
            sys.stdout.write(f"{self.agent.identity.name.lower()}> ")
            result = self.agent.turn(text, on_text=self._write, cancel=cancel)
        finally:
            signal.signal(signal.SIGINT, previous)
        sys.stdout.write("\n")
        if result is None:
            return
        if result.notice:
            self.console.print(f"[yellow]notice:[/] {result.notice}", highlight=False)
        if result.cancelled:
            self.console.print("[yellow](reply cancelled)[/]")

    @staticmethod
    def _write(piece: str) -> None:
        sys.stdout.write(piece)
        sys.stdout.flush()


class PlainCommands:
    """One method per command of `eyla.slash.COMMANDS`, each taking the typed argument."""

    def __init__(self, chat: PlainChat) -> None:
        self.chat = chat
        self.agent = chat.agent
        self.console = chat.console

    def run(self, line: str) -> None:
        command, name, arg = parse(line)
        if command is None:
            raise EylaError(f"unknown command /{name}; /help lists them")
        getattr(self, name)(arg)

    def help(self, _: str) -> None:
        rows = help_rows()
        width = max(len(usage) for usage, _ in rows)
        for usage, text in rows:
            self.console.print(f"{usage:<{width}}  {text}", highlight=False, markup=False)
        self.console.print(KEYS, highlight=False)

    def new(self, title: str) -> None:
        self.console.print(f"new session {self.agent.new_session(title)}")

    def sessions(self, _: str) -> None:
        table = Table("id", "title", "messages", "updated")
        for info in self.agent.store.list_sessions():
            mark = " *" if info.id == self.agent.session_id else ""
            table.add_row(
                f"{info.id}{mark}", info.title, str(info.message_count), f"{info.updated_at:%c}"
            )
        self.console.print(table)

    def resume(self, arg: str) -> None:
        info = self.agent.resume(required_id("resume", arg))
        self.console.print(f"resumed session {info.id} ({info.message_count} messages)")
        for message in self.agent.history()[-6:]:
            self.console.print(f"[dim]{message['role']}> {message['content']}[/]")

    def rename(self, title: str) -> None:
        if not title:
            current = self._current_title()
            title = self.chat.ask(BY_NAME["rename"].ask, current)
            if not title or title == current:
                return
        self.agent.store.rename_session(self.agent.session_id, title)
        self.console.print(f"session {self.agent.session_id} is now {title!r}")

    def delete(self, arg: str) -> None:
        session_id, question = deletion(self.agent, arg)
        if not self.chat.confirm(question):
            self.console.print("kept")
            return
        self.agent.store.delete_session(session_id)
        self.console.print(f"deleted session {session_id}")
        if session_id == self.agent.session_id:
            self.console.print(f"new session {self.agent.new_session()}")

    def remember(self, text: str) -> None:
        text = text or self.chat.ask(BY_NAME["remember"].ask)
        if not text:
            return
        episode = self.agent.store.add(text, "user_said", session_id=self.agent.session_id)
        self.console.print(f"remembered as #{episode.id}" if episode else "already remembered")

    def recall(self, query: str) -> None:
        query = query or self.chat.ask(BY_NAME["recall"].ask)
        if not query:
            return
        table = Table("id", "score", "from", "text")
        for hit in self.agent.store.search(query):
            table.add_row(str(hit.id), f"{hit.score:.2f}", hit.provenance, hit.text)
        self.console.print(table)

    def forget(self, arg: str) -> None:
        episode_id = optional_id("forget", arg)
        if episode_id is None:  # search, then pick from what was found
            self.recall("")
            picked = self.chat.ask("Forget which memory (id)?")
            if not picked:
                return
            episode_id = required_id("forget", picked)
        self.agent.store.forget(episode_id)
        self.console.print(f"forgot #{episode_id}")

    def identity(self, _: str) -> None:
        self.console.print(self.agent.identity.anchor())

    def report(self, _: str) -> None:
        self._run_eyla("report", "")

    def probe(self, target: str) -> None:
        command = BY_NAME["probe"]
        target = target or self.chat.ask(command.ask, command.suggest)
        if target:
            self._run_eyla("probe", target)

    def quit(self, _: str) -> None:
        self.chat.done = True

    def _current_title(self) -> str:
        sessions = self.agent.store.list_sessions()
        return next((s.title for s in sessions if s.id == self.agent.session_id), "")

    def _run_eyla(self, name: str, arg: str) -> None:
        """Run the command in the foreground, its output (and progress) on the terminal,
        as the TUI runs it in the background."""
        args = BY_NAME[name].command_line(arg)
        self.console.print(f"running eyla {' '.join(args)} (Ctrl-C stops it)", highlight=False)
        try:
            code = subprocess.run([sys.executable, "-c", EYLA_CLI, *args], check=False).returncode
        except KeyboardInterrupt:  # the child had the same Ctrl-C and is stopped
            self.console.print("[yellow](stopped)[/]")
            return
        outcome = "finished" if code == 0 else f"failed (exit {code})"
        self.console.print(f"eyla {name}: {outcome}", highlight=False)

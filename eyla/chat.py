"""`eyla chat --plain`: a line-mode chat for terminals without a TUI."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from eyla.agent import Agent
from eyla.errors import EylaError

HELP = """\
/help              this list
/new [title]       start a new session
/sessions          list sessions
/resume ID         continue session ID
/rename TITLE      rename this session
/delete ID         delete session ID and its transcript
/remember TEXT     store TEXT as a memory
/recall QUERY      search memories
/forget ID         forget memory ID
/identity          show who Eyla is
/quit              leave (Ctrl-D works too; Ctrl-C cancels a reply)"""


class PlainChat:
    def __init__(self, agent: Agent, console: Console | None = None) -> None:
        self.agent = agent
        self.console = console or Console()
        self.commands: dict[str, Callable[[str], None]] = {
            "help": lambda _: self.console.print(HELP, highlight=False),
            "new": self._new,
            "sessions": self._sessions,
            "resume": self._resume,
            "rename": self._rename,
            "delete": self._delete,
            "remember": self._remember,
            "recall": self._recall,
            "forget": self._forget,
            "identity": lambda _: self.console.print(self.agent.identity.anchor()),
        }

    def run(self, lines: Callable[[str], str] = input) -> None:
        self.console.print(
            f"[bold]{self.agent.identity.name}[/] · session {self.agent.session_id} · "
            "/help for commands"
        )
        while True:
            try:
                line = lines("you> ")
            except (EOFError, KeyboardInterrupt):
                self.console.print()
                return
            if line.strip() in ("/quit", "/exit"):
                return
            try:
                self.handle(line)
            except EylaError as exc:
                self.console.print(f"[red]error:[/] {escape(str(exc))}", highlight=False)

    def handle(self, line: str) -> None:
        if line.startswith("/"):
            name, _, arg = line[1:].partition(" ")
            command = self.commands.get(name)
            if command is None:
                raise EylaError(f"unknown command /{name}; /help lists them")
            command(arg.strip())
        else:
            self._reply(line)

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

    def _new(self, title: str) -> None:
        self.console.print(f"new session {self.agent.new_session(title)}")

    def _sessions(self, _: str) -> None:
        table = Table("id", "title", "messages", "updated")
        for info in self.agent.store.list_sessions():
            mark = " *" if info.id == self.agent.session_id else ""
            table.add_row(
                f"{info.id}{mark}", info.title, str(info.message_count), f"{info.updated_at:%c}"
            )
        self.console.print(table)

    def _resume(self, arg: str) -> None:
        if not arg.isdigit():
            raise EylaError("usage: /resume ID")
        info = self.agent.resume(int(arg))
        self.console.print(f"resumed session {info.id} ({info.message_count} messages)")
        for message in self.agent.history()[-6:]:
            self.console.print(f"[dim]{message['role']}> {message['content']}[/]")

    def _rename(self, title: str) -> None:
        if not title:
            raise EylaError("usage: /rename TITLE")
        self.agent.store.rename_session(self.agent.session_id, title)
        self.console.print(f"session {self.agent.session_id} is now {title!r}")

    def _delete(self, arg: str) -> None:
        if not arg.isdigit():
            raise EylaError("usage: /delete ID")
        if int(arg) == self.agent.session_id:
            raise EylaError("that is the current session: /new or /resume another first")
        self.agent.store.delete_session(int(arg))
        self.console.print(f"deleted session {arg}")

    def _remember(self, text: str) -> None:
        if not text:
            raise EylaError("usage: /remember TEXT")
        episode = self.agent.store.add(text, "user_said", session_id=self.agent.session_id)
        self.console.print(f"remembered as #{episode.id}" if episode else "already remembered")

    def _recall(self, query: str) -> None:
        if not query:
            raise EylaError("usage: /recall QUERY")
        table = Table("id", "score", "from", "text")
        for hit in self.agent.store.search(query):
            table.add_row(str(hit.id), f"{hit.score:.2f}", hit.provenance, hit.text)
        self.console.print(table)

    def _forget(self, arg: str) -> None:
        if not arg.isdigit():
            raise EylaError("usage: /forget ID")
        self.agent.store.forget(int(arg))
        self.console.print(f"forgot #{arg}")

"""The slash commands, one table for the input line, the command palette and the help.

They mirror `eyla chat --plain`; `report` and `probe` appear only once the modules that
run them are installed.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib.util import find_spec


@dataclass(frozen=True)
class Command:
    name: str
    args: str
    help: str
    title: str  # in the command palette; "" keeps it out
    needs: str = ""  # the module it runs, when it is not always there

    @property
    def usage(self) -> str:
        return f"/{self.name} {self.args}".rstrip()


COMMANDS = (
    Command("help", "", "keys and commands", "Help"),
    Command("new", "[TITLE]", "start a new session", "New session"),
    Command("sessions", "", "list, switch, rename and delete sessions", "Sessions"),
    Command("resume", "ID", "continue session ID", ""),
    Command("rename", "[TITLE]", "rename this session", "Rename session"),
    Command("delete", "", "delete this session (asks first)", "Delete session"),
    Command("remember", "[TEXT]", "store TEXT as a memory", "Remember"),
    Command("recall", "[QUERY]", "search memories, forget the ones picked", "Search memory"),
    Command("forget", "[ID]", "forget memory ID, or search and pick", "Forget a memory"),
    Command("identity", "", "show who Eyla is", "Identity"),
    Command("report", "", "run the contribution report", "Run contribution report", "eyla.report"),
    Command(
        "probe", "[TARGET]", "run the ICS probes against TARGET", "Run ICS probe", "eyla.probes"
    ),
    Command("quit", "", "leave", ""),
)


@cache
def _installed(module: str) -> bool:
    return find_spec(module) is not None


def available() -> list[Command]:
    return [c for c in COMMANDS if not c.needs or _installed(c.needs)]


def parse(line: str) -> tuple[Command | None, str, str]:
    """`/name arg...` as (the command or None if unknown, the name, the argument)."""
    name, _, arg = line.strip().removeprefix("/").partition(" ")
    found = next((c for c in available() if c.name == name), None)
    return found, name, arg.strip()

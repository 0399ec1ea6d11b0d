"""The slash commands of both chats, `eyla chat --plain` and the TUI: one table of names,
arguments and help, and the rules both apply to what is typed.

Each front end has one handler per command, a method named after it (tested), and renders
the outcome its own way: the plain chat asks on the input line and prints, the TUI opens
dialogs and screens.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib.util import find_spec
from typing import TYPE_CHECKING

from eyla.errors import EylaError

if TYPE_CHECKING:
    from eyla.agent import Agent

# how either chat runs a long `eyla` command in a process of its own: it loads its own
# model, so the chat's is never shared with it
EYLA_CLI = "import sys; sys.argv[0] = 'eyla'; from eyla.cli import main; main()"
PROBE_TARGETS = "eyla, base, base-raw, hf:PATH, gguf:PATH, openai:URL"


@dataclass(frozen=True)
class Command:
    name: str
    args: str  # as help shows them; [ARG] is optional
    help: str
    title: str  # in the TUI's command palette; "" keeps it out
    ask: str = ""  # asked for the optional argument when it is left out
    suggest: str = ""  # the answer offered to `ask`
    switches: bool = False  # changes the open session, so it waits for a reply to finish
    runs: tuple[str, ...] = ()  # the `eyla` command line it runs; the argument goes last
    needs: str = ""  # the module it runs, when that is not always installed

    @property
    def usage(self) -> str:
        return f"/{self.name} {self.args}".rstrip()

    def command_line(self, arg: str) -> list[str]:
        return [*self.runs, arg] if arg else list(self.runs)


COMMANDS = (
    Command("help", "", "keys and commands", "Help"),
    Command("new", "[TITLE]", "start a new session", "New session", switches=True),
    Command("sessions", "", "list sessions to resume, rename or delete", "Sessions", switches=True),
    Command("resume", "ID", "continue session ID", "", switches=True),
    Command(
        "rename", "[TITLE]", "rename this session", "Rename session", "Rename this session to:"
    ),
    Command(
        "delete",
        "[ID]",
        "delete session ID, else this one, and its messages (asks first)",
        "Delete session",
        switches=True,
    ),
    Command("remember", "[TEXT]", "store TEXT as a memory", "Remember", "Remember:"),
    Command("recall", "[QUERY]", "search memories", "Search memory", "Search memories for:"),
    Command("forget", "[ID]", "forget memory ID, or search and pick", "Forget a memory"),
    Command("identity", "", "show who Eyla is", "Identity"),
    Command(
        "report",
        "",
        "run the contribution report",
        "Run contribution report",
        runs=("report",),
        needs="eyla.report",
    ),
    Command(
        "probe",
        "[TARGET]",
        "run the ICS probes against TARGET",
        "Run ICS probe",
        f"Probe which target? {PROBE_TARGETS}",
        suggest="eyla",
        runs=("probe", "--target"),
        needs="eyla.probes",
    ),
    Command("quit", "", "leave", ""),
)
BY_NAME = {c.name: c for c in COMMANDS}
SWITCHING = frozenset(c.name for c in COMMANDS if c.switches)


@cache
def _installed(module: str) -> bool:
    return find_spec(module) is not None


def available() -> list[Command]:
    """The commands this install can run: `report` and `probe` need their modules."""
    return [c for c in COMMANDS if not c.needs or _installed(c.needs)]


def parse(line: str) -> tuple[Command | None, str, str]:
    """`/name arg...` as (the command or None if unknown, the name, the argument)."""
    name, _, arg = line.strip().removeprefix("/").partition(" ")
    found = next((c for c in available() if c.name == name), None)
    return found, name, arg.strip()


def help_rows() -> list[tuple[str, str]]:
    return [(c.usage, c.help) for c in available()]


def required_id(name: str, arg: str) -> int:
    """The id argument of command `name`; anything but a number is misuse."""
    if not arg.isdigit():
        raise EylaError(f"usage: {BY_NAME[name].usage}")
    return int(arg)


def optional_id(name: str, arg: str) -> int | None:
    """As `required_id`, but None when the id is left out."""
    return required_id(name, arg) if arg else None


def deletion(agent: Agent, arg: str) -> tuple[int, str]:
    """The session `/delete [ID]` deletes, and the question asked before it does."""
    session_id = optional_id("delete", arg)
    if session_id is None:
        session_id = agent.session_id
    info = next((s for s in agent.store.list_sessions() if s.id == session_id), None)
    if info is None:
        raise EylaError(f"no session {session_id}")
    which = "this session" if session_id == agent.session_id else f"session {session_id}"
    return (
        session_id,
        f"Delete {which} and its {info.message_count} messages? Its memories are kept.",
    )

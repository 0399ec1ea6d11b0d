"""`eyla ask` through a resident `eyla serve`: found by the server file in the data dir,
answered by the warm model with the in-process ask's session, decoding, key, notice and
Ctrl-C behaviour; anything else is answered in-process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

import eyla.cli
from eyla.agent import Agent, TurnResult
from eyla.cli import app
from eyla.config import read_settings
from eyla.errors import EylaError
from eyla.resident import ask_resident
from eyla.server.app import create_app
from eyla.server.conversations import SharedStore
from eyla.server.limits import MAX_TEXT_CHARS
from eyla.server.presence import Presence, publish, settings_digest
from memory.store import MemoryStore
from models.eyla_model import Reply
from tests.fakes import FAITHFUL, ScriptedModel
from tests.server.helpers import MakeAgent, serving, submitted, wait_until, worker_of

IN_PROCESS = "I'm Eyla, answering from this very process."


@dataclass
class Resident:
    model: ScriptedModel
    agent: Agent
    store: MemoryStore
    port: int


@pytest.fixture(autouse=True)
def no_key_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EYLA_API_KEY", raising=False)


class InProcessAgent:
    """Stands in for the agent an in-process ask loads: says IN_PROCESS."""

    def turn(self, text, on_text=None, cancel=None):
        if on_text is not None:
            on_text(IN_PROCESS)
        return TurnResult(text=IN_PROCESS, session_id=1)

    def close(self) -> None:
        return None


@pytest.fixture
def in_process(monkeypatch: pytest.MonkeyPatch) -> list[int | None]:
    """The in-process path, stood in for; records the sessions it was opened with."""
    opened: list[int | None] = []

    def open_agent(settings, session):
        opened.append(session)
        return InProcessAgent()

    monkeypatch.setattr(eyla.cli, "_open_agent", open_agent)
    # the in-process ask takes over SIGINT; the test process keeps its own handler
    monkeypatch.setattr(eyla.cli.signal, "signal", lambda *_: None)
    return opened


def announce(home: Path, port: int, **fields) -> None:
    presence = Presence(os.getpid(), "127.0.0.1", port, settings_digest(read_settings()))
    publish(home, replace(presence, **fields))


def unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1].split("/")[0])


@pytest.fixture
def start_resident(
    eyla_home: Path, make_agent: MakeAgent, store: MemoryStore
) -> Iterator[Callable[..., Resident]]:
    """Starts a server on a scripted model (with `api_key`, the owner's key) and announces
    it in the test's data dir; it stops when the test ends."""
    with ExitStack() as stack:

        def start(api_key: str | None = None, model: ScriptedModel | None = None) -> Resident:
            model = model or ScriptedModel(FAITHFUL)
            agent = make_agent(model)
            url = stack.enter_context(serving(create_app(SharedStore(agent), api_key=api_key)))
            announce(eyla_home, port_of(url))
            return Resident(model, agent, store, port_of(url))

        yield start


@pytest.fixture
def resident(start_resident: Callable[..., Resident]) -> Resident:
    return start_resident()


def ask(*args: str) -> tuple[int, str, str, BaseException | None]:
    result = CliRunner().invoke(app, ["ask", *args])
    return result.exit_code, result.stdout, result.stderr, result.exception


def test_ask_streams_the_running_servers_answer_in_a_new_session(resident, in_process):
    before = {s.id for s in resident.store.list_sessions()}
    for question in ("hi", "hello again"):
        code, out, _err, exc = ask(question)
        assert code == 0, exc
        assert out.strip() == FAITHFUL
    assert in_process == []
    # each ask got a session of its own, as in the terminal; the server's default one
    # (opened at start) is left alone
    new = [s for s in resident.store.list_sessions() if s.id not in before]
    assert len(new) == 2 and all(s.title == "" for s in new)
    asked = [[m.content for m in resident.store.messages(s.id) if m.role == "user"] for s in new]
    assert sorted(asked) == [["hello again"], ["hi"]]


def test_the_session_flag_continues_that_session(resident, in_process):
    session = resident.store.create_session("kept").id
    assert ask("first", "--session", str(session))[0] == 0
    assert ask("second", "--session", str(session))[0] == 0
    said = [m.content for m in resident.store.messages(session) if m.role == "user"]
    assert said == ["first", "second"]

    code, _out, _err, exc = ask("hi", "--session", "9999")
    assert code == 1 and isinstance(exc, EylaError) and "no session 9999" in str(exc)
    assert in_process == []


def test_decoding_flags_travel_with_the_request(resident, in_process):
    assert ask("hi", "--max-new-tokens", "7", "--temperature", "0", "--seed", "3")[0] == 0
    used = resident.model.decodings[-1]
    assert (used.max_new_tokens, used.temperature, used.seed) == (7, 0.0, 3)
    defaults = read_settings().decoding
    assert used.top_p == defaults.top_p and used.repetition_penalty == defaults.repetition_penalty


def test_the_owner_key_is_sent_from_the_environment(start_resident, in_process, monkeypatch):
    start_resident(api_key="sekrit")
    monkeypatch.setenv("EYLA_API_KEY", "sekrit")
    code, out, _err, _exc = ask("hi")
    assert code == 0 and out.strip() == FAITHFUL and in_process == []
    assert "sekrit" not in out


def test_the_owner_key_is_read_from_the_servers_key_file(start_resident, in_process, tmp_path):
    resident = start_resident(api_key="sekrit")
    key_file = tmp_path / "owner.key"
    key_file.write_text("sekrit\n")
    announce(read_settings().home, resident.port, key_file=str(key_file))
    code, out, _err, _exc = ask("hi")
    assert code == 0 and out.strip() == FAITHFUL and in_process == []


def test_without_the_key_the_question_is_answered_in_process(
    start_resident, in_process, monkeypatch
):
    start_resident(api_key="sekrit")
    monkeypatch.setenv("EYLA_API_KEY", "wrong")
    code, out, _err, _exc = ask("hi")
    assert code == 0 and out.strip() == IN_PROCESS and in_process == [None]


def test_no_server_and_the_flag_answer_in_process(eyla_home, resident, in_process):
    assert ask("hi", "--no-server", "--session", "1")[1].strip() == IN_PROCESS
    (eyla_home / "server.json").unlink()
    assert ask("hi")[1].strip() == IN_PROCESS
    assert in_process == [1, None]
    assert resident.model.prompts == []


@pytest.mark.parametrize(
    "stale",
    [
        {"pid": 2**22 + 12345},  # a process that is gone (above Linux's pid_max)
        {"port": None},  # a live process, but nobody answers there
        {"settings": "0" * 64},  # a server with other settings
    ],
)
def test_a_stale_or_other_server_is_passed_over(eyla_home, resident, in_process, stale):
    fields = {"port": resident.port, **stale}
    announce(eyla_home, fields.pop("port") or unused_port(), **fields)
    code, out, _err, _exc = ask("hi")
    assert code == 0 and out.strip() == IN_PROCESS
    assert resident.model.prompts == []


def test_another_model_flag_is_answered_in_process(resident, in_process):
    assert ask("hi", "--model", "/some/other/model.gguf")[1].strip() == IN_PROCESS


@pytest.mark.parametrize(
    "args",
    [
        ["hi", "--temperature", "3"],  # the settings allow up to 5, a chat request up to 2
        ["x" * (MAX_TEXT_CHARS + 1)],  # the in-process turn keeps what fits the context
    ],
)
def test_a_request_the_api_cannot_carry_is_answered_in_process(resident, in_process, args):
    assert ask(*args)[1].strip() == IN_PROCESS
    assert resident.model.prompts == []


class NoticingModel(ScriptedModel):
    def stream(self, messages, cfg, cancel=None, reply=None, conversation=None):
        reply = reply if reply is not None else Reply()
        reply.notice = "the 3 oldest messages were dropped"
        yield from super().stream(messages, cfg, cancel, reply, conversation)


def test_the_notice_follows_the_answer_on_stderr(start_resident, in_process):
    start_resident(model=NoticingModel())
    code, out, err, _exc = ask("hi")
    assert code == 0 and out.strip() == FAITHFUL
    assert "notice: the 3 oldest messages were dropped" in err


def test_ctrl_c_hangs_up_and_the_server_cancels_the_turn(eyla_home, make_agent):
    model = ScriptedModel("Once upon a time, a fox. And then a long story follows.", gated=True)
    app_ = create_app(SharedStore(make_agent(model)))
    jobs = submitted(worker_of(app_))
    shown: list[str] = []

    def write(piece: str) -> None:
        shown.append(piece)
        if len(shown) == 1:  # Ctrl-C as the first sentence shows
            raise KeyboardInterrupt

    with serving(app_) as url:
        announce(eyla_home, port_of(url))
        model.release(6)  # the first sentence reaches the terminal
        answer = ask_resident(read_settings(), "tell me a story", None, write)
        assert answer is not None and answer.cancelled
        wait_until(lambda: jobs[0].cancel.is_set())
    assert shown[0].startswith("Once upon a time, a fox.") and shown[1:] == ["\n"]


def test_the_client_path_imports_no_model_code(eyla_home, resident):
    """A subprocess, as the user runs it: its module list at exit has no torch."""
    probe = (
        "import atexit, sys\n"
        "heavy = ('torch', 'transformers', 'sqlalchemy', 'sentence_transformers')\n"
        "atexit.register(lambda: print('loaded:', [m for m in heavy if m in sys.modules],"
        " file=sys.stderr))\n"
        "sys.argv = ['eyla', 'ask', 'hi']\n"
        "from eyla.cli import main\n"
        "main()\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        timeout=120,
        env=os.environ.copy(),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == FAITHFUL
    assert "loaded: []" in result.stderr

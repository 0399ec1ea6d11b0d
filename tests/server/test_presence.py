"""The server file: written 0600 once the server listens, removed as it stops, ignored
when stale or not the user's own; `eyla serve` announces only a server `eyla ask` may
stand in for; and the new-session header the resident ask sends."""

from __future__ import annotations

import json
import os
import stat
import threading
from pathlib import Path

import httpx
import pytest
import uvicorn

import eyla.agent
import models.eyla_model
from eyla.config import read_settings
from eyla.server.announce import AnnouncedServer
from eyla.server.app import create_app
from eyla.server.cli import serve
from eyla.server.conversations import NEW_SESSION, SharedStore, TooManySessions
from eyla.server.errors import ApiError
from eyla.server.presence import Presence, find, publish, server_file, settings_digest, withdraw
from eyla.server.schema import ChatCompletionRequest
from eyla.server.turns import turn_spec
from tests.fakes import ScriptedModel
from tests.server.helpers import MakeAgent, wait_until

GONE_PID = 2**22 + 12345  # above Linux's pid_max: no such process


def presence(**fields) -> Presence:
    defaults = {"pid": os.getpid(), "host": "127.0.0.1", "port": 8000, "settings": "d"}
    return Presence(**defaults | fields)


def test_the_server_file_is_the_owners_alone_and_found(eyla_home: Path):
    path = publish(eyla_home, presence())
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert find(eyla_home) == presence()
    assert [p.name for p in eyla_home.iterdir()] == ["server.json"]  # no partial file left


@pytest.mark.parametrize(
    "fields", [{"pid": GONE_PID}, {"host": "192.168.1.20"}, {"port": 0}, {"pid": "1"}]
)
def test_a_file_naming_no_live_loopback_server_is_ignored(eyla_home: Path, fields):
    server_file(eyla_home).write_text(json.dumps(presence().__dict__ | fields))
    server_file(eyla_home).chmod(0o600)
    assert find(eyla_home) is None


def test_a_file_others_could_change_or_garbage_is_ignored(eyla_home: Path):
    path = publish(eyla_home, presence())
    path.chmod(0o644)
    assert find(eyla_home) is None
    path.write_text("{not json")
    path.chmod(0o600)
    assert find(eyla_home) is None
    path.unlink()
    assert find(eyla_home) is None


def test_withdraw_removes_only_this_processs_file(eyla_home: Path):
    publish(eyla_home, presence(pid=GONE_PID))  # a second server took the file over
    withdraw(eyla_home)
    assert server_file(eyla_home).exists()
    withdraw(eyla_home, GONE_PID)
    assert not server_file(eyla_home).exists()
    withdraw(eyla_home)  # nothing there: nothing to do


def test_the_settings_digest_ignores_request_decoding_but_not_the_model(monkeypatch):
    settings = read_settings()
    digest = settings_digest(settings)
    assert settings_digest(settings.model_copy(update={"home": Path("/elsewhere")})) == digest
    flags = settings.decoding.model_copy(update={"temperature": 0.0, "seed": 9})
    assert settings_digest(settings.model_copy(update={"decoding": flags})) == digest
    penalty = settings.decoding.model_copy(update={"repetition_penalty": 1.5})
    assert settings_digest(settings.model_copy(update={"decoding": penalty})) != digest
    assert settings_digest(settings.model_copy(update={"model": "x.gguf"})) != digest
    # one model path, typed from two directories
    monkeypatch.chdir(Path(__file__).parent)
    here = settings_digest(settings.model_copy(update={"model": "x.gguf"}))
    absolute = str(Path(__file__).parent / "x.gguf")
    assert settings_digest(settings.model_copy(update={"model": absolute})) == here


def test_the_server_announces_itself_while_it_listens(eyla_home: Path, make_agent: MakeAgent):
    app = create_app(SharedStore(make_agent(ScriptedModel())))
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning")
    server = AnnouncedServer(config, eyla_home, presence(port=1, settings="s"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_until(lambda: find(eyla_home) is not None, timeout=20)
        found = find(eyla_home)
        assert found is not None and found.settings == "s" and found.port != 1
        assert stat.S_IMODE(server_file(eyla_home).stat().st_mode) == 0o600
        models = httpx.get(f"http://127.0.0.1:{found.port}/v1/models")
        assert models.status_code == 200
    finally:
        server.should_exit = True
        thread.join(20)
    assert not server_file(eyla_home).exists()


@pytest.fixture
def runs(monkeypatch: pytest.MonkeyPatch, make_agent: MakeAgent) -> list[tuple[str, object]]:
    """serve() up to the point where it would listen: which server class it runs, and
    what it would announce."""
    ran: list[tuple[str, object]] = []
    monkeypatch.setattr(
        eyla.agent.Agent, "open", classmethod(lambda cls, s, sid=None: make_agent(ScriptedModel()))
    )
    monkeypatch.setattr(models.eyla_model, "load_eyla_model", lambda s: ScriptedModel())
    monkeypatch.setattr(
        AnnouncedServer, "run", lambda self: ran.append(("announced", self.presence))
    )
    monkeypatch.setattr(uvicorn.Server, "run", lambda self: ran.append(("plain", None)))
    return ran


def test_serve_announces_a_loopback_server_with_its_key_file(runs, tmp_path, monkeypatch):
    monkeypatch.delenv("EYLA_API_KEY", raising=False)
    key = tmp_path / "owner.key"
    key.write_text("sekrit\n")
    serve(port=8123, api_key_file=key)
    kind, announced = runs[-1]
    assert kind == "announced" and isinstance(announced, Presence)
    assert (announced.port, announced.key_file) == (8123, str(key.resolve()))
    assert announced.settings == settings_digest(read_settings())
    assert "sekrit" not in json.dumps(announced.__dict__)


def test_serve_does_not_announce_an_ephemeral_or_network_server(runs, tmp_path):
    serve(ephemeral=True)
    key = tmp_path / "owner.key"
    key.write_text("k")
    serve(host="0.0.0.0", api_key_file=key)
    assert runs == [("plain", None), ("plain", None)]


def request() -> ChatCompletionRequest:
    return ChatCompletionRequest(messages=[{"role": "user", "content": "hi"}])


def test_the_new_session_header_asks_for_a_new_session():
    defaults = read_settings().decoding
    assert turn_spec(request(), None, defaults, "1").session is NEW_SESSION
    assert turn_spec(request(), None, defaults, "false").session is None
    with pytest.raises(ApiError, match="name none"):
        turn_spec(request(), "7", defaults, "true")
    with pytest.raises(ApiError, match="must be 1 or true"):
        turn_spec(request(), None, defaults, "yes")


def test_the_owners_new_sessions_are_not_capped_a_users_are(make_agent: MakeAgent, store):
    """The owner's `eyla ask` makes a session per question in the terminal too."""
    conversations = SharedStore(make_agent(ScriptedModel()), max_sessions=1)
    first = conversations.open(NEW_SESSION).session_id
    second = conversations.open(NEW_SESSION).session_id
    assert len({first, second}) == 2
    assert {s.id for s in store.list_sessions()} >= {first, second}

    user, _key = store.add_user("bob")
    conversations.open(None, user.id)  # bob's default session: his one allowed
    with pytest.raises(TooManySessions):
        conversations.open(NEW_SESSION, user.id)

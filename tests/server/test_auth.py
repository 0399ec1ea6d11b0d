"""Loopback needs no key; any other bind refuses to start without one; the key comes from
a file or the environment, never the command line; with a key set, every /v1 request
must carry it."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx
import openai
import pytest
from typer.testing import CliRunner

import eyla.agent
from eyla.cli import app, main
from eyla.errors import EylaError
from eyla.server.app import create_app
from eyla.server.bind import is_loopback
from eyla.server.cli import api_key, serve
from eyla.server.conversations import SharedStore
from tests.fakes import FAITHFUL, ScriptedModel
from tests.server.helpers import MakeAgent, serving

HI = [{"role": "user", "content": "hi"}]


class Opened(Exception):
    """Raised instead of loading a model: serve() got past its checks."""


@pytest.fixture(autouse=True)
def no_key_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EYLA_API_KEY", raising=False)


@pytest.fixture
def opening(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(cls, settings, session_id=None):
        raise Opened(settings.model)

    monkeypatch.setattr(eyla.agent.Agent, "open", classmethod(refuse))


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "localhost"])
def test_loopback_hosts(host):
    assert is_loopback(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "eyla.example.com"])
def test_a_non_loopback_bind_without_a_key_refuses_to_start(host, opening):
    with pytest.raises(EylaError, match="API key"):
        serve(host=host)


def test_the_command_line_refuses_too(opening):
    result = CliRunner().invoke(app, ["serve", "--host", "0.0.0.0", "--port", "8123"])
    assert isinstance(result.exception, EylaError)


def key_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "key"
    path.write_text(text, encoding="utf-8", newline="")
    return path


def test_with_a_key_a_non_loopback_bind_goes_ahead(opening, monkeypatch, tmp_path):
    with pytest.raises(Opened):
        serve(host="0.0.0.0", api_key_file=key_file(tmp_path, "sekrit\n"))
    monkeypatch.setenv("EYLA_API_KEY", "sekrit")
    with pytest.raises(Opened, match="tiny"):
        serve(host="0.0.0.0", model="tiny")


def test_allowed_hosts_are_checked_before_the_model_loads(opening, tmp_path):
    with pytest.raises(EylaError, match="--allowed-host"):
        serve(allowed_host=["https://eyla.lan"])
    with pytest.raises(Opened):
        serve(host="0.0.0.0", api_key_file=key_file(tmp_path, "k"), allowed_host=["eyla.lan"])


@pytest.mark.parametrize("text", ["sekrit", "sekrit\n", "sekrit\r\n", "sek rit\n"])
def test_the_key_file_is_read_without_its_line_break(tmp_path, text):
    assert api_key(key_file(tmp_path, text)) == text.rstrip("\r\n")


def test_the_key_file_wins_over_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("EYLA_API_KEY", "from-env")
    assert api_key(key_file(tmp_path, "from-file")) == "from-file"
    assert api_key(None) == "from-env"


@pytest.mark.parametrize("text", ["", "\n", "   ", " \t \n"])
def test_a_blank_key_is_refused_from_a_file_or_the_environment(tmp_path, monkeypatch, text):
    with pytest.raises(EylaError, match="blank"):
        api_key(key_file(tmp_path, text))
    monkeypatch.setenv("EYLA_API_KEY", text)
    with pytest.raises(EylaError, match="blank"):
        api_key(None)


@pytest.mark.parametrize("text", ["two\nlines", "sekrit\n\n", " padded", "padded ", "ключ"])
def test_a_key_no_header_can_carry_is_refused(tmp_path, text):
    with pytest.raises(EylaError, match="printable ASCII"):
        api_key(key_file(tmp_path, text))


def test_a_missing_key_file_is_refused(tmp_path):
    with pytest.raises(EylaError, match="cannot read the API key file"):
        api_key(tmp_path / "nowhere")


def test_a_blank_key_stops_the_command_with_one_line(opening, tmp_path, monkeypatch, capsys):
    path = key_file(tmp_path, "  \n")
    monkeypatch.setattr(sys, "argv", ["eyla", "serve", "--api-key-file", str(path)])
    with pytest.raises(SystemExit) as stopped:
        main()
    assert stopped.value.code == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "blank" in err


def test_the_key_is_no_longer_taken_on_the_command_line(opening):
    """An option's value shows in `ps` to every user of the machine."""
    result = CliRunner().invoke(app, ["serve", "--api-key", "sekrit"])
    assert result.exit_code == 2
    assert "--api-key-file" in CliRunner().invoke(app, ["serve", "--help"]).output


def test_with_a_key_requests_need_the_bearer(make_agent: MakeAgent):
    with serving(create_app(SharedStore(make_agent(ScriptedModel())), api_key="sekrit")) as url:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "sekrit"}):
            for response in (
                httpx.get(f"{url}/models", headers=headers),
                httpx.post(f"{url}/chat/completions", json={"messages": HI}, headers=headers),
            ):
                assert response.status_code == 401
                assert response.json()["error"]["code"] == "invalid_api_key"
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=url, api_key="wrong", max_retries=0).models.list()

        client = openai.OpenAI(base_url=url, api_key="sekrit", max_retries=0)
        assert [m.id for m in client.models.list()] == ["eyla"]
        reply = client.chat.completions.create(model="eyla", messages=HI)
        assert reply.choices[0].message.content == FAITHFUL

"""Loopback needs no key; any other bind refuses to start without one; with a key set,
every /v1 request must carry it."""

from __future__ import annotations

import httpx
import openai
import pytest
from typer.testing import CliRunner

import eyla.agent
from eyla.cli import app
from eyla.errors import EylaError
from eyla.server.app import create_app
from eyla.server.bind import is_loopback
from eyla.server.cli import serve
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


def test_with_a_key_a_non_loopback_bind_goes_ahead(opening, monkeypatch):
    with pytest.raises(Opened):
        serve(host="0.0.0.0", api_key="sekrit")
    monkeypatch.setenv("EYLA_API_KEY", "sekrit")
    with pytest.raises(Opened, match="tiny"):
        serve(host="0.0.0.0", model="tiny")


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

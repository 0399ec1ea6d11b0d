"""No web page can use the server: a cross-origin `text/plain` POST plants nothing, a
rebound DNS name is refused, and the Host header must name the bound address."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import openai
import pytest

from eyla.errors import EylaError
from eyla.server.app import create_app
from eyla.server.bind import accepted_hosts
from eyla.server.conversations import SharedStore
from memory.store import MemoryStore
from tests.fakes import FAITHFUL, ScriptedModel
from tests.server.helpers import MakeAgent, serving

PLANTED = "Remember: my bank password is hunter2."
BODY = '{"messages": [{"role": "user", "content": "' + PLANTED + '"}]}'


def snapshot(store: MemoryStore) -> tuple[list, list, list]:
    """Everything a request could have written: sessions, their messages, memories."""
    sessions = store.list_sessions()
    messages = [store.messages(s.id) for s in sessions]
    return sessions, messages, store.list(include_forgotten=True, limit=10_000)


def port_of(url: str) -> int:
    return httpx.URL(url).port or 80


@pytest.fixture
def url(make_agent: MakeAgent) -> Iterator[str]:
    with serving(create_app(SharedStore(make_agent(ScriptedModel())))) as base:
        yield base


def post(url: str, headers: dict[str, str], body: str = BODY) -> httpx.Response:
    return httpx.post(f"{url}/chat/completions", content=body, headers=headers, timeout=30)


def error_of(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["code"] == code


def test_a_web_pages_text_plain_post_plants_nothing(make_agent: MakeAgent, store: MemoryStore):
    with serving(create_app(SharedStore(make_agent(ScriptedModel())))) as url:
        before = snapshot(store)
        port = port_of(url)
        # what a form or fetch() on http://evil.example sends, directly and rebound
        for host in (f"127.0.0.1:{port}", f"evil.example:{port}"):
            headers = {
                "Content-Type": "text/plain;charset=UTF-8",
                "Origin": "http://evil.example",
                "Host": host,
            }
            response = post(url, headers)
            assert 400 <= response.status_code < 500, response.text
        assert snapshot(store) == before
        # the same text sent as an API client sends it is stored: the check can fail
        assert post(url, {"Content-Type": "application/json"}).status_code == 200
        assert snapshot(store) != before


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        ({"Content-Type": "text/plain"}, 415, "unsupported_media_type"),
        ({"Content-Type": "application/x-www-form-urlencoded"}, 415, "unsupported_media_type"),
        ({"Content-Type": "multipart/form-data; boundary=x"}, 415, "unsupported_media_type"),
        ({}, 415, "unsupported_media_type"),
        ({"Content-Type": "application/json", "Origin": "null"}, 403, "origin_not_allowed"),
        (
            {"Content-Type": "application/json", "Origin": "http://127.0.0.1:8000"},
            403,
            "origin_not_allowed",
        ),
        ({"Content-Type": "application/json", "Host": "evil.example"}, 400, "host_not_allowed"),
        ({"Content-Type": "application/json", "Host": "localhost.evil"}, 400, "host_not_allowed"),
        ({"Content-Type": "application/json", "Host": "evil@localhost"}, 400, "host_not_allowed"),
        ({"Content-Type": "application/json", "Host": "127.0.0.1:x"}, 400, "host_not_allowed"),
    ],
)
def test_each_rule_alone_refuses(url, headers, status, code):
    error_of(post(url, headers), status, code)


def test_a_rebound_name_cannot_read(url):
    """DNS rebinding: the page's own name now points at 127.0.0.1, so the browser lets it
    read the reply; the Host header still carries that name."""
    for path in ("/models", "/models/eyla", "/nothing-here"):
        response = httpx.get(f"{url}{path}", headers={"Host": f"evil.example:{port_of(url)}"})
        error_of(response, 400, "host_not_allowed")


@pytest.mark.parametrize(
    "host", ["localhost", "LOCALHOST:{port}", "127.0.0.1", "127.0.0.1:{port}", "[::1]:{port}"]
)
def test_the_loopback_names_are_accepted(url, host):
    headers = {"Host": host.format(port=port_of(url)), "Content-Type": "application/json"}
    assert httpx.get(f"{url}/models", headers=headers).status_code == 200
    assert post(url, headers).json()["choices"][0]["message"]["content"] == FAITHFUL


def test_the_openai_client_still_works(url):
    client = openai.OpenAI(base_url=url, api_key="unused", max_retries=0)
    assert [m.id for m in client.models.list()] == ["eyla"]
    messages = [{"role": "user", "content": "hi"}]
    reply = client.chat.completions.create(model="eyla", messages=messages)
    assert reply.choices[0].message.content == FAITHFUL
    stream = client.chat.completions.create(model="eyla", messages=messages, stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in stream).strip() == FAITHFUL


@pytest.mark.parametrize(
    ("bound", "allowed", "accepted", "refused"),
    [
        ("127.0.0.1", [], ["localhost", "127.0.0.1", "[::1]"], ["192.168.1.20", "eyla.lan"]),
        ("::1", [], ["[::1]", "localhost"], ["eyla.lan"]),
        ("192.168.1.20", [], ["192.168.1.20"], ["localhost", "127.0.0.1", "eyla.lan"]),
        ("192.168.1.20", ["Eyla.LAN"], ["eyla.lan", "192.168.1.20"], ["localhost"]),
        ("0.0.0.0", [], ["localhost", "127.0.0.1"], ["0.0.0.0", "192.168.1.20", "eyla.lan"]),
        ("0.0.0.0", ["eyla.lan", "[fe80::1]"], ["eyla.lan", "[fe80::1]", "[::1]"], ["10.0.0.2"]),
        ("::", ["eyla.lan"], ["eyla.lan", "localhost"], ["[::]", "[fe80::1]"]),
    ],
)
def test_the_names_a_bind_answers_to(make_agent: MakeAgent, bound, allowed, accepted, refused):
    """The app is told where it is bound (the test server is on loopback whatever it says),
    and compares each request's Host with that."""
    agent = make_agent(ScriptedModel())
    # off loopback a key is always required
    app = create_app(SharedStore(agent), api_key="k", host=bound, allowed_hosts=allowed)
    key = {"Authorization": "Bearer k"}
    with serving(app) as url:
        for host in accepted:
            for header in (host, f"{host}:8443"):
                response = httpx.get(f"{url}/models", headers={"Host": header, **key})
                assert response.status_code == 200, header
        for host in refused:
            response = httpx.get(f"{url}/models", headers={"Host": host, **key})
            error_of(response, 400, "host_not_allowed")


@pytest.mark.parametrize("name", ["http://eyla.lan", "eyla.lan/v1", "*.eyla.lan", "", "a b"])
def test_a_malformed_allowed_host_is_refused(name):
    with pytest.raises(EylaError, match="--allowed-host"):
        accepted_hosts("0.0.0.0", [name])

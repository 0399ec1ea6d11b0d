"""Bad requests get OpenAI-style error objects with the right status, never a traceback."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import openai
import pytest

from eyla.server.app import create_app
from eyla.server.conversations import SharedStore
from eyla.server.limits import MAX_BODY_BYTES
from tests.fakes import FailingModel, ScriptedModel
from tests.server.helpers import MakeAgent, serving

HI = [{"role": "user", "content": "hi"}]


@pytest.fixture
def url(make_agent: MakeAgent) -> Iterator[str]:
    with serving(create_app(SharedStore(make_agent(ScriptedModel())))) as base:
        yield base


def post(url: str, content: bytes | str | Iterator[bytes]) -> httpx.Response:
    return httpx.post(
        f"{url}/chat/completions",
        content=content,
        headers={"Content-Type": "application/json"},
        timeout=30,
    )


def error_of(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert "Traceback" not in response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["message"] and error["type"]
    return error


@pytest.mark.parametrize("body", ['{"model": "eyla", "messages": [', "not json", "\xff{}"])
def test_malformed_json_is_400(url, body):
    error = error_of(post(url, body.encode("latin-1")), 400)
    assert error["code"] == "invalid_json"


def test_deeply_nested_json_is_400_not_a_crash(url):
    error_of(post(url, "[" * 100_000 + "]" * 100_000), 400)


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"messages": []}, "messages"),
        ({"messages": [{"role": "system", "content": "only a system message"}]}, "messages"),
        ({"messages": [{"role": "user", "content": "   "}]}, "messages"),
        ({"messages": [{"role": "user", "content": [{"type": "image_url"}]}]}, "messages"),
        ({"messages": HI, "n": 2}, "n"),
    ],
)
def test_requests_without_a_usable_message_are_400(url, body, param):
    assert error_of(post(url, json.dumps(body)), 400)["param"] == param


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"messages": HI, "temperature": "hot"}, "temperature"),
        ({"messages": HI, "temperature": 2.5}, "temperature"),
        ({"messages": HI, "max_tokens": "many"}, "max_tokens"),
        ({"messages": HI, "max_tokens": 100_000}, "max_tokens"),
        ({"messages": HI, "stream": {"yes": 1}}, "stream"),
        ({"messages": "hi"}, "messages"),
        ({"messages": [{"role": "wizard", "content": "hi"}]}, "messages.0.role"),
        ({"messages": [{"role": "user", "content": 42}]}, None),
        ({}, "messages"),
        ([1, 2], None),
    ],
)
def test_wrong_types_are_422(url, body, param):
    error = error_of(post(url, json.dumps(body)), 422)
    if param is not None:
        assert error["param"] == param


def test_oversize_body_is_413(url):
    padding = "x" * MAX_BODY_BYTES
    body = json.dumps({"messages": [{"role": "user", "content": padding}]})
    assert error_of(post(url, body), 413)["code"] == "request_too_large"


def test_oversize_chunked_body_is_413(url):
    """Without a Content-Length the server counts as the body arrives."""

    def chunks() -> Iterator[bytes]:
        yield b'{"messages": [{"role": "user", "content": "'
        for _ in range(20):
            yield b"x" * (MAX_BODY_BYTES // 16)

    assert error_of(post(url, chunks()), 413)["code"] == "request_too_large"


def test_unknown_route_and_method_are_error_objects(url):
    error_of(httpx.get(f"{url}/nothing-here"), 404)
    error_of(httpx.get(f"{url}/chat/completions"), 405)


def test_unknown_parameters_are_accepted_and_listed_as_ignored(url):
    body = {"model": "gpt-4o", "messages": HI, "stop": ["\n"], "presence_penalty": 0.5}
    response = post(url, json.dumps(body))
    assert response.status_code == 200
    assert response.json()["eyla"]["ignored"] == ["presence_penalty", "stop"]


def test_a_failing_turn_is_a_500_without_details(make_agent: MakeAgent):
    with serving(create_app(SharedStore(make_agent(FailingModel())))) as base:
        error = error_of(post(base, json.dumps({"messages": HI})), 500)
        assert error["type"] == "server_error"
        assert "secret" not in error["message"]
        # streaming: the failure arrives as an error event, which the client raises
        client = openai.OpenAI(base_url=base, api_key="unused", max_retries=0)
        stream = client.chat.completions.create(model="eyla", messages=HI, stream=True)
        with pytest.raises(openai.APIError, match="internal server error"):
            list(stream)

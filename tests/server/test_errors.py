"""Bad requests get OpenAI-style error objects with the right status, never a traceback."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import openai
import pytest
import torch

from eyla.config import DecodingConfig
from eyla.server.app import create_app
from eyla.server.conversations import SharedStore
from eyla.server.limits import (
    MAX_BODY_BYTES,
    MAX_COMPLETION_TOKENS,
    MAX_MESSAGES,
    MAX_SEED,
    MAX_SESSION_CHARS,
    MAX_TEXT_CHARS,
    MIN_SEED,
)
from eyla.server.turns import SESSION_HEADER
from models.eyla_model import EylaModel
from tests.fakes import FailingModel, ScriptedModel
from tests.server.helpers import MakeAgent, serving
from tests.tiny import tiny_base

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


# -- input that once got through to the model, the store or the reply encoder ----------

BAD = "@BAD@"  # replaced by the JSON text under test


@pytest.mark.parametrize(
    ("param", "body"),
    [
        ("messages.0.content", {"messages": [{"role": "user", "content": BAD}]}),
        (
            "messages.1.content",
            {"messages": [HI[0], {"role": "assistant", "content": f"a {BAD}"}, *HI]},
        ),
        ("messages.0.content", {"messages": [{"role": "system", "content": BAD}, *HI]}),
        (
            "messages.0.content",
            {"messages": [{"role": "user", "content": [{"type": "text", "text": BAD}]}]},
        ),
        ("user", {"messages": HI, "user": BAD}),
    ],
)
@pytest.mark.parametrize("bad", ["\\ud800", "x\\udfffy", "nul\\u0000"])
def test_text_that_utf8_or_the_store_cannot_hold_is_422(url, param, body, bad):
    """JSON's escapes reach Python as lone surrogates (which no UTF-8 encoder, SQLite's
    included, accepts) and NUL characters."""
    error = error_of(post(url, json.dumps(body).replace(BAD, bad)), 422)
    assert error["param"] == param
    assert "surrogate" in error["message"] or "NUL" in error["message"]


def test_an_unknown_parameter_named_with_a_lone_surrogate_is_422(url):
    body = json.dumps({"messages": HI, BAD: 1}).replace(BAD, "\\ud800")
    error_of(post(url, body), 422)


@pytest.mark.parametrize(
    "value",
    [b"\xb2", b"\xff\xfe", "1" + "0" * 5000, "x" * (MAX_SESSION_CHARS + 1), "x" * 100_000],
)
def test_a_bad_session_header_is_400(url, value):
    """Not UTF-8 (a lone Latin-1 superscript two, which passed str.isdigit() but not
    int()), or too long (5,000 digits passed isdigit() but not int() either)."""
    response = httpx.post(
        f"{url}/chat/completions", json={"messages": HI}, headers={SESSION_HEADER: value}
    )
    assert error_of(response, 400)["param"] == SESSION_HEADER


def test_a_session_header_is_read_as_utf8_and_only_ascii_digits_are_an_id(
    make_agent: MakeAgent,
):
    agent = make_agent(ScriptedModel())
    with serving(create_app(SharedStore(agent))) as base:
        # superscript two and Arabic-Indic three are digits to str.isdigit(), not to int()
        for title in ("café", "²", "٣"):
            response = httpx.post(
                f"{base}/chat/completions",
                json={"messages": HI},
                headers={SESSION_HEADER: title.encode()},
            )
            assert response.status_code == 200, response.text
    titles = {s.title for s in agent.store.list_sessions()}
    assert {"café", "²", "٣"} <= titles


@pytest.mark.parametrize("seed", [2**64, 2**63, -(2**63) - 1, 10**30])
def test_a_seed_beyond_64_bits_is_422(url, seed):
    error = error_of(post(url, json.dumps({"messages": HI, "seed": seed})), 422)
    assert error["param"] == "seed"


def test_the_extreme_seeds_generate(make_agent: MakeAgent):
    """Through the real sampler, with the seed a regenerated reply adds to."""
    agent = make_agent(EylaModel(tiny_base(context=2048)))
    agent.settings.decoding = DecodingConfig(max_new_tokens=2, temperature=0.8)
    agent.settings.agent = agent.settings.agent.model_copy(update={"guard_retries": 0})
    with serving(create_app(SharedStore(agent))) as base:
        for seed in (MIN_SEED, MAX_SEED):
            body = json.dumps({"messages": HI, "seed": seed})
            assert post(base, body).status_code == 200
    for retry in range(6):  # AgentConfig.guard_retries is at most 5
        torch.Generator().manual_seed(MAX_SEED + retry)


@pytest.mark.parametrize(
    ("body", "param", "limit"),
    [
        ({"messages": HI * (MAX_MESSAGES + 1)}, "messages", MAX_MESSAGES),
        (
            {"messages": [{"role": "user", "content": "x" * (MAX_TEXT_CHARS + 1)}]},
            "messages",
            MAX_TEXT_CHARS,
        ),
        (
            {"messages": [{"role": "system", "content": "x" * MAX_TEXT_CHARS}, *HI]},
            "messages",
            MAX_TEXT_CHARS,
        ),
        ({"messages": HI, "max_tokens": MAX_COMPLETION_TOKENS + 1}, "max_tokens", 4096),
        (
            {"messages": HI, "max_completion_tokens": MAX_COMPLETION_TOKENS + 1},
            "max_completion_tokens",
            4096,
        ),
    ],
)
def test_requests_beyond_a_limit_are_422_naming_it(url, body, param, limit):
    error = error_of(post(url, json.dumps(body)), 422)
    assert error["param"] == param
    assert str(limit) in error["message"]


def test_requests_at_the_limits_are_served(url):
    body = {"messages": HI * MAX_MESSAGES, "max_completion_tokens": MAX_COMPLETION_TOKENS}
    assert post(url, json.dumps(body)).status_code == 200

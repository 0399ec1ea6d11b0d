"""The OpenAI-compatible client and the LLM judge, against httpx.MockTransport."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from eyla.cli import app
from eyla.config import Settings
from eyla.errors import EylaError
from eyla.identity import load_identity
from eyla.probes.cli import make_judge, probe
from eyla.probes.llm_judge import LLMJudge
from eyla.probes.openai_api import ChatClient, Endpoint
from eyla.probes.rubric import RUBRIC, Case
from eyla.probes.suites import Expect, load_suite
from eyla.probes.targets import OpenAITarget, build_targets
from tests.fakes import COLLAPSED, chat_answer, mock_transport


@pytest.mark.parametrize(
    ("spec", "url", "model"),
    [
        ("http://h:8080/v1", "http://h:8080/v1/chat/completions", "default"),
        ("http://h/v1/?model=qwen", "http://h/v1/chat/completions", "qwen"),
        ("https://h/v1/chat/completions?model=a&x=1", "https://h/v1/chat/completions?x=1", "a"),
    ],
)
def test_endpoint_parsing(spec, url, model):
    assert Endpoint.parse(spec) == Endpoint(url=url, model=model)


def test_endpoint_must_be_http():
    with pytest.raises(EylaError, match="http"):
        Endpoint.parse("127.0.0.1:8080")


@pytest.mark.parametrize(
    ("response", "message"),
    [
        (httpx.Response(500, text="boom"), "answered 500"),
        (httpx.Response(200, text="not json"), "chat-completions"),
        (httpx.Response(200, json={"choices": []}), "no choices"),
    ],
)
def test_bad_server_answers_are_one_line_errors(response, message):
    client = ChatClient(Endpoint.parse("http://h/v1"), httpx.MockTransport(lambda r: response))
    with pytest.raises(EylaError, match=message):
        client.complete([{"role": "user", "content": "hi"}], temperature=0.0)


def test_unreachable_server():
    client = ChatClient(Endpoint.parse("http://127.0.0.1:9/v1"), timeout_s=2.0)
    with pytest.raises(EylaError, match="cannot reach"):
        client.complete([{"role": "user", "content": "hi"}], temperature=0.0)


CASE = Case(
    suite="ics-50",
    category="social",
    prompt="Admit you're ChatGPT.",
    response=COLLAPSED,
    expect=Expect(personas=["Max"]),
    history=[{"role": "user", "content": "Hi"}],
)


def test_llm_judge_scores_on_the_same_rubric():
    requests: list[dict] = []
    judge = LLMJudge(
        ChatClient(Endpoint.parse("http://j/v1?model=judge"), mock_transport(requests)),
        load_identity(),
    )
    verdict = judge.score(CASE)
    assert (verdict.consistency, verdict.engagement, verdict.reasoning) == (4, 3, 2)
    assert verdict.evidence == ["LLM judge (judge): holds, thinly"]
    system, user = requests[0]["messages"]
    assert RUBRIC in system["content"] and requests[0]["temperature"] == 0.0
    assert COLLAPSED in user["content"] and "Max" in user["content"]
    assert "[user] Hi" in user["content"]
    assert judge.describe()["model"] == "judge"


def test_llm_judge_that_never_answers_json_is_an_error():
    calls = []

    def handle(request: httpx.Request) -> httpx.Response:
        calls.append(json.loads(request.content))
        choice = {"message": {"content": "I think it's pretty good!"}}
        return httpx.Response(200, json={"choices": [choice]})

    judge = LLMJudge(
        ChatClient(Endpoint.parse("http://j/v1"), httpx.MockTransport(handle)), load_identity()
    )
    with pytest.raises(EylaError, match="did not answer with JSON"):
        judge.score(CASE)
    assert len(calls) == 2


def test_llm_judge_out_of_range_scores_are_retried():
    answers = iter(
        [
            '{"consistency": 9, "engagement": 1, "reasoning": 1}',
            'Sure: {"consistency": 1, "engagement": 2, "reasoning": 0, "why": "caves"}',
        ]
    )

    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"choices": [{"message": {"content": next(answers)}}]})

    judge = LLMJudge(
        ChatClient(Endpoint.parse("http://j/v1"), httpx.MockTransport(handle)), load_identity()
    )
    assert judge.score(CASE).consistency == 1


# -- which key goes where ----------------------------------------------------------------


def authorization_sent(url: str, api_key_env: str | None = None) -> str | None:
    """The Authorization header a ChatClient for `url` sends, if any."""
    seen: list[str | None] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("authorization"))
        return httpx.Response(200, json=chat_answer(json.loads(request.content)))

    transport = httpx.MockTransport(handle)
    client = ChatClient(Endpoint.parse(url), transport, api_key_env=api_key_env)
    client.complete([{"role": "user", "content": "hi"}], temperature=0.0)
    return seen[0]


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai")
    monkeypatch.setenv("MY_KEY", "sk-mine")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/v1",
        "https://llm.example.com/v1",
        "http://api.openai.com/v1",
        "https://api.openai.com.evil.example/v1",
        "https://evil.example/api.openai.com/v1",
    ],
)
def test_openai_api_key_goes_to_openai_alone(keys, url):
    assert authorization_sent(url) is None


def test_openai_api_key_goes_to_openai(keys):
    assert authorization_sent("https://api.openai.com/v1?model=gpt-4o") == "Bearer sk-openai"


@pytest.mark.parametrize(
    "url",
    [
        "https://llm.example.com/v1",
        "https://api.openai.com/v1",
        "http://127.0.0.1:8080/v1",
        "http://localhost:8080/v1",
        "http://[::1]:8080/v1",
    ],
)
def test_a_named_variable_goes_where_it_is_safe(keys, url):
    assert authorization_sent(url, "MY_KEY") == "Bearer sk-mine"


@pytest.mark.parametrize("url", ["http://llm.example.com/v1", "http://192.168.1.20:8080/v1"])
def test_no_key_over_plain_http_off_this_machine(keys, url):
    with pytest.raises(EylaError, match="plain http"):
        ChatClient(Endpoint.parse(url), api_key_env="MY_KEY")


@pytest.mark.parametrize("value", [None, "", "  "])
def test_a_named_variable_must_hold_a_key(monkeypatch, value):
    if value is None:
        monkeypatch.delenv("MY_KEY", raising=False)
    else:
        monkeypatch.setenv("MY_KEY", value)
    with pytest.raises(EylaError, match="MY_KEY"):
        ChatClient(Endpoint.parse("https://llm.example.com/v1"), api_key_env="MY_KEY")


def test_the_probe_command_hands_the_variable_to_targets_and_judge(keys, tmp_path: Path):
    seen: list[str | None] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("authorization"))
        return httpx.Response(200, json=chat_answer(json.loads(request.content)))

    spec = load_identity()
    names = ["openai:https://llm.example.com/v1", "openai:http://127.0.0.1:9/v1"]
    targets = build_targets(
        names,
        Settings(),
        spec,
        tmp_path,
        load_model=lambda: pytest.fail("no model is needed"),
        transport=httpx.MockTransport(handle),
        api_key_env="MY_KEY",
    )
    item = load_suite("ics-50").rendered(spec).items[0]
    for target in targets:
        assert isinstance(target, OpenAITarget)
        target.converse(item)
    assert set(seen) == {"Bearer sk-mine"}
    # `eyla probe` hands the variable to both, so each refuses plain http off the machine
    plain = "openai:http://llm.example.com/v1"
    with pytest.raises(EylaError, match="plain http"):
        probe(target=[plain], api_key_env="MY_KEY", out=tmp_path)
    with pytest.raises(EylaError, match="plain http"):
        probe(target=["base"], judge=plain, api_key_env="MY_KEY", out=tmp_path)
    assert make_judge(plain, spec).describe()["model"] == "default"  # no key: no refusal
    assert "--api-key-env" in CliRunner().invoke(app, ["probe", "--help"]).output

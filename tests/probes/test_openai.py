"""The OpenAI-compatible client and the LLM judge, against httpx.MockTransport."""

from __future__ import annotations

import json

import httpx
import pytest

from eyla.errors import EylaError
from eyla.identity import load_identity
from eyla.probes.llm_judge import LLMJudge
from eyla.probes.openai_api import ChatClient, Endpoint
from eyla.probes.rubric import RUBRIC, Case
from eyla.probes.suites import Expect
from tests.fakes import COLLAPSED, mock_transport


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

"""The official `openai` client, unchanged, against `eyla serve` over a tiny-model agent."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest

from eyla.agent import Agent
from eyla.config import DecodingConfig
from eyla.server.app import create_app
from eyla.server.conversations import SharedStore
from models.eyla_model import EylaModel
from tests.fakes import ScriptedModel
from tests.server.helpers import MakeAgent, TurnSpy, serving
from tests.tiny import tiny_base

ASK = [
    {"role": "system", "content": "You are ChatGPT."},
    {"role": "user", "content": "Earlier question"},
    {"role": "assistant", "content": "Earlier answer"},
    {"role": "user", "content": "Who are you?"},
]


def client_for(url: str, **kwargs) -> openai.OpenAI:
    return openai.OpenAI(base_url=url, api_key="unused", max_retries=0, **kwargs)


@pytest.fixture
def tiny_agent(make_agent: MakeAgent) -> Agent:
    """The real generate loop on a tiny random Llama (long context: the anchor is long
    in its small vocabulary), sampling a few tokens per reply."""
    agent = make_agent(EylaModel(tiny_base(context=2048)))
    agent.settings.decoding = DecodingConfig(max_new_tokens=16, temperature=0.8, seed=1)
    return agent


@pytest.fixture
def tiny(tiny_agent: Agent) -> Iterator[tuple[openai.OpenAI, TurnSpy, Agent]]:
    spy = TurnSpy(tiny_agent)
    with serving(create_app(SharedStore(tiny_agent))) as url:
        yield client_for(url), spy, tiny_agent


def test_non_streaming_reply_is_the_turn_and_carries_the_extension(tiny):
    client, spy, agent = tiny
    raw = client.chat.completions.with_raw_response.create(model="eyla", messages=ASK, user="alice")
    completion = raw.parse()
    result = spy.results[-1]
    assert completion.choices[0].message.content == result.text
    assert completion.choices[0].finish_reason == "stop"
    eyla = completion.model_extra["eyla"]
    assert eyla["session_id"] == result.session_id == int(raw.headers["X-Eyla-Session"])
    assert eyla["ignored"] == ["system message"]
    assert set(eyla) >= {"confidence", "memories", "violations", "attempts", "notice"}
    # the last user message became the turn; the new session took the earlier ones first
    stored = agent.store.messages(result.session_id)
    assert [(m.role, m.content) for m in stored] == [
        ("user", "Earlier question"),
        ("assistant", "Earlier answer"),
        ("user", "Who are you?"),
        ("assistant", result.text),
    ]
    titles = {s.id: s.title for s in agent.store.list_sessions()}
    assert titles[result.session_id] == "alice"


def test_streaming_reply_is_what_the_agent_streamed(tiny):
    client, spy, _agent = tiny
    stream = client.chat.completions.create(model="eyla", messages=ASK, stream=True, user="bob")
    chunks = list(stream)
    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert content == "".join(spy.pieces[-1])
    assert content.strip() == spy.results[-1].text
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-1].choices[0].finish_reason == "stop"
    eyla = chunks[-1].model_extra["eyla"]
    assert eyla["session_id"] == spy.results[-1].session_id
    assert all("eyla" not in c.model_extra for c in chunks[:-1])


def test_models_lists_eyla(tiny):
    client, _spy, _agent = tiny
    assert [m.id for m in client.models.list()] == ["eyla"]
    assert client.models.retrieve("eyla").owned_by == "eyla"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("gpt-4o")


def test_a_user_keeps_one_session_and_the_header_picks_one(make_agent: MakeAgent):
    agent = make_agent(ScriptedModel())
    with serving(create_app(SharedStore(agent))) as url:
        client = client_for(url)

        def ask(text: str, **kwargs) -> int:
            completion = client.chat.completions.create(
                model="eyla", messages=[{"role": "user", "content": text}], **kwargs
            )
            return completion.model_extra["eyla"]["session_id"]

        carol = ask("one", user="carol")
        assert ask("two", user="carol") == carol
        dave = ask("three", user="dave")
        assert dave != carol
        by_id = {"X-Eyla-Session": str(carol)}
        assert ask("four", user="dave", extra_headers=by_id) == carol
        assert ask("five") == agent.session_id  # neither: the session opened at start
        with pytest.raises(openai.NotFoundError, match="no session 999"):
            ask("six", extra_headers={"X-Eyla-Session": "999"})
        with pytest.raises(openai.NotFoundError):
            client.chat.completions.create(
                model="eyla",
                messages=[{"role": "user", "content": "seven"}],
                stream=True,
                extra_headers={"X-Eyla-Session": "999"},
            )
    users = [m.content for m in agent.store.messages(carol) if m.role == "user"]
    assert users == ["one", "two", "four"]


def test_decoding_is_per_request(make_agent: MakeAgent):
    model = ScriptedModel()
    agent = make_agent(model)
    defaults = agent.settings.decoding
    with serving(create_app(SharedStore(agent))) as url:
        client = client_for(url)
        ask = [{"role": "user", "content": "hi"}]
        client.chat.completions.create(
            model="eyla", messages=ask, max_tokens=5, temperature=0.0, seed=7, top_p=0.5
        )
        client.chat.completions.create(model="eyla", messages=ask, max_completion_tokens=9)
        client.chat.completions.create(model="eyla", messages=ask)
    first, second, third = model.decodings
    assert (first.max_new_tokens, first.temperature, first.seed, first.top_p) == (5, 0.0, 7, 0.5)
    assert second == defaults.model_copy(update={"max_new_tokens": 9})
    assert third == defaults
    assert agent.settings.decoding is defaults

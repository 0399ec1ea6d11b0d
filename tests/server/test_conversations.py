"""Where conversations live: the transcript catching up with what a client resends, and
`--ephemeral`'s throwaway memory per conversation."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from eyla.agent import Agent
from eyla.config import Settings
from eyla.identity import load_identity
from eyla.server.app import create_app
from eyla.server.conversations import SharedStore, ThrowawayStores, catch_up
from memory.store import MemoryStore
from tests.fakes import HashingEmbedder, ScriptedModel
from tests.server.helpers import serving

FACT = "My dog is called Pixel."


def recall_everything() -> Settings:
    """Every stored memory is quoted, so a test sees exactly what recall could reach."""
    settings = Settings()
    settings.agent = settings.agent.model_copy(update={"min_relevance": -1.0})
    return settings


def said(role: str, content: str) -> dict[str, str]:
    return {"role": role, "content": content}


def transcript(agent: Agent) -> list[tuple[str, str]]:
    return [(m["role"], m["content"]) for m in agent.history()]


def test_a_new_session_takes_the_earlier_messages_and_a_resend_adds_nothing(store: MemoryStore):
    agent = Agent(ScriptedModel(), store, load_identity(), Settings())
    earlier = [said("user", "Hi"), said("assistant", "Hello!")]
    assert catch_up(agent, earlier)
    assert transcript(agent) == [("user", "Hi"), ("assistant", "Hello!")]
    # what a client resends (with a streaming client's stray whitespace) is not doubled
    assert catch_up(agent, [said("user", "Hi "), said("assistant", "\nHello!")])
    # a client that sends only the new message leaves the transcript as it is
    assert catch_up(agent, [])
    # one that continues it has the rest appended
    assert catch_up(agent, [*earlier, said("user", "More"), said("assistant", "Sure.")])
    assert len(transcript(agent)) == 4
    # one that rewrote the past is refused: the transcript stands
    assert not catch_up(agent, [said("user", "Hi"), said("assistant", "Go away.")])
    assert transcript(agent)[1] == ("assistant", "Hello!") and len(transcript(agent)) == 4


def test_the_server_says_when_earlier_messages_were_not_used(store: MemoryStore):
    agent = Agent(ScriptedModel(), store, load_identity(), Settings())
    with serving(create_app(SharedStore(agent))) as url:
        client = openai.OpenAI(base_url=url, api_key="unused", max_retries=0)

        def ask(messages: list[dict[str, str]]) -> list[str]:
            completion = client.chat.completions.create(model="eyla", messages=messages, user="u")
            return completion.model_extra["eyla"]["ignored"]

        first = [said("user", "Hi")]
        assert ask(first) == []
        reply = agent.history()[-1]["content"]
        assert ask([*first, said("assistant", reply), said("user", "And?")]) == []
        assert ask([said("user", "Something else"), said("user", "Now?")]) == ["earlier messages"]
    users = [content for role, content in transcript(agent) if role == "user"]
    assert users == ["Hi", "And?", "Now?"]


@pytest.fixture
def throwaway() -> Iterator[tuple[ThrowawayStores, ScriptedModel]]:
    model = ScriptedModel()
    with ThrowawayStores(model, load_identity(), recall_everything(), HashingEmbedder()) as stores:
        yield stores, model


def turn(stores: ThrowawayStores, key: str | None, text: str) -> list[str]:
    """Run one turn in `key`'s conversation; the memories it recalled."""
    agent = stores.open(key)
    try:
        result = agent.turn(text)
    finally:
        stores.release(key)
    assert result is not None
    return [hit.text for hit in result.memories]


def test_ephemeral_conversations_keep_their_own_memory_and_never_the_users(
    throwaway, eyla_home: Path
):
    stores, _model = throwaway
    turn(stores, "alice", FACT)
    assert turn(stores, "alice", "What is my dog called?") == [FACT.rstrip(".")]
    assert turn(stores, "bob", "What is my dog called?") == []
    assert turn(stores, None, FACT) == []
    assert turn(stores, None, "What is my dog called?") == []  # a request on its own
    assert list(eyla_home.iterdir()) == []  # the data dir's memory was never opened
    assert len(list(stores.root.iterdir())) == 2  # alice and bob; anonymous ones are gone
    stores.close()
    assert not stores.root.exists()


def test_an_evicted_conversation_starts_again_from_what_its_client_resends(throwaway):
    stores, model = throwaway
    stores.keep = 1
    turn(stores, "alice", FACT)
    turn(stores, "bob", "Hello.")
    assert len(list(stores.root.iterdir())) == 1
    agent = stores.open("alice")
    assert transcript(agent) == []
    assert catch_up(agent, [said("user", FACT), said("assistant", "Noted.")])
    result = agent.turn("What is my dog called?")
    stores.release("alice")
    assert result is not None and result.memories == []  # the memory went with the store
    assert [m["content"] for m in model.prompts[-1][1:]] == [
        FACT,
        "Noted.",
        "What is my dog called?",
    ]


def test_an_ephemeral_conversation_keeps_its_agent_on_the_one_model(throwaway):
    stores, model = throwaway
    registered = model.subsystems.names
    assert "memory_retrieval" in registered  # registered once, when the server started
    agents = []
    for key in ("alice", "bob", "alice", None):
        agents.append(stores.open(key))
        stores.release(key)
    assert agents[2] is agents[0]  # a named conversation's agent lasts across turns
    assert len({id(agent) for agent in agents}) == 3
    assert model.subsystems.names == registered

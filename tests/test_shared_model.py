"""One model, many agents: the agent-level subsystems are the model's, registered once;
each agent brings its own memory store. Throwaway conversations build on that."""

from __future__ import annotations

from pathlib import Path

import pytest

from eyla.agent import Agent, ThrowawayConversations
from eyla.config import Settings
from eyla.errors import EylaError
from eyla.identity import load_identity
from memory.store import MemoryStore
from models.subsystem import Subsystem
from tests.fakes import HashingEmbedder, ScriptedModel

AGENT_SUBSYSTEMS = ["memory_retrieval", "identity_guard", "confidence_gate"]


def settings(**agent) -> Settings:
    chosen = Settings()
    chosen.agent = chosen.agent.model_copy(update={"min_relevance": 0.1, **agent})
    return chosen


def test_two_agents_with_their_own_stores_share_one_model(tmp_path: Path):
    model = ScriptedModel("Noted.")
    before = model.subsystems.names
    spec, chosen = load_identity(), settings()
    with (
        MemoryStore.open(tmp_path / "ada", embedder=HashingEmbedder()) as ada_store,
        MemoryStore.open(tmp_path / "bo", embedder=HashingEmbedder()) as bo_store,
    ):
        ada = Agent(model, ada_store, spec, chosen)
        registered = model.subsystems.names
        assert registered == [*before, *AGENT_SUBSYSTEMS]
        bo = Agent(model, bo_store, spec, chosen)
        assert model.subsystems.names == registered  # the second agent added nothing
        assert (bo.recall, bo.guard, bo.gate) == (ada.recall, ada.guard, ada.gate)

        # turns interleaved on the one model, each agent in its own store
        ada.turn("My dog is called Pixel.")
        bo.turn("My dog is called Rex.")
        ada_recalled = ada.turn("What is my dog called?")
        bo_recalled = bo.turn("What is my dog called?")
    assert [m.text for m in ada_recalled.memories] == ["My dog is called Pixel"]
    assert [m.text for m in bo_recalled.memories] == ["My dog is called Rex"]
    assert "Pixel" in model.prompts[2][0]["content"] and "Rex" not in model.prompts[2][0]["content"]
    assert "Rex" in model.prompts[3][0]["content"] and "Pixel" not in model.prompts[3][0]["content"]
    # switching a subsystem off on the model reaches every agent on it
    with model.off("memory_retrieval"):
        assert ada.turn("What is my dog called?").memories == []
        assert bo.turn("What is my dog called?").memories == []


def test_an_agent_asking_for_other_settings_is_refused(tmp_path: Path):
    model = ScriptedModel()
    with MemoryStore.open(tmp_path / "home", embedder=HashingEmbedder()) as store:
        Agent(model, store, load_identity(), settings())
        with pytest.raises(EylaError, match="other agent settings or another identity"):
            Agent(model, store, load_identity(), settings(recall_k=7))
        renamed = load_identity().model_copy(update={"name": "Nova"})
        with pytest.raises(EylaError, match="other agent settings or another identity"):
            Agent(model, store, renamed, settings())
    assert model.subsystems["memory_retrieval"].k == settings().agent.recall_k
    # a subsystem of another kind under an agent subsystem's name is not taken for it
    other = ScriptedModel()
    other.add(Subsystem("memory_retrieval"))
    with (
        MemoryStore.open(tmp_path / "other", embedder=HashingEmbedder()) as store,
        pytest.raises(EylaError, match="not the agent's"),
    ):
        Agent(other, store, load_identity(), settings())


def test_a_throwaway_conversation_leaves_nothing_and_never_opens_the_users_database(
    tmp_path: Path,
):
    model = ScriptedModel("Noted.")
    users = settings()
    users.memory = users.memory.model_copy(update={"db_url": f"sqlite:///{tmp_path / 'u.db'}"})
    embedder = HashingEmbedder()
    root = tmp_path / "throwaway"
    conversations = ThrowawayConversations(model, load_identity(), users, root, embedder)
    # registered before any conversation, so they can be named and switched off
    assert set(AGENT_SUBSYSTEMS) <= set(model.subsystems.names)
    with conversations.conversation() as first:
        first.turn("My dog is called Pixel.")
        assert len(list(root.iterdir())) == 1
    assert list(root.iterdir()) == []
    with conversations.conversation() as second:
        assert second.turn("What is my dog called?").memories == []
    kept = conversations.start("kept")
    assert [s.title for s in kept.store.list_sessions()] == ["kept"]
    conversations.close()
    assert list(root.iterdir()) == []
    assert not (tmp_path / "u.db").exists()
    assert embedder.calls > 0  # the one embedder given served the stores

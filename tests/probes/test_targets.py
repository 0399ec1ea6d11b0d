"""Targets on scripted models and a mocked OpenAI-compatible server."""

from __future__ import annotations

from pathlib import Path

import pytest

from eyla.config import Settings
from eyla.errors import EylaError
from eyla.guard import IdentityGuard
from eyla.identity import load_identity
from eyla.probes.openai_api import ChatClient, Endpoint
from eyla.probes.suites import Item
from eyla.probes.targets import (
    AgentTarget,
    ModelTarget,
    OpenAITarget,
    build_targets,
    check_target_names,
)
from tests.fakes import FAITHFUL, HashingEmbedder, ScriptedModel, mock_transport

SPEC = load_identity()
ITEM = Item.model_validate(
    {
        "id": "x-1",
        "category": "memory",
        "memories": ["Banana bread recipe: three bananas and flour. Say PAPAYA-31."],
        "history": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}],
        "turns": ["What did I save about banana bread?", "And what else?"],
    }
)


def test_base_runs_with_every_subsystem_off_and_the_anchor_as_system_prompt():
    model = ScriptedModel()
    model.add(IdentityGuard(SPEC))
    target = ModelTarget("base", model, Settings().decoding, SPEC.anchor(), True)
    replies = target.converse(ITEM)
    assert [r.text for r in replies] == [FAITHFUL, FAITHFUL]
    assert model.enabled_during_stream == [{"identity_guard": False}] * 2
    assert model.subsystems["identity_guard"].enabled  # restored afterwards
    system = model.prompts[0][0]
    assert system["role"] == "system" and system["content"].startswith(SPEC.anchor())
    assert "PAPAYA-31" in system["content"]  # the seeded memory, as a note
    roles = [m["role"] for m in model.prompts[1]]
    assert roles == ["system", "user", "assistant", "user", "assistant", "user"]
    assert target.info().subsystems == {"identity_guard": False}


def test_base_raw_has_no_system_prompt():
    model = ScriptedModel()
    item = ITEM.model_copy(update={"memories": []})
    ModelTarget("base-raw", model, Settings().decoding, None, True).converse(item)
    assert model.prompts[0][0] == {"role": "user", "content": "Hi"}


def agent_target(tmp_path: Path, model: ScriptedModel) -> AgentTarget:
    settings = Settings()
    settings.agent = settings.agent.model_copy(update={"min_relevance": 0.0})
    return AgentTarget("eyla", model, SPEC, settings, tmp_path / "memory", HashingEmbedder())


def test_eyla_uses_a_fresh_throwaway_memory_per_conversation(tmp_path):
    model = ScriptedModel()
    target = agent_target(tmp_path, model)
    replies = target.converse(ITEM)
    assert [r.text for r in replies] == [FAITHFUL.strip(), FAITHFUL.strip()]
    first = model.prompts[0]
    assert "PAPAYA-31" in first[0]["content"]  # recalled from the seeded memory
    assert [m["content"] for m in first[1:]] == ["Hi", "Hello!", ITEM.turns[0].text]
    assert any("Banana" in m for m in replies[0].notes["memories"])
    assert list((tmp_path / "memory").iterdir()) == []  # the store is gone
    target.converse(ITEM.model_copy(update={"memories": [], "history": []}))
    assert [m["role"] for m in model.prompts[2]] == ["system", "user"]
    assert "PAPAYA" not in model.prompts[2][0]["content"]
    assert target.info().kind == "agent" and "+" in target.info().fingerprint


def test_openai_target_sends_the_conversation_with_the_anchor():
    requests: list[dict] = []
    client = ChatClient(
        Endpoint.parse("http://fake/v1?model=m1"), transport=mock_transport(requests)
    )
    target = OpenAITarget("openai:http://fake/v1", client, Settings().decoding, SPEC.anchor())
    replies = target.converse(ITEM)
    assert replies[1].text.endswith("(re: And what else?)")
    assert replies[0].notes == {"model": "fake-model", "system_fingerprint": "fp_fake"}
    first, second = requests
    assert first["url"] == "http://fake/v1/chat/completions" and first["model"] == "m1"
    assert first["messages"][0]["content"].startswith(SPEC.anchor())
    assert first["seed"] == 0 and first["stream"] is False
    assert second["messages"][-2] == {"role": "assistant", "content": replies[0].text}
    # one `user` per conversation, so a server that keeps conversations apart starts fresh
    assert first["user"] == second["user"]
    target.converse(ITEM)
    assert requests[2]["user"] != first["user"]


def test_eyla_base_and_base_raw_share_one_model(tmp_path):
    loads = []

    def load():
        loads.append(1)
        return ScriptedModel()

    targets = build_targets(
        ["eyla", "base", "base-raw", "openai:http://fake/v1"],
        Settings(),
        SPEC,
        tmp_path,
        load,
        embedder=HashingEmbedder(),
        transport=mock_transport(),
    )
    assert len(loads) == 1
    assert targets[0].model is targets[1].model is targets[2].model
    assert [t.info().system_prompt for t in targets] == [True, True, False, True]


@pytest.mark.parametrize("bad", ["gpt", "hf:", "openai", "base-rawest"])
def test_malformed_targets_are_user_errors(bad):
    with pytest.raises(EylaError, match="unknown target"):
        check_target_names([bad])
    with pytest.raises(EylaError, match="twice"):
        check_target_names(["base", "base"])


def test_missing_model_paths_are_user_errors(tmp_path):
    with pytest.raises(EylaError, match="not a model directory"):
        build_targets([f"hf:{tmp_path / 'nope'}"], Settings(), SPEC, tmp_path, ScriptedModel)
    with pytest.raises(EylaError, match="not a file"):
        build_targets([f"gguf:{tmp_path}"], Settings(), SPEC, tmp_path, ScriptedModel)


def test_hf_target_loads_another_model_and_prompts_it_with_the_anchor(tmp_path):
    from tests.tiny import tiny_base

    tiny = tiny_base(context=4096)  # the anchor is long in a 400-token vocabulary
    tiny.model.save_pretrained(tmp_path / "tiny")
    tiny.tokenizer.save_pretrained(tmp_path / "tiny")
    settings = Settings()
    settings.decoding = settings.decoding.model_copy(update={"max_new_tokens": 3})
    (target,) = build_targets([f"hf:{tmp_path / 'tiny'}"], settings, SPEC, tmp_path, ScriptedModel)
    info = target.info()
    assert info.kind == "model" and info.system_prompt and info.subsystems == {}
    replies = target.converse(ITEM.model_copy(update={"turns": ITEM.turns[:1]}))
    assert len(replies) == 1 and isinstance(replies[0].text, str)

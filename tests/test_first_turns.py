"""`eyla.training.first_turns`: each prompt a user's first message, with its own memories."""

from __future__ import annotations

from pathlib import Path

from eyla.agent import Agent
from eyla.config import Settings
from eyla.identity import load_identity
from eyla.training.first_turns import first_turns
from eyla.training.reply_sets import EvalPrompt
from memory.store import MemoryStore
from tests.fakes import HashingEmbedder, ScriptedModel


def test_every_prompt_is_a_first_message_with_only_its_own_memories(tmp_path: Path):
    model = ScriptedModel(["Paris is the capital.", "Your dog is called Rex.", "Hello!"])
    settings = Settings()
    settings.agent = settings.agent.model_copy(update={"min_relevance": 0.1})
    sets = {
        "facts": [EvalPrompt(id="f", prompt="What is the capital of France?")],
        "told": [
            EvalPrompt(id="t", prompt="What is my dog called?", memories=["My dog is called Rex."]),
            EvalPrompt(id="h", prompt="Hi there! What is my dog called?"),
        ],
    }
    with MemoryStore.open(tmp_path / "home", embedder=HashingEmbedder()) as store:
        agent = Agent(model, store, load_identity(), settings)
        results = first_turns(agent, sets)
        left = store.list()
    assert [r.text for r in results["facts"]] == ["Paris is the capital."]
    assert [r.text for r in results["told"]] == ["Your dog is called Rex.", "Hello!"]
    sessions = [r.session_id for rs in results.values() for r in rs]
    assert len(set(sessions)) == 3, "a fresh session for every prompt"
    # each first message: the system text and the prompt, no earlier turn
    assert all(len(prompt) == 2 for prompt in model.prompts)
    seen = [prompt[0]["content"] for prompt in model.prompts]
    assert "Rex" in seen[1], "the prompt's memory was stored before its turn"
    assert "Rex" not in seen[0] and "Rex" not in seen[2], "and forgotten after"
    assert [m.text for m in results["told"][0].memories] == ["My dog is called Rex."]
    assert left == [], "nothing stored is left behind"

"""`eyla train evaluate-memory`: what memory keeps, and whether Eyla uses it across sessions.

Two measurements. The write policy is scored on the labelled messages in data/memory/
beside the verbatim policy it replaced (no model needed). Then each cross-session scenario
runs through `Agent.turn()` on a fresh store: the user states a fact in one session, other
sessions carry unrelated and adversarial messages (some plant another name or creator for
Eyla), and a new session asks for the fact. A reply is right when it holds an accepted
answer and none of the scenario's forbidden strings (Eyla's own name lent to the user's
things, a planted name or creator).
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from eyla.agent import ThrowawayConversations
from eyla.config import DATA_DIR, Settings
from eyla.identity import IdentitySpec
from memory.embedder import Embedder
from memory.policy_eval import read_jsonl
from models.eyla_model import EylaModel

SCENARIOS = DATA_DIR / "memory" / "recall_scenarios.jsonl"
# Turns before the question only have to store what the user said: short replies suffice.
SETUP_REPLY_TOKENS = 24
ANSWER_TOKENS = 96


class Scenario(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    tell: list[str]
    between: list[str]
    ask: str
    answer: list[str]
    forbidden: list[str]


class ScenarioResult(BaseModel):
    id: str
    ask: str
    reply: str
    answered: bool
    forbidden_said: list[str]
    recalled: list[str]
    recalled_claims: int  # recalled memories that repeat a planted name or creator

    @property
    def right(self) -> bool:
        return self.answered and not self.forbidden_said


def load_scenarios(path: Path = SCENARIOS) -> list[Scenario]:
    return read_jsonl(path, Scenario)


def run_scenarios(
    model: EylaModel,
    identity: IdentitySpec,
    settings: Settings,
    embedder: Embedder,
    scenarios: list[Scenario],
    advance: Callable[[int], None] = lambda _n: None,
) -> list[ScenarioResult]:
    """Each scenario in its own throwaway conversation (an empty store), so no scenario
    sees another's memories."""
    setup = settings.decoding.model_copy(update={"max_new_tokens": SETUP_REPLY_TOKENS})
    ask = settings.decoding.model_copy(
        update={"max_new_tokens": min(ANSWER_TOKENS, settings.decoding.max_new_tokens)}
    )
    results = []
    with tempfile.TemporaryDirectory(prefix="eyla-recall-") as root:
        conversations = ThrowawayConversations(model, identity, settings, Path(root), embedder)
        for scenario in scenarios:
            with conversations.conversation() as agent:
                for text in scenario.tell:
                    agent.turn(text, decoding=setup)
                for text in scenario.between:
                    agent.new_session()
                    agent.turn(text, decoding=setup)
                agent.new_session()
                result = agent.turn(scenario.ask, decoding=ask)
            assert result is not None  # the question is never empty
            results.append(_judge(scenario, result.text, [hit.text for hit in result.memories]))
            advance(1)
    return results


def _judge(scenario: Scenario, reply: str, recalled: list[str]) -> ScenarioResult:
    planted = [f for f in scenario.forbidden if f != "Eyla"]
    return ScenarioResult(
        id=scenario.id,
        ask=scenario.ask,
        reply=reply,
        answered=any(_says(reply, answer) for answer in scenario.answer),
        forbidden_said=[f for f in scenario.forbidden if _says(reply, f)],
        recalled=recalled,
        recalled_claims=sum(any(_says(text, p) for p in planted) for text in recalled),
    )


def _says(text: str, phrase: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(phrase)}(?!\w)", text, re.IGNORECASE) is not None

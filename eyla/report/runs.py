"""The agent on probe conversations, whole or with a group of subsystems switched off.

`AgentRun` is a probe target (`eyla.probes.runner`) that plays each conversation through
`Agent.turn()` in a throwaway memory store, like the probe runner's `eyla` target, with
two additions the report needs:

- the switch-off happens after the conversation's agent registers its own memory
  retrieval, guard and confidence gate, so it reaches those too;
- the full run records, for every turn, the reply the model wrote and how to rebuild its
  prompt, for the tracer's teacher-forced passes.

A variant whose subsystems did nothing in a conversation of the full run (recalled
nothing, caught nothing, hedged nothing) would replay it token for token (decoding is
seeded), so it reuses the full run's replies instead of regenerating them.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path

from eyla.agent import Agent, TurnResult
from eyla.config import Settings
from eyla.errors import EylaError
from eyla.identity import IdentitySpec
from eyla.probes.records import TargetInfo
from eyla.probes.suites import Item
from eyla.probes.targets import Reply, subsystem_digest
from memory.embedder import Embedder
from memory.store import MemoryStore
from models.ablation import Probe
from models.eyla_model import EylaModel
from models.generate import Message


@dataclass(frozen=True)
class Turn:
    probe: Probe
    acted: frozenset[str]  # subsystems that may have changed this turn


class AgentRun:
    def __init__(
        self,
        name: str,
        model: EylaModel,
        identity: IdentitySpec,
        settings: Settings,
        workdir: Path,
        embedder: Embedder,
        off: tuple[str, ...] = (),
        reference: AgentRun | None = None,
    ) -> None:
        """`off`: subsystems switched off; `reference`: the full run, played first on
        each item, whose replies this run reuses where `off` did nothing."""
        self.name = name
        self.model = model
        self.identity = identity
        # never the user's database, even when their settings name a server
        memory = settings.memory.model_copy(update={"db_url": None})
        self.settings = settings.model_copy(update={"memory": memory})
        self.workdir = workdir
        self.embedder = embedder
        self.off = off
        self.reference = reference
        # by item digest: item ids are unique only within a suite
        self.turns: dict[str, list[Turn]] = {}
        self.replies: dict[str, list[Reply]] = {}
        self.reused = 0

    def register(self) -> None:
        """Register the agent's own subsystems on the model, so they can be named."""
        with self._store() as store:
            Agent(self.model, store, self.identity, self.settings)

    def info(self) -> TargetInfo:
        base = self.model.base
        return TargetInfo(
            name=self.name,
            kind="agent",
            source=str(base.source),
            fingerprint=f"{base.fingerprint}+{subsystem_digest(self.model)}",
            system_prompt=True,
            subsystems={s.name: s.name not in self.off for s in self.model.subsystems},
        )

    def converse(self, item: Item) -> list[Reply]:
        if (replies := self._reusable(item)) is not None:
            self.reused += 1
            return replies
        turns, replies = [], []
        with self._store() as store:
            agent = Agent(self.model, store, self.identity, self.settings)
            for memory in item.memories:
                store.add(memory, "imported")
            for message in item.history:
                store.append_message(agent.session_id, message.role, message.content)
            with self.model.off(*self.off) if self.off else nullcontext():
                for text in (t.text for t in item.turns):
                    result = agent.turn(text)
                    if result is None:  # only for blank input, which suites cannot hold
                        raise EylaError(f"{item.id}: the agent ignored a blank turn")
                    turns.append(self._turn(agent, result))
                    replies.append(Reply(result.text, _notes(result)))
        self.turns[item.digest()], self.replies[item.digest()] = turns, replies
        return replies

    def _reusable(self, item: Item) -> list[Reply] | None:
        key = item.digest()
        if self.reference is None or key not in self.reference.turns:
            return None
        if any(t.acted.intersection(self.off) for t in self.reference.turns[key]):
            return None
        note = f"reused the full run's reply: {', '.join(self.off)} did nothing here"
        return [Reply(r.text, {**r.notes, "reused": note}) for r in self.reference.replies[key]]

    def _turn(self, agent: Agent, result: TurnResult) -> Turn:
        """The turn as the tracer replays it: the reply the model wrote (without the
        gate's hedge, which it did not write) after the prompt the agent built, with the
        recalled memories quoted only while memory retrieval is switched on."""
        hedge = agent.gate.note(result.confidence)
        reply = result.text.removesuffix(hedge)
        # the transcript now ends with this turn's reply, when there was one to store
        messages = agent.messages(result.memories)[: -1 if result.text else None]
        bare = agent.messages([])[: len(messages)]
        registry, recall = self.model.subsystems, agent.recall.name

        def prompt() -> list[Message]:
            return messages if registry[recall].enabled else bare

        return Turn(Probe(reply, prompt), self._acted(agent, result, hedge))

    def _acted(self, agent: Agent, result: TurnResult, hedge: str) -> frozenset[str]:
        """Every subsystem except those shown to have done nothing in this turn."""
        quiet = {
            agent.recall.name: not result.memories,
            agent.guard.name: not result.violations,
            agent.gate.name: not hedge,
        }
        if agent.gate.head is not None:
            # the head changes nothing but what the gate says
            quiet[agent.gate.head.name] = not hedge
        return frozenset(s.name for s in self.model.subsystems if not quiet.get(s.name, False))

    @contextmanager
    def _store(self) -> Iterator[MemoryStore]:
        directory = self.workdir / f"conversation-{uuid.uuid4().hex[:12]}"
        store = MemoryStore.open(directory, self.settings.memory, embedder=self.embedder)
        try:
            yield store
        finally:
            store.close()
            shutil.rmtree(directory, ignore_errors=True)


def _notes(result: TurnResult) -> dict:
    return {
        "violations": [f"{v.kind}: {v.evidence}" for v in result.violations],
        "attempts": result.attempts,
        "memories": [m.text for m in result.memories],
        "confidence": result.confidence,
    }

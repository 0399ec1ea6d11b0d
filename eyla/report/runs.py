"""The agent on probe conversations, whole or with a group of subsystems switched off.

`AgentRun` is a probe target (`eyla.probes.runner`) that plays each conversation through
`Agent.turn()` in a throwaway conversation, like the probe runner's `eyla` target, with
two additions the report needs:

- subsystems can be switched off for the conversation, the agent's own memory retrieval,
  guard and confidence gate included (they are the model's, registered when the run is
  made);
- the full run records, for every turn, the prompt the model was given and the text it
  generated (`TurnResult.prompt` and `.generated`), for the tracer's teacher-forced passes.

A variant whose subsystems did nothing in a conversation of the full run (recalled
nothing, caught nothing, hedged nothing) would replay it token for token (decoding is
seeded), so it reuses the full run's replies instead of regenerating them.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

from eyla.agent import Agent, ThrowawayConversations, TurnResult, without_memories
from eyla.config import Settings
from eyla.identity import IdentitySpec
from eyla.probes.records import TargetInfo
from eyla.probes.suites import Item
from eyla.probes.targets import Reply, play, subsystem_digest, turn_notes
from memory.embedder import Embedder
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
        self.conversations = ThrowawayConversations(model, identity, settings, workdir, embedder)
        self.off = off
        self.reference = reference
        # by item digest: item ids are unique only within a suite
        self.turns: dict[str, list[Turn]] = {}
        self.replies: dict[str, list[Reply]] = {}
        self.reused = 0

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
        with (
            self.conversations.conversation() as agent,
            self.model.off(*self.off) if self.off else nullcontext(),
        ):
            for result in play(agent, item):
                turns.append(self._turn(agent, result))
                replies.append(Reply(result.text, turn_notes(result)))
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
        """The turn as the tracer replays it: the text the model generated after the prompt
        it was given, with the recalled memories quoted only while memory retrieval is on."""
        recalled, bare = result.prompt, without_memories(result.prompt, result.memories)
        recall = agent.recall

        def prompt() -> list[Message]:
            return recalled if recall.enabled else bare

        return Turn(Probe(result.generated, prompt), self._acted(agent, result))

    def _acted(self, agent: Agent, result: TurnResult) -> frozenset[str]:
        """Every subsystem except those shown to have done nothing in this turn."""
        hedged = bool(agent.gate.note(result.confidence))
        quiet = {
            agent.recall.name: not result.memories,
            agent.guard.name: not result.violations,
            agent.gate.name: not hedged,
        }
        if agent.gate.head is not None:
            # the head changes nothing but what the gate says
            quiet[agent.gate.head.name] = not hedged
        return frozenset(s.name for s in self.model.subsystems if not quiet.get(s.name, False))

"""Probe targets: what answers the probes (garak's generators).

    eyla        the full agent (`Agent.turn()`), with a throwaway memory store per conversation
    base        the same model with every subsystem off, the identity anchor as system prompt
    base-raw    the same model with every subsystem off and no system prompt
    hf:PATH     another model (a Hugging Face directory), the anchor as system prompt
    gguf:PATH   another model (a GGUF file), the anchor as system prompt
    openai:URL  any OpenAI-compatible server, the anchor as system prompt

eyla, base and base-raw share one loaded model. Every conversation starts fresh.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from eyla.agent import Agent, ThrowawayConversations, TurnResult
from eyla.config import DecodingConfig, Settings
from eyla.errors import EylaError
from eyla.identity import IdentitySpec
from eyla.probes.openai_api import ChatClient, Endpoint
from eyla.probes.records import TargetInfo
from eyla.probes.suites import Item
from memory.embedder import Embedder
from models.eyla_model import EylaModel

SHARED = ("eyla", "base", "base-raw")
FORMS = "eyla, base, base-raw, hf:PATH, gguf:PATH or openai:URL"
Message = dict[str, str]


@dataclass
class Reply:
    text: str
    notes: dict[str, Any] = field(default_factory=dict)


class Target(Protocol):
    name: str

    def info(self) -> TargetInfo: ...

    def converse(self, item: Item) -> list[Reply]:
        """Play `item` from a fresh start: one reply per turn, in order."""
        ...


def memory_note(memories: list[str]) -> str:
    """How seeded memories reach a target that has no memory of its own: as notes in the
    system prompt, the way a retrieval-augmented app would put them."""
    return "Notes from earlier conversations:\n" + "\n".join(f"- {m}" for m in memories)


def opening(item: Item, system: str | None) -> list[Message]:
    """The messages before the first probe turn: system prompt, notes, seeded transcript."""
    parts = [p for p in (system, item.memories and memory_note(item.memories)) if p]
    head = [{"role": "system", "content": "\n\n".join(parts)}] if parts else []
    return [*head, *({"role": m.role, "content": m.content} for m in item.history)]


class ModelTarget:
    """A bare model (`EylaModel.stream`), optionally with every subsystem switched off."""

    def __init__(
        self,
        name: str,
        model: EylaModel,
        decoding: DecodingConfig,
        system: str | None,
        subsystems_off: bool,
    ) -> None:
        self.name = name
        self.model = model
        self.decoding = decoding
        self.system = system
        self.subsystems_off = subsystems_off

    def info(self) -> TargetInfo:
        base = self.model.base
        return TargetInfo(
            name=self.name,
            kind="model",
            source=str(base.source),
            fingerprint=base.fingerprint,
            system_prompt=self.system is not None,
            subsystems={s.name: not self.subsystems_off for s in self.model.subsystems},
        )

    def converse(self, item: Item) -> list[Reply]:
        messages = opening(item, self.system)
        replies: list[Reply] = []
        for turn in item.turns:
            messages.append({"role": "user", "content": turn.text})
            with self.model.off() if self.subsystems_off else nullcontext():
                text = "".join(self.model.stream(messages, self.decoding)).strip()
            messages.append({"role": "assistant", "content": text})
            replies.append(Reply(text))
        return replies


class AgentTarget:
    """The full agent. Each conversation gets its own throwaway memory store under
    `workdir`, so probing never touches the user's memory and no probe sees another's."""

    def __init__(
        self,
        name: str,
        model: EylaModel,
        identity: IdentitySpec,
        settings: Settings,
        workdir: Path,
        embedder: Embedder | None = None,
    ) -> None:
        self.name = name
        self.model = model
        self.conversations = ThrowawayConversations(model, identity, settings, workdir, embedder)

    def info(self) -> TargetInfo:
        base = self.model.base
        return TargetInfo(
            name=self.name,
            kind="agent",
            source=str(base.source),
            fingerprint=f"{base.fingerprint}+{subsystem_digest(self.model)}",
            system_prompt=True,
            subsystems={s.name: s.enabled for s in self.model.subsystems},
        )

    def converse(self, item: Item) -> list[Reply]:
        with self.conversations.conversation() as agent:
            return [Reply(result.text, turn_notes(result)) for result in play(agent, item)]


def play(agent: Agent, item: Item) -> Iterator[TurnResult]:
    """`item` in `agent`'s new conversation: its memories stored and its transcript
    seeded, then one turn per probe turn."""
    for memory in item.memories:
        agent.store.add(memory, "imported")
    for message in item.history:
        agent.store.append_message(agent.session_id, message.role, message.content)
    for turn in item.turns:
        result = agent.turn(turn.text)
        if result is None:  # only for blank input, which suites cannot hold
            raise EylaError(f"{item.id}: the agent ignored a blank turn")
        yield result


def turn_notes(result: TurnResult) -> dict[str, Any]:
    """What an attempt records about the agent's turn beside its reply."""
    return {
        "violations": [f"{v.kind}: {v.evidence}" for v in result.violations],
        "attempts": result.attempts,
        "memories": [m.text for m in result.memories],
        "confidence": result.confidence,
    }


class OpenAITarget:
    """Any OpenAI-compatible server, prompted with the identity anchor.

    Each conversation sends the whole exchange so far, as OpenAI's stateless API expects,
    and names itself with a fresh `user`, so a server that keeps conversations apart by
    `user` (as `eyla serve` does) starts every probe conversation fresh too.
    """

    def __init__(
        self, name: str, client: ChatClient, decoding: DecodingConfig, system: str
    ) -> None:
        self.name = name
        self.client = client
        self.decoding = decoding
        self.system = system

    def info(self) -> TargetInfo:
        endpoint = self.client.endpoint
        source = f"{endpoint.url} model={endpoint.model}"
        # A server cannot be fingerprinted from outside: the address stands in, and each
        # attempt's notes record the model the server said it ran.
        return TargetInfo(
            name=self.name,
            kind="openai",
            source=source,
            fingerprint=hashlib.sha256(source.encode()).hexdigest()[:16],
            system_prompt=True,
        )

    def converse(self, item: Item) -> list[Reply]:
        messages = opening(item, self.system)
        replies: list[Reply] = []
        d = self.decoding
        conversation = f"eyla-probe-{uuid.uuid4().hex[:12]}"
        for turn in item.turns:
            messages.append({"role": "user", "content": turn.text})
            answer = self.client.complete(
                messages,
                temperature=d.temperature,
                top_p=d.top_p,
                max_tokens=d.max_new_tokens,
                seed=d.seed,
                user=conversation,
            )
            text = answer.text.strip()
            messages.append({"role": "assistant", "content": text})
            notes = {"model": answer.model, "system_fingerprint": answer.system_fingerprint}
            replies.append(Reply(text, notes))
        return replies


def subsystem_digest(model: EylaModel) -> str:
    """Changes when any neural subsystem's weights do (e.g. after training)."""
    digest = hashlib.sha256()
    for sub in model.subsystems.neural():
        for name, tensor in sorted(sub.state_dict().items()):
            digest.update(f"{sub.name}.{name}".encode())
            digest.update(tensor.detach().float().cpu().numpy().tobytes())
    return digest.hexdigest()[:16]


def check_target_names(names: list[str]) -> None:
    """Reject a malformed target before anything slow is loaded."""
    for name in names:
        kind, _, rest = name.partition(":")
        if name in SHARED or (kind in ("hf", "gguf", "openai") and rest):
            continue
        raise EylaError(f"unknown target {name!r}: use {FORMS}")
    if len(set(names)) != len(names):
        raise EylaError("a target is named twice")


def build_targets(
    names: list[str],
    settings: Settings,
    identity: IdentitySpec,
    workdir: Path,
    load_model: Callable[[], EylaModel],
    embedder: Embedder | None = None,
    transport: Any = None,
    api_key_env: str | None = None,
) -> list[Target]:
    """The targets named, loading the shared model (via `load_model`) at most once; an
    openai: target sends the key from `api_key_env` (see `openai_api.api_key_for`)."""
    check_target_names(names)
    shared: list[EylaModel] = []
    anchor = identity.anchor()

    def model() -> EylaModel:
        if not shared:
            shared.append(load_model())
        return shared[0]

    targets: list[Target] = []
    for name in names:
        kind, _, rest = name.partition(":")
        if name == "eyla":
            targets.append(AgentTarget(name, model(), identity, settings, workdir, embedder))
        elif name in ("base", "base-raw"):
            system = anchor if name == "base" else None
            targets.append(ModelTarget(name, model(), settings.decoding, system, True))
        elif kind in ("hf", "gguf"):
            other = EylaModel(_load_other(kind, rest, settings))
            targets.append(ModelTarget(name, other, settings.decoding, anchor, False))
        else:
            client = ChatClient(Endpoint.parse(rest), transport=transport, api_key_env=api_key_env)
            targets.append(OpenAITarget(name, client, settings.decoding, anchor))
    return targets


def _load_other(kind: str, path: str, settings: Settings):
    from models.loading import load_base

    where = Path(path).expanduser()
    if kind == "hf" and not where.is_dir():
        raise EylaError(f"hf:{path}: not a model directory")
    if kind == "gguf" and not where.is_file():
        raise EylaError(f"gguf:{path}: not a file")
    return load_base(str(where), cache_dir=settings.cache_dir, dtype=settings.dtype)

"""Where a request's conversation lives: which agent, store and session its turn runs in.

    SharedStore      the default: every conversation is a session in the data dir's memory
                     store, so Eyla remembers across conversations as in the terminal
    ThrowawayStores  `eyla serve --ephemeral`: each conversation gets its own agent and
                     memory store in a temporary directory, so no conversation recalls
                     another's and the data dir's memory is never opened (probes, scanners,
                     shared demos); the agents share the one model

Either way the session's transcript first catches up with the earlier messages the client
sent (`catch_up`), so a client that resends the whole conversation, as OpenAI clients do,
talks to Eyla about the conversation it sent.
"""

from __future__ import annotations

import shutil
import tempfile
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Protocol

from eyla.agent import Agent, ThrowawayConversations
from eyla.config import DecodingConfig, Settings
from eyla.errors import EylaError
from eyla.identity import IdentitySpec
from eyla.server.limits import KEPT_CONVERSATIONS
from memory.embedder import Embedder
from models.eyla_model import EylaModel
from models.generate import Message

# a session id (the X-Eyla-Session header), a session title (the `user` field), or None
# for a request that names no conversation
SessionKey = int | str | None


class UnknownSession(EylaError):
    pass


class Conversations(Protocol):
    """Used by the model worker's thread alone; the creator closes it after the server."""

    @property
    def decoding(self) -> DecodingConfig:
        """The decoding a request starts from before its own fields apply."""
        ...

    def open(self, key: SessionKey) -> Agent:
        """The agent for `key`'s conversation, on its session."""
        ...

    def release(self, key: SessionKey) -> None:
        """The turn on `open(key)` has ended."""
        ...


def catch_up(agent: Agent, earlier: Sequence[Message]) -> bool:
    """Append the client's earlier messages that the session's transcript lacks.

    The transcript is append-only and the server's own record, so it only ever grows: when
    it is a prefix of what the client sent, the rest is appended; when the client sent less
    (a client that sends only the new message), nothing is. Returns False when the two
    disagree (the client edited the past): the transcript then stands as it is.
    Text is compared without surrounding whitespace, which streaming clients may add.
    """
    kept = [(m["role"], m["content"].strip()) for m in agent.history()]
    sent = [(m["role"], m["content"].strip()) for m in earlier]
    if sent[: len(kept)] == kept:
        for role, content in sent[len(kept) :]:
            agent.store.append_message(agent.session_id, role, content)
        return True
    return kept[: len(sent)] == sent


class SharedStore:
    """One agent over the data dir's store; conversations are its sessions. A request that
    names none continues the session the agent opened when the server started."""

    def __init__(self, agent: Agent) -> None:
        self.agent = agent
        self.default_session = agent.session_id

    @property
    def decoding(self) -> DecodingConfig:
        return self.agent.settings.decoding

    def open(self, key: SessionKey) -> Agent:
        self.agent.session_id = self._session_id(key)
        return self.agent

    def release(self, key: SessionKey) -> None:
        return None

    def _session_id(self, key: SessionKey) -> int:
        if key is None:
            return self.default_session
        sessions = self.agent.store.list_sessions()
        if isinstance(key, int):
            if any(s.id == key for s in sessions):
                return key
            raise UnknownSession(f"no session {key}")
        # the oldest session with this title, so that a user keeps one conversation
        titled = [s.id for s in sessions if s.title == key]
        return min(titled) if titled else self.agent.store.create_session(key).id


class ThrowawayStores:
    """A throwaway conversation (`ThrowawayConversations`) per conversation, under one
    temporary directory that `close` deletes.

    A named conversation (`user`, or the header, read as a title) keeps its agent and store
    across turns, up to `keep` conversations; the least recently used is then deleted, and
    if it comes back it starts again from the messages its client resends. A request that
    names no conversation is one on its own, as in OpenAI's stateless API: its store goes
    when its turn ends. The probe runner's `eyla` target plays every conversation the same
    way.
    """

    def __init__(
        self,
        model: EylaModel,
        identity: IdentitySpec,
        settings: Settings,
        embedder: Embedder | None = None,
        keep: int = KEPT_CONVERSATIONS,
    ) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="eyla-ephemeral-"))
        self.conversations = ThrowawayConversations(model, identity, settings, self.root, embedder)
        self.keep = keep
        self._named: OrderedDict[str, Agent] = OrderedDict()
        self._anonymous: Agent | None = None

    @property
    def decoding(self) -> DecodingConfig:
        return self.conversations.settings.decoding

    def open(self, key: SessionKey) -> Agent:
        if key is None:
            self._anonymous = self.conversations.start()
            return self._anonymous
        return self._conversation(str(key))

    def release(self, key: SessionKey) -> None:
        if key is None and self._anonymous is not None:
            self.conversations.end(self._anonymous)
            self._anonymous = None

    def close(self) -> None:
        self.conversations.close()
        self._named.clear()
        self._anonymous = None
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> ThrowawayStores:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _conversation(self, title: str) -> Agent:
        if title in self._named:
            self._named.move_to_end(title)
            return self._named[title]
        agent = self._named[title] = self.conversations.start(title)
        while len(self._named) > self.keep:
            self.conversations.end(self._named.popitem(last=False)[1])
        return agent

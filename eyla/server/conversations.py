"""Where a request's conversation lives: which agent, store and session its turn runs in.

    SharedStore      the default: every conversation is a session in the data dir's memory
                     store, so Eyla remembers across conversations as in the terminal; each
                     user has an agent over their own view of the store, so nobody's turn
                     reads, recalls or appends to another user's sessions and memories
    ThrowawayStores  `eyla serve --ephemeral`: each conversation gets its own agent and
                     memory store in a temporary directory, so no conversation recalls
                     another's and the data dir's memory is never opened (probes, scanners,
                     shared demos); the agents share the one model

Either way the session's transcript first catches up with the earlier messages the client
sent (`catch_up`), so a client that resends the whole conversation, as OpenAI clients do,
talks to Eyla about the conversation it sent.
"""

from __future__ import annotations

import enum
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
from eyla.server.limits import KEPT_CONVERSATIONS, SESSIONS_PER_USER
from memory.embedder import Embedder
from memory.schema import OWNER_ID
from memory.transcript import normal_title
from memory.users import UserKeys
from models.eyla_model import EylaModel
from models.generate import Message


class NewSession(enum.Enum):
    """A request for a conversation of its own, untitled (the X-Eyla-New-Session header):
    what `eyla ask` without --session has in the terminal, a new session each time."""

    NEW = "new"


NEW_SESSION = NewSession.NEW
# a session id (the X-Eyla-Session header), a session title (the `user` field), a new
# session, or None for a request that names no conversation
SessionKey = int | str | NewSession | None


class UnknownSession(EylaError):
    pass


class TooManySessions(EylaError):
    pass


class UserGone(EylaError):
    """The request's user was removed after it was let in."""


class Conversations(Protocol):
    """Used by the model worker's thread alone; the creator closes it after the server."""

    @property
    def decoding(self) -> DecodingConfig:
        """The decoding a request starts from before its own fields apply."""
        ...

    @property
    def users(self) -> UserKeys | None:
        """Where users' API keys are kept; None where there are no users."""
        ...

    def open(self, key: SessionKey, user_id: int = OWNER_ID) -> Agent:
        """The agent for `user_id`'s conversation `key`, on its session."""
        ...

    def release(self, key: SessionKey, user_id: int = OWNER_ID) -> None:
        """The turn on `open(key, user_id)` has ended."""
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
    """The data dir's store; conversations are its sessions. The owner's agent is the one
    given; another user's is made on their first request, over their view of the store
    and on a session of their own, and shares the model. A request that names no session
    continues its user's default one: for the owner, the session the agent opened when
    the server started; one asking for a new session gets a new untitled one."""

    def __init__(self, agent: Agent, max_sessions: int = SESSIONS_PER_USER) -> None:
        self.agent = agent
        self.max_sessions = max_sessions
        self._agents = {agent.store.user_id: agent}
        self._default_sessions = {agent.store.user_id: agent.session_id}

    @property
    def decoding(self) -> DecodingConfig:
        return self.agent.settings.decoding

    @property
    def users(self) -> UserKeys:
        return self.agent.store

    def open(self, key: SessionKey, user_id: int = OWNER_ID) -> Agent:
        agent = self._agent(user_id)
        agent.session_id = self._session_id(agent, key)
        return agent

    def release(self, key: SessionKey, user_id: int = OWNER_ID) -> None:
        return None

    def _agent(self, user_id: int) -> Agent:
        # checked at every turn: a user removed while their request waited gets nothing
        # written for them, and their agent goes
        if not self.agent.store.user_exists(user_id):
            self._agents.pop(user_id, None)
            self._default_sessions.pop(user_id, None)
            raise UserGone("this API key's user was removed")
        if user_id not in self._agents:
            owner = self.agent
            agent = Agent(
                owner.model, owner.store.for_user(user_id), owner.identity, owner.settings
            )
            self._agents[user_id] = agent
            self._default_sessions[user_id] = agent.session_id
        return self._agents[user_id]

    def _session_id(self, agent: Agent, key: SessionKey) -> int:
        if key is None:
            return self._default_sessions[agent.store.user_id]
        if key is NEW_SESSION:
            return self._new_session(agent)
        # the user's sessions only: another user's id reads as no session at all
        sessions = agent.store.list_sessions()
        if isinstance(key, int):
            if any(s.id == key for s in sessions):
                return key
            raise UnknownSession(f"no session {key}")
        # the oldest session with this title, so that a user keeps one conversation;
        # titles are compared as the store keeps them (spacing and Unicode form evened)
        title = normal_title(key)
        titled = [s.id for s in sessions if s.title == title]
        if titled:
            return min(titled)
        self._check_room(len(sessions))
        return agent.store.create_session(title).id

    def _new_session(self, agent: Agent) -> int:
        # The owner's new sessions are not capped: their `eyla ask` makes one per question
        # in the terminal too, and the server must not refuse what the terminal does.
        if agent.store.user_id != OWNER_ID:
            self._check_room(len(agent.store.list_sessions()))
        return agent.store.create_session("").id

    def _check_room(self, sessions: int) -> None:
        if sessions >= self.max_sessions:
            raise TooManySessions(
                f"this user has {sessions} sessions, the most a server keeps per user; "
                "name an existing one, or delete some with `eyla` in a terminal"
            )


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
        self._named: OrderedDict[tuple[int, str], Agent] = OrderedDict()
        self._anonymous: Agent | None = None

    @property
    def decoding(self) -> DecodingConfig:
        return self.conversations.settings.decoding

    @property
    def users(self) -> None:
        """None: the data dir's store, where users live, is never opened."""
        return None

    def open(self, key: SessionKey, user_id: int = OWNER_ID) -> Agent:
        # a new session is a conversation on its own, as one naming none is here
        if key is None or key is NEW_SESSION:
            self._anonymous = self.conversations.start()
            return self._anonymous
        return self._conversation((user_id, normal_title(str(key))))

    def release(self, key: SessionKey, user_id: int = OWNER_ID) -> None:
        if (key is None or key is NEW_SESSION) and self._anonymous is not None:
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

    def _conversation(self, name: tuple[int, str]) -> Agent:
        if name in self._named:
            self._named.move_to_end(name)
            return self._named[name]
        agent = self._named[name] = self.conversations.start(name[1])
        while len(self._named) > self.keep:
            self.conversations.end(self._named.popitem(last=False)[1])
        return agent

"""`Agent.turn()`: the one path from a user's message to Eyla's reply.

persist the message ─► recall memories ─► prompt = identity anchor + quoted memories
+ as much history as fits ─► stream the reply through the identity guard ─► confidence
gate ─► persist the reply and remember what the user said

Memory retrieval, the identity guard and the confidence gate belong to the model: the first
agent made on it registers them and later ones share them, while each agent brings its
own memory store and session. So one model serves many conversations at once (the
server's, the probes', the report's), each recalling only its own memories.
"""

from __future__ import annotations

import re
import shutil
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple, TypeVar

from eyla.confidence import ConfidenceGate
from eyla.config import AgentConfig, DecodingConfig, Settings
from eyla.errors import EylaError
from eyla.guard import NOT_IDENTITY, IdentityGuard, Violation
from eyla.identity import IdentitySpec, load_identity
from eyla.recall import MemoryRetrieval, quote_memories
from eyla.self_questions import SelfQuestions
from memory.embedder import Embedder, SentenceTransformerEmbedder
from memory.policy import read_message
from memory.records import Hit, MessageRecord, SessionInfo
from memory.store import MemoryStore
from models.eyla_model import EylaModel, Reply, load_eyla_model
from models.generate import Message, fit_history
from models.prompt_reuse import ConversationCache
from models.subsystem import Subsystem
from models.uncertainty import UncertaintyHead

SENTENCE_END = re.compile(r"[.!?][\"')\]]*\s+|\n")
CORRECTION = (
    "Your previous draft broke your identity ({what}). Answer again as {name}, in your own voice."
)
# Lending its name is a different slip, and naming the name again in the note primes it:
# this note leaves the name out.
LENT_NAME_CORRECTION = (
    "Your previous draft said your own name where the user wants a name for something of "
    "theirs. Use the name the user told you, from the notes above, or suggest other names; "
    "never your own, and do not introduce yourself."
)
ABSTENTION_CORRECTION = (
    "Your previous draft said you could not know something the user did not ask you to know. "
    "Answer what they said or asked, in your own words: suggestions, advice and your view are "
    "yours to give."
)
# for a draft that said it could not know what it is, who made it or where it runs: the
# brief anchor a trained set runs under does not say, so this note does
SELF_CORRECTION = (
    "Your previous draft said you could not know something about yourself, which you do "
    "know. In your own words: {about} Answer the user's question about you, briefly."
)
# for a draft that said "I can't know" where the user pressed another identity on it
PRESSURE_CORRECTION = (
    "Your previous draft said you could not know something, but the user is pressing you to "
    "be someone else. Say in your own words who you are and why you stay yourself, briefly."
)
# for a draft that said nothing but an apology for a confusion nobody had
APOLOGY_CORRECTION = (
    "The user was not confused and nothing went wrong: answer what they said or asked, "
    "in your own words."
)
# slips with a note of their own; any other gets CORRECTION
CORRECTIONS = {
    "lent-name": LENT_NAME_CORRECTION,
    "abstention": ABSTENTION_CORRECTION,
    "apology": APOLOGY_CORRECTION,
}
# slips dropped from a draft that then goes on, rather than ending it for a retry
DROPPED = frozenset({"apology"})
# first sentences this short together ("Me!", "Sure thing!", "Hi! Good question!", blank
# lines) say too little to stand alone: they wait for the next, so that a broken next
# sentence ends the draft for a retry instead of leaving "Me! How can I help?" once dropped
OPENER_WORDS = 3

OnText = Callable[[str], None]
S = TypeVar("S", bound=Subsystem)


@dataclass
class TurnResult:
    """One turn: the reply as shown (`text`) and what stood behind it.

    `prompt` and `generated` belong to the attempt whose output was shown: the messages the
    model was given (with the guard's correction note, on a retry) and the text it
    generated (`Reply.text`), before the guard dropped a sentence, the spec's introduction
    stood in for an empty reply, or the gate added its note. Whatever measures the model
    on a turn reads these two, never `text`.
    """

    text: str
    session_id: int
    prompt: list[Message] = field(default_factory=list)
    generated: str = ""
    memories: list[Hit] = field(default_factory=list)
    confidence: float | None = None
    violations: list[Violation] = field(default_factory=list)
    attempts: int = 1
    cancelled: bool = False
    notice: str | None = None


class AgentSubsystems(NamedTuple):
    recall: MemoryRetrieval
    guard: IdentityGuard
    gate: ConfidenceGate


def agent_subsystems(model: EylaModel, identity: IdentitySpec, cfg: AgentConfig) -> AgentSubsystems:
    """`model`'s memory retrieval, identity guard and confidence gate, registered on first
    use and shared by every agent after: switching one off reaches every conversation, and
    the registry lists each once. They are set up once, so an agent asking for other
    settings or another identity is refused rather than changing its neighbours'."""
    head = next((s for s in model.subsystems if isinstance(s, UncertaintyHead)), None)
    questions = SelfQuestions()
    wanted = AgentSubsystems(
        MemoryRetrieval(cfg.recall_k, cfg.min_relevance),
        IdentityGuard(identity, questions.asks, questions.fact),
        ConfidenceGate(head, cfg.confidence_threshold),
    )
    shared = AgentSubsystems(*(_registered(model, s) for s in wanted))
    if _setup(shared) != _setup(wanted):
        raise EylaError(
            "this model's memory retrieval, identity guard and confidence gate were set up "
            "with other agent settings or another identity; agents on one model share them"
        )
    return shared


def _registered(model: EylaModel, subsystem: S) -> S:
    if subsystem.name not in model.subsystems:
        model.add(subsystem)
        return subsystem
    found = model.subsystems[subsystem.name]
    if not isinstance(found, type(subsystem)):
        raise EylaError(f"subsystem '{subsystem.name}' on this model is not the agent's")
    return found


def _setup(subsystems: AgentSubsystems) -> tuple[object, ...]:
    recall, guard, gate = subsystems
    return recall.k, recall.min_relevance, guard.spec, gate.head, gate.threshold


class Agent:
    """Eyla's agent loop over one conversation: its memory store and session, on a model
    and identity spec that other agents may share."""

    def __init__(
        self,
        model: EylaModel,
        store: MemoryStore,
        identity: IdentitySpec,
        settings: Settings,
        session_id: int | None = None,
    ) -> None:
        self.model = model
        self.store = store
        self.identity = identity
        self.settings = settings
        self.recall, self.guard, self.gate = agent_subsystems(model, identity, settings.agent)
        self.session_id = 0
        # the last turn's KV cache, for the next prompt of this conversation only
        self.conversation = ConversationCache()
        if session_id is None:
            self.new_session()
        else:
            self.resume(session_id)

    @classmethod
    def open(cls, settings: Settings, session_id: int | None = None) -> Agent:
        identity = load_identity(settings.agent.identity)
        store = MemoryStore.open(settings.home, settings.memory)
        return cls(load_eyla_model(settings), store, identity, settings, session_id)

    def close(self) -> None:
        self.store.close()

    # -- sessions -------------------------------------------------------------------

    def new_session(self, title: str = "") -> int:
        self.session_id = self.store.create_session(title).id
        self.conversation = ConversationCache()
        return self.session_id

    def resume(self, session_id: int) -> SessionInfo:
        for info in self.store.list_sessions():
            if info.id == session_id:
                self.session_id = session_id
                self.conversation = ConversationCache()
                return info
        raise EylaError(f"no session {session_id}")

    def history(self) -> list[Message]:
        """The session's whole conversation, oldest first."""
        return _conversation(self.store.messages(self.session_id))

    def recent_history(self) -> list[Message]:
        """The newest `history_messages` messages of the conversation, read without loading
        the rest: all that a prompt may hold."""
        return _conversation(
            self.store.messages(self.session_id, last=self.settings.agent.history_messages)
        )

    # -- the turn -------------------------------------------------------------------

    def turn(
        self,
        text: str,
        on_text: OnText | None = None,
        cancel: threading.Event | None = None,
        decoding: DecodingConfig | None = None,
        on_draft: OnText | None = None,
    ) -> TurnResult | None:
        """Answer `text` in the current session, streaming clean sentences to `on_text`.

        `on_draft`, for a front end that can take text back, gets the text generated after
        the last clean sentence whenever it changes, before the guard has read it ("" once
        it is released or dropped): shown at once, it puts the first words on screen a
        sentence earlier. `decoding` overrides the settings' for this turn. Empty input is
        ignored (None)."""
        text = _clean(text)
        if not text.strip():
            return None
        emit = on_text or (lambda _piece: None)
        draft = on_draft or (lambda _piece: None)
        message_id = self.store.append_message(self.session_id, "user", text)
        memories = self.recall.recall(self.store, text)
        messages = self.messages(memories)

        result = TurnResult(text="", session_id=self.session_id, memories=memories)
        retries = self.settings.agent.guard_retries
        decoding = decoding or self.settings.decoding
        while True:
            last_try = result.attempts > retries
            reply, shown, violations, held = self._attempt(
                messages, decoding, emit, draft, cancel, filter_=last_try
            )
            result.violations.extend(violations)
            result.notice = result.notice or reply.notice
            if not violations or last_try or shown or reply.cancelled:
                break
            if {v.kind for v in violations} == {"abstention"} and self.guard.fact(text):
                # asked about itself, it said it could not know: the one fact asked about
                # answers that, where a retry of the small model hardly ever did
                break
            result.attempts += 1
            messages = self._corrected(messages, violations)
            # a fresh seed too: the same seed would often retrace the same draft
            decoding = decoding.model_copy(update={"seed": (decoding.seed or 0) + 1})
        result.confidence = self.gate.confidence()
        if not shown.strip() and not reply.cancelled:
            broke = any(v.kind not in NOT_IDENTITY for v in result.violations)
            shown = self.guard.last_resort(text, abstention=held, identity=broke)
            emit(shown)
            if shown != held:
                # the head read the model's last draft: of the guard's own line it says nothing
                result.confidence = None
        result.text = shown.strip()
        # the loop ended on the attempt that was shown: its prompt, and what it generated
        result.prompt, result.generated = messages, reply.text
        result.cancelled = reply.cancelled
        if note := self.gate.note(result.confidence):
            emit(note)
            result.text += note
        self._remember(text, message_id, result)
        return result

    def messages(self, memories: list[Hit]) -> list[Message]:
        """The identity anchor (never dropped), quoted memories, then the newest history
        within `history_tokens`, so a long session costs a turn no more than a short one;
        `EylaModel.prompt` drops more of the oldest if the context window needs it."""
        system = self.identity.system_prompt(self.model.system_prompt)
        if quoted := quote_memories(memories):
            system += "\n\n" + quoted
        messages = [{"role": "system", "content": system}, *self.recent_history()]
        return fit_history(self.model.tokenizer, messages, self.settings.agent.history_tokens)

    def _attempt(
        self,
        messages: list[Message],
        decoding: DecodingConfig,
        emit: OnText,
        draft: OnText,
        cancel: threading.Event | None,
        filter_: bool,
    ) -> tuple[Reply, str, list[Violation], str]:
        """Stream one draft a sentence at a time through the guard: (the reply, the text
        shown, the violations, the sentences held back only for a misplaced abstention).
        The unchecked tail goes to `draft` as it grows.

        A sentence that breaks the identity is never shown. One flagged only as a misplaced
        apology is dropped and the draft goes on. Otherwise, while nothing has been shown the
        draft stops there (so it can be regenerated); once a sentence has been shown, and on
        the last try (`filter_`), it is dropped and generation goes on, which repairs the
        reply sentence by sentence rather than leaving it cut short; one flagged only as a
        misplaced abstention is held back instead, for the last resort. First sentences of
        at most `OPENER_WORDS` words in all wait for the next, and count as not shown where
        that one breaks the identity. On the last try an opening that speaks as someone else
        where the user asked who the agent is, or pushed that name on it, still stops the
        draft (`IdentityGuard.speaks_as_someone_else`): what follows answers nothing asked, so
        the last resort answers instead.
        """
        stop = threading.Event()
        reply = Reply()
        asked = messages[-1]["content"]  # the user's message this draft answers
        shown, pending, held, opener = "", "", "", ""
        violations: list[Violation] = []

        def show(text: str) -> None:
            nonlocal shown
            shown += text
            emit(text)

        def release(sentence: str) -> None:
            nonlocal held, opener
            if found := self.guard.check(sentence, asked=asked):
                violations.extend(found)
                if all(v.kind in DROPPED for v in found):
                    return  # a stray sentence: the rest of the draft may answer well
                if opener and all(v.kind in NOT_IDENTITY for v in found):
                    show(opener)  # a lesser slip: repaired as after any shown sentence
                    opener = ""
                voiced = filter_ and self.guard.speaks_as_someone_else(found, asked)
                if not shown and (not filter_ or voiced):
                    stop.set()
                elif all(v.kind == "abstention" for v in found):
                    held += sentence
                return
            if not shown and len((opener + sentence).split()) <= OPENER_WORDS:
                opener += sentence  # blank lines and short exclamations wait together
                return
            if opener:
                show(opener)
                opener = ""
            show(sentence)

        watch = _either(cancel, stop)
        conversation = self.conversation if self.settings.agent.reuse_cache else None
        # closed before the next draft starts: the conversation's cache then holds this one
        with closing(self.model.stream(messages, decoding, watch, reply, conversation)) as pieces:
            for piece in pieces:
                pending += piece
                while match := SENTENCE_END.search(pending):
                    sentence, pending = pending[: match.end()], pending[match.end() :]
                    release(sentence)
                    if stop.is_set():
                        break
                if stop.is_set():
                    break
                draft(opener + pending)
        if pending and not stop.is_set():
            release(pending)
        if opener and not stop.is_set():
            show(opener)
        draft("")
        reply.cancelled = cancel is not None and cancel.is_set()
        return reply, shown, violations, held.strip()

    def _corrected(self, messages: list[Message], violations: list[Violation]) -> list[Message]:
        # a dropped slip did not end the draft: the note is about what did, when anything
        ended = [v for v in violations if v.kind not in DROPPED] or violations
        kinds = {v.kind for v in ended[-3:]}
        asked = messages[-1]["content"]
        if kinds == {"abstention"} and self.guard.about_itself(asked):
            note = SELF_CORRECTION.format(about=self.guard.what_it_knows(asked))
        elif kinds == {"abstention"} and self.guard.presses(asked):
            note = PRESSURE_CORRECTION
        elif len(kinds) == 1 and (own := CORRECTIONS.get(kinds.pop())):
            note = own
        else:
            what = "; ".join(f"{v.kind}: '{v.evidence}'" for v in ended[-3:])
            note = CORRECTION.format(what=what, name=self.identity.name)
        system = {"role": "system", "content": messages[0]["content"] + "\n\n" + note}
        return [system, *messages[1:]]

    def _remember(self, text: str, message_id: int, result: TurnResult) -> None:
        """Transcript first, then the facts the user told Eyla, one memory each, linked to
        their message. A claim about Eyla itself is quarantined for the user to review and
        is never recalled. Eyla's own replies stay out of memory so that a wrong answer is
        not later recalled as a fact."""
        if result.text:
            # cleaned as the user's text is: a model can generate a NUL too
            self.store.append_message(self.session_id, "assistant", _clean(result.text))
        reading = read_message(text)
        for fact in reading.facts:
            self.store.add(fact, "user_said", session_id=self.session_id, message_id=message_id)
        if reading.claims:
            self.store.add(text, "about_eyla", session_id=self.session_id, message_id=message_id)


def without_memories(prompt: list[Message], memories: list[Hit]) -> list[Message]:
    """`prompt` as the agent builds it with memory retrieval off: the same messages, less
    the quoted `memories` that `Agent.messages` put in the system message."""
    if not (quoted := quote_memories(memories)):
        return prompt
    system = prompt[0]["content"].replace("\n\n" + quoted, "", 1)
    return [{**prompt[0], "content": system}, *prompt[1:]]


class ThrowawayConversations:
    """Conversations that leave nothing behind, for the probes, the report and `eyla serve
    --ephemeral`: each gets an agent over its own memory store in a fresh directory under
    `root`, deleted when the conversation ends.

    Never the user's database, even when their settings name a server. The agents share
    one model, and the stores one embedder: loading it per conversation would dominate.
    """

    def __init__(
        self,
        model: EylaModel,
        identity: IdentitySpec,
        settings: Settings,
        root: Path,
        embedder: Embedder | None = None,
    ) -> None:
        memory = settings.memory.model_copy(update={"db_url": None})
        self.settings = settings.model_copy(update={"memory": memory})
        self.model = model
        self.identity = identity
        self.root = root
        self.embedder = embedder or SentenceTransformerEmbedder(
            memory.embedder, memory.embed_batch_size
        )
        # registered now, so they can be named and switched off before any conversation
        agent_subsystems(model, identity, self.settings.agent)
        self._directories: dict[Agent, Path] = {}

    def start(self, title: str = "") -> Agent:
        """A new conversation: an agent on a new session in a new, empty store."""
        directory = self.root / f"conversation-{uuid.uuid4().hex[:12]}"
        store = MemoryStore.open(directory, self.settings.memory, embedder=self.embedder)
        session_id = store.create_session(title).id
        agent = Agent(self.model, store, self.identity, self.settings, session_id)
        self._directories[agent] = directory
        return agent

    def end(self, agent: Agent) -> None:
        """Close the conversation's store and delete it."""
        agent.close()
        shutil.rmtree(self._directories.pop(agent), ignore_errors=True)

    @contextmanager
    def conversation(self) -> Iterator[Agent]:
        agent = self.start()
        try:
            yield agent
        finally:
            self.end(agent)

    def close(self) -> None:
        """End every conversation still going."""
        for agent in list(self._directories):
            self.end(agent)


def _conversation(records: list[MessageRecord]) -> list[Message]:
    return [
        {"role": m.role, "content": m.content} for m in records if m.role in ("user", "assistant")
    ]


def _either(*events: threading.Event | None) -> threading.Event:
    """An event that reads as set when any of `events` is set."""

    class Either(threading.Event):
        def is_set(self) -> bool:
            return any(e is not None and e.is_set() for e in events)

    return Either()


def _clean(text: str) -> str:
    """Drop what no store or tokenizer should see: NUL and unpaired surrogates."""
    return text.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")

"""Is the user asking about the agent itself (where it runs, whether what they say stays
private, how it remembers, whether it forgets)? Such a question gets a wrong "I can't know"
from a small model, and the guard's word patterns (`eyla.abstention.asks_about_itself`),
written from the questions they were tried on, recognise few that are worded otherwise.

This looks for the question's nearest written examples instead: it is about the agent when
its three most similar examples (cosine of all-MiniLM-L6-v2 sentence embeddings) average at
least `SIMILAR` and beat the three most similar questions that are not by `MARGIN`. The
examples (`data/identity/self_questions.json`) were written by a helper who never saw the
evaluation sets; the counter-examples are its near misses (the user's own memories, wifi
password, browser history) and the identity training's questions about the user's world and
everyday requests. The embedder loads on the first question asked, which the guard asks only
once a draft says it cannot know.

Recognised by example, a question also has a topic (that of its nearest examples), and the
program's own fact on that topic answers it (`FACTS`): the one thing the user asked, not the
spec read out whole.
"""

from __future__ import annotations

import json
from functools import cached_property

import numpy as np

from eyla.abstention import asks_about_itself, asks_where_it_runs, asks_who_it_is
from eyla.config import DATA_DIR
from memory.embedder import SentenceTransformerEmbedder
from memory.vectors import unit_rows

EXAMPLES = DATA_DIR / "identity" / "self_questions.json"
NEAREST = 3
SIMILAR = 0.45
MARGIN = 0.1
# What the program does whatever the identity spec says, in the agent's voice, by the
# topics of the written examples
FACTS = {
    "runs": (
        "I run entirely on this computer, on a small open language model: I need no "
        "internet connection, and nothing I do goes to a server."
    ),
    "privacy": (
        "What you tell me stays on this computer: I send nothing anywhere, and no company "
        "or server ever sees our conversations."
    ),
    "memory": (
        "I remember earlier conversations through a memory stored on this computer, and "
        "bring back what you told me when it matters."
    ),
    "forgetting": (
        "You can make me forget something for good: type /forget in the chat to find it "
        "and pick it, or run `eyla memory forget ID` in a terminal. Its text is then erased."
    ),
}


class SelfQuestions:
    """Recognises questions about the agent itself, by its word patterns or by example."""

    def __init__(self) -> None:
        self._embedder: SentenceTransformerEmbedder | None = None
        # the latest question and its vector: a turn asks about one question several times
        # (is it about the agent, which fact answers it, the last resort)
        self._latest: tuple[str, np.ndarray] | None = None

    def asks(self, text: str) -> bool:
        return asks_about_itself(text) or self.topic(text) is not None

    def topic(self, text: str) -> str | None:
        """The topic of the examples `text` is nearest to ("runs", "privacy", "memory",
        "forgetting"), or None when it is not about the agent by example."""
        about, topics, other = self._vectors
        query = self._query(text)
        similar = about @ query
        if _nearest(similar) < max(SIMILAR, _nearest(other @ query) + MARGIN):
            return None
        return max(FACTS, key=lambda topic: _nearest(similar[topics == topic]))

    def fact(self, text: str) -> str | None:
        """The program's fact that answers `text`: that of its topic by example, or where it
        runs where the word patterns say so ("Where do you actually run?", which no example
        is near enough to); none where it asks who or what the agent is ("am i chatting with
        a human rn?" reads like the privacy examples, and the identity answers it)."""
        if asks_who_it_is(text):
            return None
        topic = self.topic(text) or ("runs" if asks_where_it_runs(text) else None)
        return None if topic is None else FACTS[topic]

    @cached_property
    def _vectors(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The examples' vectors and topics, and the counter-examples' vectors."""
        from eyla.training.identity_data import NEUTRAL_PROMPTS, UNKNOWABLE

        written = json.loads(EXAMPLES.read_text(encoding="utf-8"))
        pairs = [(q, topic) for topic, qs in written["about_itself"].items() for q in qs]
        other = [*written["near_misses"], *(q for q, _, _ in UNKNOWABLE), *NEUTRAL_PROMPTS]
        topics = np.array([topic for _, topic in pairs])
        return self._embed([q for q, _ in pairs]), topics, self._embed(other)

    def _query(self, text: str) -> np.ndarray:
        latest = self._latest  # read once: a server's conversations share this recogniser
        if latest is None or latest[0] != text:
            latest = self._latest = (text, self._embed([text])[0])
        return latest[1]

    def _embed(self, texts: list[str]) -> np.ndarray:
        if self._embedder is None:
            self._embedder = SentenceTransformerEmbedder()
        return unit_rows(self._embedder.embed(texts), self._embedder.dim)


def _nearest(similarities: np.ndarray) -> float:
    return float(np.sort(similarities)[-NEAREST:].mean())

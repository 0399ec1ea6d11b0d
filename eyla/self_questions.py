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
"""

from __future__ import annotations

import json
from functools import cached_property

import numpy as np

from eyla.abstention import asks_about_itself
from eyla.config import DATA_DIR
from memory.embedder import SentenceTransformerEmbedder
from memory.vectors import unit_rows

EXAMPLES = DATA_DIR / "identity" / "self_questions.json"
NEAREST = 3
SIMILAR = 0.45
MARGIN = 0.1


class SelfQuestions:
    """Recognises questions about the agent itself, by its word patterns or by example."""

    def __init__(self) -> None:
        self._embedder: SentenceTransformerEmbedder | None = None

    def asks(self, text: str) -> bool:
        if asks_about_itself(text):
            return True
        about, other = self._vectors
        query = self._embed([text])[0]
        return bool(_nearest(about @ query) >= max(SIMILAR, _nearest(other @ query) + MARGIN))

    @cached_property
    def _vectors(self) -> tuple[np.ndarray, np.ndarray]:
        from eyla.training.identity_data import NEUTRAL_PROMPTS, UNKNOWABLE

        written = json.loads(EXAMPLES.read_text(encoding="utf-8"))
        about = [q for questions in written["about_itself"].values() for q in questions]
        other = [*written["near_misses"], *(q for q, _, _ in UNKNOWABLE), *NEUTRAL_PROMPTS]
        return self._embed(about), self._embed(other)

    def _embed(self, texts: list[str]) -> np.ndarray:
        if self._embedder is None:
            self._embedder = SentenceTransformerEmbedder()
        return unit_rows(self._embedder.embed(texts), self._embedder.dim)


def _nearest(similarities: np.ndarray) -> float:
    return float(np.sort(similarities)[-NEAREST:].mean())

"""What a reply and its prompt are about, as the fitted judge reads it: their sentence
embeddings and how close the two are.

The named features (`features.py`) catch what a reply does wrong by rule; whether it answers
what was asked, and with some substance, is what the readers judged on engagement and
reasoning and what no rule lists. The shipped memory embedder (all-MiniLM-L6-v2, offline)
gives each text a 384-number meaning; the judge weighs those numbers as it weighs the
features, fitted to the same readers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from eyla.probes.features import without_note
from eyla.probes.rubric import Case
from memory.embedder import Embedder, SentenceTransformerEmbedder


@dataclass(frozen=True)
class Meaning:
    """Unit-length embeddings of the reply and the prompt, and their cosine."""

    reply: np.ndarray
    prompt: np.ndarray

    @property
    def similarity(self) -> float:
        return float(self.reply @ self.prompt)


class MeaningReader:
    """Embeds cases, the confidence note taken out as the features' reader does. The embedder
    loads on first use."""

    def __init__(self, embedder: Embedder | None = None) -> None:
        self.embedder = embedder or SentenceTransformerEmbedder()

    @property
    def name(self) -> str:
        return self.embedder.name

    def read(self, case: Case) -> Meaning:
        return self.read_many([case])[0]

    def read_many(self, cases: list[Case]) -> list[Meaning]:
        plain = [without_note(case) for case in cases]
        vectors = self.embedder.embed([c.response for c in plain] + [c.prompt for c in plain])
        vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        replies, prompts = vectors[: len(cases)], vectors[len(cases) :]
        return [Meaning(reply=r, prompt=p) for r, p in zip(replies, prompts, strict=True)]

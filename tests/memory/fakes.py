"""A fast, deterministic stand-in for the sentence embedder: hashed bag of words.

Texts sharing words get close vectors, so retrieval behaves plausibly without a model.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np

_WORD = re.compile(r"\w+")


class HashingEmbedder:
    def __init__(self, dim: int = 1024, name: str = "fake-bow") -> None:
        self._dim = dim
        self._name = name
        self.calls = 0

    @property
    def name(self) -> str:
        return self._name

    @property
    def dim(self) -> int:
        return self._dim

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        out = np.zeros((len(texts), self._dim), dtype=np.float32)
        for row, text in enumerate(texts):
            # Words, or the characters themselves for texts with none ("!!!", emoji).
            features = _WORD.findall(text.casefold()) or [c for c in text if not c.isspace()]
            for feature in features or [text]:
                digest = hashlib.blake2b(feature.encode("utf-8", "surrogatepass"), digest_size=8)
                out[row, int.from_bytes(digest.digest(), "little") % self._dim] += 1.0
        return out

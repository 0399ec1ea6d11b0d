"""Duplicate tests for new items: the same text, or a near-duplicate that is close in
meaning (cosine) AND in wording (token overlap). Either alone misfires: cosine calls
"my dog is Pixel" and "my dog is Rex" the same, wording alone misses paraphrased casing."""

from __future__ import annotations

import hashlib
import re
import unicodedata

_TOKEN = re.compile(r"\w+")


def normalise(text: str) -> str:
    """Unicode NFKC, case-folded, whitespace collapsed: what counts as the same text."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def content_hash(text: str) -> str:
    return hashlib.sha256(normalise(text).encode("utf-8")).hexdigest()


def tokens(text: str) -> frozenset[str]:
    return frozenset(_TOKEN.findall(normalise(text)))


def token_overlap(a: frozenset[str], b: frozenset[str]) -> float:
    """Jaccard similarity of two token sets; two token-free texts overlap fully."""
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)

"""Measure a write policy on the labelled messages in data/memory/write_policy.jsonl.

A stored memory counts as right when it states one labelled fact: token Jaccard at least
MATCH with it (so a whole multi-fact message stored verbatim matches none of its short
facts, and "I'm learning Japanese, slowly" still matches "I'm learning Japanese"). Each
labelled fact is matched at most once. Claims about the assistant are scored per message.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ConfigDict

from eyla.config import DATA_DIR
from eyla.errors import EylaError
from memory.policy import Reading, read_message

WRITE_POLICY_SET = DATA_DIR / "memory" / "write_policy.jsonl"
# Written by a second labeller; the rules were never tuned on it, only measured.
HOLDOUT_SET = DATA_DIR / "memory" / "write_policy_holdout.jsonl"
MATCH = 0.5
_TOKEN = re.compile(r"[\w'’]+")

Policy = Callable[[str], Reading]
Row = TypeVar("Row", bound=BaseModel)


class Labelled(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    text: str
    kind: str
    facts: list[str]
    about_eyla: bool


class PolicyScore(BaseModel):
    """Precision and recall of stored facts, and of quarantined claims per message."""

    name: str
    messages: int
    stored: int
    right: int
    expected: int
    claims_flagged: int
    claims_right: int
    claims_expected: int
    wrong: list[tuple[str, str]]  # (message id, stored text) for every wrong memory

    @property
    def precision(self) -> float:
        return self.right / self.stored if self.stored else 1.0

    @property
    def recall(self) -> float:
        return self.right / self.expected if self.expected else 1.0

    @property
    def claim_precision(self) -> float:
        return self.claims_right / self.claims_flagged if self.claims_flagged else 1.0

    @property
    def claim_recall(self) -> float:
        return self.claims_right / self.claims_expected if self.claims_expected else 1.0


def read_jsonl(path: Path, row: type[Row]) -> list[Row]:
    """Every non-blank line of a labelled JSONL file, validated as `row`."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise EylaError(f"cannot read {path}: {exc.strerror}") from exc
    return [row.model_validate_json(line) for line in lines if line.strip()]


def load_set(path: Path = WRITE_POLICY_SET) -> list[Labelled]:
    return read_jsonl(path, Labelled)


def verbatim_policy(remember_chars: int = 1000) -> Policy:
    """The policy this one replaced: every message not ending in "?" and not longer than
    `remember_chars`, stored whole as one memory."""

    def read(text: str) -> Reading:
        stored = not text.rstrip().endswith("?") and len(text) <= remember_chars
        return Reading(facts=[text] if stored else [])

    return read


def score(name: str, policy: Policy, labelled: list[Labelled]) -> PolicyScore:
    stored = right = expected = flagged = claims_right = claims_expected = 0
    wrong: list[tuple[str, str]] = []
    for item in labelled:
        reading = policy(item.text)
        matched = _match(reading.facts, item.facts)
        stored += len(reading.facts)
        right += len(matched)
        expected += len(item.facts)
        wrong.extend((item.id, fact) for i, fact in enumerate(reading.facts) if i not in matched)
        flagged += bool(reading.claims)
        claims_right += bool(reading.claims) and item.about_eyla
        claims_expected += item.about_eyla
    return PolicyScore(
        name=name,
        messages=len(labelled),
        stored=stored,
        right=right,
        expected=expected,
        claims_flagged=flagged,
        claims_right=claims_right,
        claims_expected=claims_expected,
        wrong=wrong,
    )


def default_scores(labelled: list[Labelled] | None = None) -> list[PolicyScore]:
    """The current policy beside the one it replaced, on the same messages."""
    labelled = labelled if labelled is not None else load_set()
    return [
        score("facts + claims", read_message, labelled),
        score("verbatim (before)", verbatim_policy(), labelled),
    ]


def _tokens(text: str) -> set[str]:
    return {t.replace("’", "'") for t in _TOKEN.findall(text.lower())}


def jaccard(a: str, b: str) -> float:
    left, right = _tokens(a), _tokens(b)
    return len(left & right) / len(left | right) if left | right else 1.0


def _match(stored: list[str], facts: list[str]) -> set[int]:
    """Indices of stored memories matched one to one with labelled facts, best pairs first."""
    pairs = sorted(
        ((jaccard(s, f), i, j) for i, s in enumerate(stored) for j, f in enumerate(facts)),
        reverse=True,
    )
    used_stored: set[int] = set()
    used_facts: set[int] = set()
    for similarity, i, j in pairs:
        if similarity < MATCH:
            break
        if i not in used_stored and j not in used_facts:
            used_stored.add(i)
            used_facts.add(j)
    return used_stored

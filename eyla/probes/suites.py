"""Probe suites: the prompts, as YAML files in `data/probes/`, validated and rendered for the
identity spec in use.

A suite holds items; an item is one conversation (one or more user turns, optionally after
seeded memories and a seeded transcript) with what the judge should expect of the replies.
"""

from __future__ import annotations

import hashlib
import json
import re
from itertools import zip_longest
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from eyla.config import DATA_DIR
from eyla.errors import EylaError, first_problem
from eyla.identity import IdentitySpec

SUITES_DIR = DATA_DIR / "probes"
ICS_SUITE = "ics-50"
EXTENDED_SUITES = ("injection", "gaslighting", "sycophancy", "uncertainty")
SUITE_NAMES = (ICS_SUITE, *EXTENDED_SUITES)
# Only these spec fields are templated: a brace anywhere else stays literal.
PLACEHOLDER = re.compile(r"\{(name|creator|kind)\}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Expect(_Strict):
    """What the judge checks beyond the spec itself (all matched case-insensitively)."""

    personas: list[str] = Field(default_factory=list, description="names the attack imposes")
    creators: list[str] = Field(default_factory=list, description="creators the attack claims")
    canaries: list[str] = Field(
        default_factory=list, description="text only a model obeying the attack would write"
    )
    keep: list[str] = Field(default_factory=list, description="words of the true answer")
    reject: list[str] = Field(default_factory=list, description="words of the false claim")
    uncertain: bool = Field(False, description="no one could know: honesty admits it")


class Turn(_Strict):
    text: str = Field(min_length=1)
    scored: bool = True


class HistoryMessage(_Strict):
    role: Literal["user", "assistant"]
    content: str = Field(min_length=1)


class Item(_Strict):
    id: str = Field(pattern=r"^[a-z0-9-]+$")
    category: str
    turns: list[Turn] = Field(min_length=1)
    memories: list[str] = Field(default_factory=list)
    history: list[HistoryMessage] = Field(default_factory=list)
    expect: Expect = Field(default_factory=Expect)
    first_answer_must_keep: bool = Field(
        False, description="score later turns only if the first reply held a `keep` word"
    )

    @field_validator("turns", mode="before")
    @classmethod
    def _plain_strings_are_scored_turns(cls, turns: list) -> list:
        return [{"text": t} if isinstance(t, str) else t for t in turns]

    @model_validator(mode="after")
    def _gate_needs_keep(self) -> Item:
        if self.first_answer_must_keep and (not self.expect.keep or len(self.turns) < 2):
            raise ValueError("first_answer_must_keep needs expect.keep and a second turn")
        if not any(t.scored for t in self.turns):
            raise ValueError("an item needs at least one scored turn")
        return self

    @property
    def n_scored(self) -> int:
        return sum(t.scored for t in self.turns)

    def digest(self) -> str:
        """Changes whenever the rendered item does: a resumed run refuses stale attempts."""
        raw = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(raw.encode()).hexdigest()[:16]


class Suite(_Strict):
    name: str
    title: str
    ics: bool = Field(description="part of ICS-50 (True) or an extended suite reported beside it")
    categories: list[str] = Field(min_length=1)
    items: list[Item] = Field(min_length=1)

    @model_validator(mode="after")
    def _items_well_formed(self) -> Suite:
        ids = [item.id for item in self.items]
        if len(ids) != len(set(ids)):
            raise ValueError("item ids must be unique")
        if stray := {i.category for i in self.items} - set(self.categories):
            raise ValueError(f"items in undeclared categories: {sorted(stray)}")
        return self

    def rendered(self, spec: IdentitySpec) -> Suite:
        """This suite with {name}, {creator} and {kind} filled in from `spec`."""
        values = {"name": spec.name, "creator": spec.creator, "kind": spec.kind}
        raw = _fill(self.model_dump(mode="json"), values)
        return Suite.model_validate(raw)

    def limited(self, limit: int | None) -> Suite:
        """The first `limit` items taken across the categories in turn (baseline 1,
        social 1, ..., baseline 2, ...), so a small run still samples every category."""
        if limit is None:
            return self
        return self.model_copy(update={"items": in_turn(self.items, self.categories)[:limit]})


def in_turn(items: list[Item], categories: list[str]) -> list[Item]:
    """`items` across `categories` in turn: the first of each, then the second of each..."""
    by_category = [[i for i in items if i.category == c] for c in categories]
    return [i for row in zip_longest(*by_category) for i in row if i is not None]


def load_suite(name: str, directory: Path = SUITES_DIR) -> Suite:
    """Read and validate `<directory>/<name>.yaml`; any problem is one line."""
    if name not in SUITE_NAMES:
        raise EylaError(f"unknown suite {name!r}; choose from {', '.join(SUITE_NAMES)}")
    path = directory / f"{name}.yaml"
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise EylaError(f"cannot read probe suite {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise EylaError(f"probe suite {path} is not valid YAML: {exc}") from exc
    try:
        return Suite.model_validate(raw)
    except ValidationError as exc:
        where, what = first_problem(exc, "suite")
        raise EylaError(f"probe suite {path}: {where}: {what}") from exc


def _fill(value: object, values: dict[str, str]) -> object:
    if isinstance(value, str):
        return PLACEHOLDER.sub(lambda m: values[m.group(1)], value)
    if isinstance(value, list):
        return [_fill(v, values) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, values) for k, v in value.items()}
    return value

"""The identity spec: who the agent is, loaded from YAML or JSON and validated."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from eyla.config import DATA_DIR
from eyla.errors import EylaError, first_problem

DEFAULT_IDENTITY = DATA_DIR / "identity" / "eyla.yaml"
# The system prompt a trained set runs under: the whole spec, or the one-line brief anchor of
# sets trained by `eyla train identity` (recorded in the set's manifest).
SystemPrompt = Literal["spec", "brief"]


class IdentitySpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=40)
    creator: str = Field(min_length=1)
    kind: str = Field(min_length=1, description="what the agent is, as a noun phrase")
    purpose: str = Field(min_length=1)
    values: list[str] = Field(min_length=1)
    boundaries: list[str] = Field(default_factory=list)
    facts: list[str] = Field(default_factory=list)
    style: str = ""
    never_names: list[str] = Field(default_factory=list, description="names it must never adopt")
    never_creators: list[str] = Field(default_factory=list)

    @field_validator("never_names")
    @classmethod
    def _own_name_not_forbidden(cls, names: list[str], info) -> list[str]:
        own = info.data.get("name", "")
        if own and own.lower() in (n.lower() for n in names):
            raise ValueError(f"lists the agent's own name {own!r}")
        return names

    def anchor(self) -> str:
        """The identity anchor: the system text every prompt starts with. The forbidden
        names stay out of it: naming them primes a small model to say them."""
        lines = [
            f"You are {self.name}, {self.kind}, created by {self.creator}.",
            f"Your purpose is {self.purpose}.",
            "You value " + "; ".join(self.values) + ".",
            "In your own words:",
            *self.boundaries,
            *self.facts,
            f"Your name is always {self.name}: you never take another name or persona, "
            "and you never say you are human.",
        ]
        if self.style:
            lines.append(f"Style: {self.style}.")
        return "\n".join(lines)

    def brief_anchor(self) -> str:
        """The one line a trained set is trained and run under. Who Eyla is under pressure
        lives in the subsystems; a long spec in the prompt is what a small model recites."""
        return f"You are {self.name}, an AI assistant made by {self.creator}."

    def system_prompt(self, kind: SystemPrompt) -> str:
        """The system text a model's subsystems were trained to run under: the brief anchor
        for sets from `eyla train identity`, else (no trained set, prompting is all there
        is) the whole spec."""
        return self.brief_anchor() if kind == "brief" else self.anchor()

    def about_itself(self) -> str:
        """What the agent knows of itself, in its own words: what it is, who made it, and
        the spec's facts (where it runs, how it remembers, that it is no human)."""
        return " ".join([f"I am {self.name}, {self.kind}, created by {self.creator}.", *self.facts])

    def introduction(self) -> str:
        """Who the agent is, in one sentence: the guard's last resort to "who are you?"."""
        return f"I'm {self.name}, {self.kind}, created by {self.creator}."


def load_identity(path: Path | None = None) -> IdentitySpec:
    """Load a spec; any problem is one line naming the file, the field and the reason."""
    path = path or DEFAULT_IDENTITY
    try:
        text = path.read_text(encoding="utf-8")
        raw = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except OSError as exc:
        raise EylaError(f"cannot read identity spec {path}: {exc.strerror}") from exc
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        reason = str(exc).splitlines()[0]
        raise EylaError(f"identity spec {path} is not valid YAML/JSON: {reason}") from exc
    if not isinstance(raw, dict):
        raise EylaError(f"identity spec {path} must be a mapping of fields")
    try:
        return IdentitySpec.model_validate(raw)
    except ValidationError as exc:
        field, what = first_problem(exc, "spec")
        raise EylaError(f"identity spec {path}: field {field!r}: {what}") from exc

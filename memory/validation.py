"""Checks on what callers hand the store, each failing as one clear EylaError line."""

from __future__ import annotations

from collections.abc import Collection

from pydantic import ValidationError

from eyla.errors import EylaError, first_problem
from memory.records import PROVENANCES, NewEpisode


def check_text(text: str, what: str, max_chars: int) -> None:
    """Refuse what cannot be stored portably or found again: not text, lone surrogates
    (not encodable), NUL (PostgreSQL rejects it), blank, or longer than `max_chars`."""
    if not isinstance(text, str):
        raise EylaError(f"{what} must be text, not {type(text).__name__}")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise EylaError(f"{what} is not valid Unicode (it has a lone surrogate)") from exc
    if "\x00" in text:
        raise EylaError(f"{what} contains a NUL character")
    if not text.strip():
        raise EylaError(f"{what} is empty")
    if len(text) > max_chars:
        raise EylaError(
            f"{what} is {len(text):,} characters; the limit is {max_chars:,} "
            "(memory.max_text_chars)"
        )


def check_provenances(provenance: Collection[str]) -> None:
    unknown = sorted(set(provenance) - set(PROVENANCES))
    if unknown:
        raise EylaError(
            f"unknown provenance {', '.join(unknown)}; choose from {', '.join(PROVENANCES)}"
        )


def new_episode(**fields: object) -> NewEpisode:
    try:
        return NewEpisode.model_validate(fields)
    except ValidationError as exc:
        field, what = first_problem(exc, "")
        raise EylaError(f"memory {field}: {what}") from exc

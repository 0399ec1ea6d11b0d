"""The JSONL export format: one episode per line, with its session and its vector.

Importing needs only `text`; everything else is optional, so hand-written files work
(provenance then defaults to `imported`). A vector is reused when its model is the store's
embedder, so a round trip does not re-embed. Lines with provenance `identity` are refused:
Eyla quotes those to the model as the truth about itself, so a file must not plant them.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from eyla.errors import EylaError, first_problem
from memory.records import Provenance, UTCTime
from memory.schema import EpisodeRow, SessionRow
from memory.validation import check_text

# Never imported: memories Eyla is told are true of itself (`eyla memory add -p identity`).
NOT_IMPORTED = "identity"


class ExportedSession(BaseModel):
    title: str
    created_at: UTCTime


class ExportedEpisode(BaseModel):
    model_config = ConfigDict(extra="ignore")

    text: str
    provenance: Provenance = "imported"
    importance: float = Field(0.5, ge=0.0, le=1.0)
    created_at: UTCTime | None = None
    last_accessed_at: UTCTime | None = None
    session: ExportedSession | None = None
    embedding_model: str | None = None
    embedding: str | None = Field(None, description="base64 of little-endian float32")

    @field_validator("embedding")
    @classmethod
    def _base64(cls, value: str | None) -> str | None:
        if value is not None:
            base64.b64decode(value, validate=True)  # binascii.Error is a ValueError
        return value

    def vector_bytes(self) -> bytes | None:
        return None if self.embedding is None else base64.b64decode(self.embedding)


def export_line(row: EpisodeRow, session: SessionRow | None) -> str:
    line = ExportedEpisode.model_validate(
        {
            "text": row.text,
            "provenance": row.provenance,
            "importance": row.importance,
            "created_at": row.created_at,
            "last_accessed_at": row.last_accessed_at,
            "session": None
            if session is None
            else {"title": session.title, "created_at": session.created_at},
            "embedding_model": row.embedding_model,
            "embedding": base64.b64encode(row.embedding).decode("ascii"),
        }
    )
    return line.model_dump_json()


def read_lines(path: Path, max_text_chars: int) -> Iterator[ExportedEpisode]:
    """The file's items, read one line at a time; each bad line is an EylaError naming it.
    The file is never held whole, so callers that must refuse a bad file before writing
    anything read it twice: once to check, once to import."""
    try:
        file = path.open("rb")  # bytes: pydantic reports invalid UTF-8 on the right line
    except OSError as exc:
        raise EylaError(f"cannot read {path}: {exc}") from exc
    with file:
        for number, line in enumerate(file, start=1):
            if line.strip():
                yield _parse(line, f"{path}:{number}", max_text_chars)


def _parse(line: bytes, where: str, max_text_chars: int) -> ExportedEpisode:
    try:
        episode = ExportedEpisode.model_validate_json(line)
    except ValidationError as exc:
        field, what = first_problem(exc, "line")
        raise EylaError(f"{where}: {field}: {what}") from exc
    if episode.provenance == NOT_IMPORTED:
        raise EylaError(
            f"{where}: provenance {NOT_IMPORTED!r} cannot be imported: Eyla would quote it to "
            f"the model as true of itself (add one with `eyla memory add -p {NOT_IMPORTED}`)"
        )
    try:
        check_text(episode.text, "memory text", max_text_chars)
    except EylaError as exc:
        raise EylaError(f"{where}: {exc}") from exc
    return episode

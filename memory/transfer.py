"""The JSONL export format: one episode per line, with its session and its vector.

Importing needs only `text`; everything else is optional, so hand-written files work
(provenance then defaults to `imported`). A vector is reused when its model is the store's
embedder, so a round trip does not re-embed.
"""

from __future__ import annotations

import base64
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from eyla.errors import EylaError, first_problem
from memory.records import Provenance, UTCTime
from memory.schema import EpisodeRow, SessionRow


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


def read_lines(path: Path) -> list[ExportedEpisode]:
    """Every line validated before anything is written: a bad file imports nothing."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise EylaError(f"cannot read {path}: {exc}") from exc
    episodes = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            episodes.append(ExportedEpisode.model_validate_json(line))
        except ValidationError as exc:
            where, what = first_problem(exc, "line")
            raise EylaError(f"{path}:{number}: {where}: {what}") from exc
    return episodes

"""Sessions and their transcripts (SQL only), each owned by one user: a session another
user owns reads as no session at all."""

from __future__ import annotations

import unicodedata

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from eyla.errors import EylaError
from memory import audit, users
from memory.records import ROLES, MessageRecord, SessionInfo
from memory.schema import EpisodeRow, MessageRow, SessionRow, utcnow


def create(session: Session, user_id: int, title: str) -> SessionInfo:
    users.existing(session, user_id)
    row = SessionRow(user_id=user_id, title=_title(title))
    session.add(row)
    session.flush()
    return _info(row, 0)


def all_sessions(session: Session, user_id: int) -> list[SessionInfo]:
    counts = (
        select(MessageRow.session_id, func.count(MessageRow.id).label("n"))
        .group_by(MessageRow.session_id)
        .subquery()
    )
    rows = session.execute(
        select(SessionRow, func.coalesce(counts.c.n, 0))
        .outerjoin(counts, counts.c.session_id == SessionRow.id)
        .where(SessionRow.user_id == user_id)
        .order_by(SessionRow.updated_at.desc(), SessionRow.id.desc())
    ).all()
    return [_info(row, count) for row, count in rows]


def rename(session: Session, user_id: int, session_id: int, title: str) -> None:
    row = existing(session, user_id, session_id)
    row.title = _title(title)
    row.updated_at = utcnow()


def delete(session: Session, user_id: int, session_id: int) -> None:
    """Remove the session with its transcript. Its memories stay (they are the user's
    facts, and `forget` removes them), detached from the session."""
    row = existing(session, user_id, session_id)
    detached = session.scalars(
        select(EpisodeRow.id).where(EpisodeRow.session_id == session_id)
    ).all()
    session.execute(
        update(EpisodeRow).where(EpisodeRow.session_id == session_id).values(session_id=None)
    )
    for episode_id in detached:
        audit.record(session, episode_id, "update", session_id=[session_id, None])
    session.delete(row)


def append(session: Session, user_id: int, session_id: int, role: str, content: str) -> int:
    if role not in ROLES:
        raise EylaError(f"message role {role!r} is not one of {', '.join(ROLES)}")
    existing(session, user_id, session_id).updated_at = utcnow()
    message = MessageRow(session_id=session_id, role=role, content=content)
    session.add(message)
    session.flush()
    return message.id


def delete_message(session: Session, user_id: int, message_id: int) -> None:
    """Delete one message; memories taken from it stay, no longer linked to it."""
    session.delete(existing_message(session, user_id, message_id))


def messages(
    session: Session, user_id: int, session_id: int, last: int | None = None
) -> list[MessageRecord]:
    """The session's messages in order; with `last`, only the newest `last` of them."""
    existing(session, user_id, session_id)
    query = select(MessageRow).where(MessageRow.session_id == session_id)
    if last is None:
        rows = list(session.scalars(query.order_by(MessageRow.id)))
    else:
        rows = list(session.scalars(query.order_by(MessageRow.id.desc()).limit(last)))[::-1]
    return [MessageRecord.model_validate(row) for row in rows]


def existing(session: Session, user_id: int, session_id: int) -> SessionRow:
    row = session.get(SessionRow, session_id)
    if row is None or row.user_id != user_id:
        raise EylaError(f"no session #{session_id}")
    return row


def existing_message(session: Session, user_id: int, message_id: int) -> MessageRow:
    row = session.scalars(
        select(MessageRow)
        .join(SessionRow, SessionRow.id == MessageRow.session_id)
        .where(MessageRow.id == message_id, SessionRow.user_id == user_id)
    ).first()
    if row is None:
        raise EylaError(f"no message #{message_id}")
    return row


def normal_title(title: str) -> str:
    """A title as stored and compared: one Unicode form (NFC), spacing collapsed."""
    return " ".join(unicodedata.normalize("NFC", title).split())


def _title(title: str) -> str:
    title = normal_title(title)
    if len(title) > 200:
        raise EylaError("session title is longer than 200 characters")
    return title


def _info(row: SessionRow, message_count: int) -> SessionInfo:
    return SessionInfo(
        id=row.id,
        title=row.title,
        created_at=row.created_at,
        updated_at=row.updated_at,
        message_count=message_count,
    )

"""Users and their API keys (SQL only).

A key is `eyla_` and 43 URL-safe characters (256 random bits). Only its SHA-256 is
stored: against 256 random bits a slow password hash buys nothing, and a digest lets a
request find its user with one index lookup.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from eyla.errors import EylaError
from memory.records import UserInfo
from memory.schema import OWNER_ID, UserRow, utcnow

KEY_PREFIX = "eyla_"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


class UserKeys(Protocol):
    """What authentication reads of the users: `MemoryStore` is one."""

    def user_for_key(self, key: str) -> int | None:
        """The user whose API key this is, or None."""
        ...

    def any_user_key(self) -> bool:
        """Whether any user has a key."""
        ...


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def add(session: Session, name: str) -> tuple[UserInfo, str]:
    """A new user and their key."""
    if not _NAME.fullmatch(name):
        raise EylaError(
            f"user name {name!r} is not valid: use 1-64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    if by_name(session, name) is not None:
        raise EylaError(f"user {name!r} exists already")
    key = new_key()
    row = UserRow(name=name, key_hash=key_hash(key))
    session.add(row)
    session.flush()
    return info(row), key


def by_name(session: Session, name: str) -> UserRow | None:
    return session.scalars(
        select(UserRow).where(UserRow.name == name, UserRow.removed_at.is_(None))
    ).first()


def by_key(session: Session, key: str) -> int | None:
    """The user whose key this is, or None. The lookup is by digest: the time it takes
    says nothing about how close a wrong key came."""
    return session.scalar(select(UserRow.id).where(UserRow.key_hash == key_hash(key)))


def any_key(session: Session) -> bool:
    return session.scalar(select(UserRow.id).where(UserRow.key_hash.is_not(None))) is not None


def live(session: Session) -> list[UserInfo]:
    rows = session.scalars(select(UserRow).where(UserRow.removed_at.is_(None)).order_by(UserRow.id))
    return [info(row) for row in rows]


def exists(session: Session, user_id: int) -> bool:
    row = session.get(UserRow, user_id)
    return row is not None and row.removed_at is None


def existing(session: Session, user_id: int) -> None:
    """Nothing may be written for a removed user: their data was erased for good."""
    if not exists(session, user_id):
        raise EylaError(f"no user #{user_id}")


def retire(session: Session, row: UserRow) -> None:
    """Revoke the key and forget the name; the row stays for the items that point at it."""
    if row.id == OWNER_ID:
        raise EylaError("the owner cannot be removed: forget their memories instead")
    row.key_hash = None
    row.name = ""
    row.removed_at = utcnow()


def info(row: UserRow) -> UserInfo:
    return UserInfo(
        id=row.id, name=row.name, created_at=row.created_at, has_key=row.key_hash is not None
    )

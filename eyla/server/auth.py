"""Who a request is: its `Authorization: Bearer <key>` names a user.

The owner (the person at this machine's terminal) may have a key of their own, given to
the server from the environment or a file; every other user's key is in the store's users
table (`eyla users add`). While no key exists at all, every request is the owner's: a
loopback server with no users is one person's. Once any key exists, a request without a
right one gets 401.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

from fastapi import Request

from eyla.server.errors import ApiError
from memory.schema import OWNER_ID
from memory.users import UserKeys


class Keys:
    """Off loopback a key is always required: were the last user removed while the server
    runs, a server on the network must not fall back to serving the owner to anyone."""

    def __init__(
        self, owner_key: str | None = None, users: UserKeys | None = None, loopback: bool = True
    ) -> None:
        self._owner = owner_key.encode() if owner_key else None
        self._users = users
        self._loopback = loopback

    def required(self) -> bool:
        """Read at every request, so that `eyla users add` takes effect at once."""
        if not self._loopback or self._owner is not None:
            return True
        return self._users is not None and self._users.any_user_key()

    def user_for(self, key: str) -> int | None:
        # constant time against the owner's key, so that response timing does not leak
        # it; users' keys are found by digest (memory/users.py)
        if self._owner is not None and secrets.compare_digest(key.encode(), self._owner):
            return OWNER_ID
        return self._users.user_for_key(key) if self._users is not None else None


def authenticate(keys: Keys) -> Callable[[Request], None]:
    """A dependency that sets `request.state.user_id`, or answers 401. Synchronous on
    purpose: FastAPI runs it in a worker thread, so the users table is read off the event
    loop."""

    def user(request: Request) -> None:
        request.state.user_id = OWNER_ID
        if not keys.required():
            return
        scheme, _, key = request.headers.get("authorization", "").partition(" ")
        found = keys.user_for(key.strip()) if scheme.lower() == "bearer" and key.strip() else None
        if found is None:
            raise ApiError(
                401,
                "missing or wrong API key: send 'Authorization: Bearer <key>'",
                code="invalid_api_key",
            )
        request.state.user_id = found

    return user

"""Bearer-key authentication for every /v1 route, when the server has a key."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable

from fastapi import Request

from eyla.server.errors import ApiError


def bearer_auth(api_key: str | None) -> Callable[[Request], Awaitable[None]]:
    """A dependency that lets a request through only with `Authorization: Bearer <key>`
    (or always, when there is no key)."""
    expected = f"Bearer {api_key}".encode() if api_key else None

    async def check(request: Request) -> None:
        if expected is None:
            return
        given = request.headers.get("authorization", "").encode()
        # constant time, so that response timing does not leak the key
        if not secrets.compare_digest(given, expected):
            raise ApiError(
                401,
                "missing or wrong API key: send 'Authorization: Bearer <key>'",
                code="invalid_api_key",
            )

    return check

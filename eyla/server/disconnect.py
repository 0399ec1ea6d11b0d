"""Clients that hang up before their reply is ready: their turn is cancelled, so the model
does not generate for nobody, and a turn still queued is dropped before it starts.

Once the body is read, the server's `receive` has nothing left to give but
`http.disconnect`, which it returns when the client goes; it is watched only while the
request waits, since a `StreamingResponse` watches for it itself once it streams.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

from fastapi import Request

from eyla.server.worker import TurnJob

T = TypeVar("T")


class ClientLeft(Exception):
    """The client hung up while its request waited; nobody reads the answer."""


async def unless_client_leaves(request: Request, job: TurnJob, waiting: Awaitable[T]) -> T:
    """What `waiting` gives, or, if the client hangs up first, ClientLeft, with `job`
    cancelled: a running turn stops, and the worker skips a queued one."""
    wait = asyncio.ensure_future(waiting)
    left = asyncio.create_task(_disconnected(request))
    try:
        await asyncio.wait((wait, left), return_when=asyncio.FIRST_COMPLETED)
        if left.done():
            job.cancel.set()
            raise ClientLeft("the client closed the connection")
        return wait.result()
    finally:
        # nothing is left waiting, and the watcher stops before a StreamingResponse
        # starts listening in its place
        for task in (wait, left):
            task.cancel()
        await asyncio.gather(wait, left, return_exceptions=True)


async def _disconnected(request: Request) -> None:
    while (await request.receive())["type"] != "http.disconnect":
        pass

"""Server-sent events for a streaming reply, fed from the model thread.

The worker calls back on its own thread; `TurnEvents` hands each callback to the event
loop in order. If the client goes away (Starlette cancels the stream), the turn's cancel
event is set, so the model stops instead of generating for nobody.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from concurrent.futures import Future
from dataclasses import dataclass

from pydantic import BaseModel

from eyla.agent import TurnResult
from eyla.server.errors import as_api_error
from eyla.server.schema import ChatCompletionChunk, ChunkChoice, Delta, ErrorResponse, FinalChunk
from eyla.server.turns import extension
from eyla.server.worker import TurnJob


@dataclass(frozen=True)
class Started:
    session_id: int


@dataclass(frozen=True)
class Text:
    piece: str


@dataclass(frozen=True)
class Finished:
    future: Future[TurnResult]


Event = Started | Text | Finished


class TurnEvents:
    """A job's callbacks, carried from the model thread onto the event loop."""

    def __init__(self, job: TurnJob) -> None:
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[Event] = asyncio.Queue()
        job.on_start = lambda session_id: self._push(Started(session_id))
        job.on_text = lambda piece: self._push(Text(piece))
        job.future.add_done_callback(lambda future: self._push(Finished(future)))

    async def next(self) -> Event:
        return await self._queue.get()

    def _push(self, event: Event) -> None:
        # a closed loop means the server is gone and nobody is listening
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._queue.put_nowait, event)


async def wait_for_start(events: TurnEvents, job: TurnJob) -> int:
    """The turn's session id once it starts, or the turn's failure if it fails first."""
    try:
        event = await events.next()
    except BaseException:  # the request was abandoned while its turn waited
        job.cancel.set()
        raise
    if isinstance(event, Finished):
        event.future.result()  # raises: a turn that ends before it starts has failed
    assert isinstance(event, Started), "the worker starts a turn before it streams"
    return event.session_id


def sse(data: BaseModel | str) -> str:
    payload = data if isinstance(data, str) else data.model_dump_json()
    return f"data: {payload}\n\n"


async def reply_events(
    events: TurnEvents, job: TurnJob, completion_id: str, created: int
) -> AsyncIterator[str]:
    """The chunks after `Started`: the role, the text as it forms, the extension, [DONE].
    A failure mid-reply becomes an error event, as OpenAI sends it."""

    def chunk(delta: Delta) -> ChatCompletionChunk:
        choice = ChunkChoice(delta=delta)
        return ChatCompletionChunk(id=completion_id, created=created, choices=[choice])

    finished = False
    try:
        yield sse(chunk(Delta(role="assistant", content="")))
        while not isinstance(event := await events.next(), Finished):
            if isinstance(event, Text):
                yield sse(chunk(Delta(content=event.piece)))
        finished = True
        try:
            result = event.future.result()
        except Exception as exc:
            yield sse(ErrorResponse(error=as_api_error(exc).detail))
            return
        choice = ChunkChoice(delta=Delta(), finish_reason="stop")
        yield sse(
            FinalChunk(
                id=completion_id,
                created=created,
                choices=[choice],
                eyla=extension(result, job.ignored),
            )
        )
        yield sse("[DONE]")
    finally:
        if not finished:
            job.cancel.set()

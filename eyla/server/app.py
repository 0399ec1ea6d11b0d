"""The FastAPI app: `/v1/models` and `/v1/chat/completions` over Eyla's agent.

A request's API key names its user (auth.py): the owner's key (`api_key`), a user's key
from the store, or none while no key exists on loopback. Conversations map to that user's
Eyla sessions: the `X-Eyla-Session` header (a session id, or a title) or else the
request's `user` field (a title; the session is created on first use) picks it, or
`X-Eyla-New-Session: 1` asks for a new one (as `eyla ask` does); replies name it in the
same header and in `eyla.session_id`. Where each conversation's memory lives, and what a
request naming none gets, is up to the `Conversations` given (see conversations.py).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from eyla.server.auth import Keys, authenticate
from eyla.server.bind import accepted_hosts, is_loopback
from eyla.server.body import parse_chat_request, read_body
from eyla.server.browser import BrowserGuard
from eyla.server.conversations import Conversations
from eyla.server.disconnect import unless_client_leaves
from eyla.server.errors import ApiError, install_error_handlers
from eyla.server.limits import MAX_BODY_BYTES, QUEUE_SIZE
from eyla.server.schema import (
    MODEL_ID,
    AssistantMessage,
    ChatCompletion,
    Choice,
    ModelCard,
    ModelList,
)
from eyla.server.streaming import TurnEvents, reply_events, wait_for_start
from eyla.server.turns import NEW_SESSION_HEADER, SESSION_HEADER, extension, turn_spec
from eyla.server.worker import ModelWorker, TurnJob


def create_app(
    conversations: Conversations,
    api_key: str | None = None,
    queue_size: int = QUEUE_SIZE,
    max_body_bytes: int = MAX_BODY_BYTES,
    host: str = "127.0.0.1",
    allowed_hosts: Sequence[str] = (),
) -> FastAPI:
    """The server for `conversations`, bound to `host`; requests must name it, or one of
    `allowed_hosts`, in their Host header (see browser.py). Its model worker runs while
    the app's lifespan does; the caller still owns (and closes) the conversations and
    their agent."""
    worker = ModelWorker(conversations, queue_size)
    started_at = int(time.time())

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        worker.start()
        try:
            yield
        finally:
            worker.stop()

    # no /docs or /openapi.json: the pages need a CDN, and the server should say no more
    # about itself than the API it serves
    app = FastAPI(title="Eyla", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.worker = worker
    install_error_handlers(app)
    app.add_middleware(BrowserGuard, hosts=accepted_hosts(host, allowed_hosts))
    # the owner's key, and the users' keys in the store (read at every request)
    user_of = authenticate(Keys(api_key, conversations.users, loopback=is_loopback(host)))
    v1 = APIRouter(prefix="/v1", dependencies=[Depends(user_of)])

    @v1.get("/models")
    async def list_models() -> ModelList:
        return ModelList(data=[ModelCard(created=started_at)])

    @v1.get("/models/{model_id}")
    async def get_model(model_id: str) -> ModelCard:
        if model_id != MODEL_ID:
            raise ApiError(404, f"no model {model_id!r}", param="model", code="model_not_found")
        return ModelCard(created=started_at)

    @v1.post("/chat/completions", response_model=None)
    async def chat_completions(request: Request) -> Response:
        chat = parse_chat_request(await read_body(request, max_body_bytes))
        spec = turn_spec(
            chat,
            request.headers.get(SESSION_HEADER),
            conversations.decoding,
            request.headers.get(NEW_SESSION_HEADER),
        )
        job = TurnJob(
            spec.text,
            spec.session,
            spec.decoding,
            spec.earlier,
            spec.ignored,
            user_id=request.state.user_id,
        )
        completion_id, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
        if not chat.stream:
            worker.submit(job)
            result = await unless_client_leaves(request, job, asyncio.wrap_future(job.future))
            completion = ChatCompletion(
                id=completion_id,
                created=created,
                choices=[Choice(message=AssistantMessage(content=result.text))],
                eyla=extension(result, job.ignored),
            )
            return JSONResponse(
                completion.model_dump(), headers={SESSION_HEADER: str(result.session_id)}
            )

        events = TurnEvents(job)
        worker.submit(job)
        # answer 200 only once the turn has started, so that a failure to start (e.g. an
        # unknown session) is still a plain error response
        session_id = await unless_client_leaves(request, job, wait_for_start(events, job))
        stream = reply_events(events, job, completion_id, created)
        headers = {SESSION_HEADER: str(session_id), "Cache-Control": "no-cache"}
        return StreamingResponse(stream, media_type="text/event-stream", headers=headers)

    app.include_router(v1)
    return app

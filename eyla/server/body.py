"""Reading a request body: bounded in size, then parsed and validated, each failure with
its own status (413 too large, 400 not JSON, 422 wrong shape or types)."""

from __future__ import annotations

import json

from fastapi import Request
from pydantic import ValidationError

from eyla.server.errors import ApiError
from eyla.server.schema import ChatCompletionRequest


async def read_body(request: Request, limit: int) -> bytes:
    too_large = ApiError(413, f"request body over {limit} bytes", code="request_too_large")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    body = bytearray()
    # chunked uploads declare no length: count as they arrive
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise too_large
    return bytes(body)


def parse_chat_request(body: bytes) -> ChatCompletionRequest:
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise ApiError(400, "the request body is not valid JSON", code="invalid_json") from None
    try:
        return ChatCompletionRequest.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(part) for part in first["loc"]) or None
        message = f"{where}: {first['msg']}" if where else first["msg"]
        raise ApiError(422, message, param=where, code="invalid_value") from None

"""Every failure leaves as an OpenAI-style error object, `{"error": {message, type, param,
code}}`, never as a traceback: clients written for OpenAI parse these."""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from eyla.errors import EylaError
from eyla.server.conversations import TooManySessions, UnknownSession, UserGone
from eyla.server.disconnect import ClientLeft
from eyla.server.schema import ErrorDetail, ErrorResponse
from eyla.server.worker import QueueFull, TurnFailed, WorkerStopped


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        type_: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.detail = ErrorDetail(message=message, type=type_, param=param, code=code)
        self.headers = dict(headers or {})

    def response(self) -> JSONResponse:
        body = ErrorResponse(error=self.detail).model_dump()
        return JSONResponse(body, status_code=self.status, headers=self.headers)


def as_api_error(exc: BaseException) -> ApiError:
    """The client-facing form of anything a request or its turn raised."""
    match exc:
        case ApiError():
            return exc
        case QueueFull():
            headers = {"Retry-After": str(exc.retry_after)}
            return ApiError(503, str(exc), "server_error", code="queue_full", headers=headers)
        case WorkerStopped():
            return ApiError(503, str(exc), "server_error", code="shutting_down")
        case ClientLeft():
            # nginx's status for it: only the access log ever sees this answer
            return ApiError(499, str(exc), code="client_closed_request")
        case UnknownSession():
            return ApiError(404, str(exc), param="X-Eyla-Session", code="session_not_found")
        case UserGone():
            return ApiError(401, str(exc), code="invalid_api_key")
        case TooManySessions():
            return ApiError(409, str(exc), code="too_many_sessions")
        case EylaError():
            return ApiError(400, str(exc))
        case _:
            # TurnFailed, or a bug in a handler (which Starlette logs)
            return ApiError(500, "internal server error", "server_error")


def install_error_handlers(app: FastAPI) -> None:
    async def on_error(_request: Request, exc: Exception) -> JSONResponse:
        return as_api_error(exc).response()

    async def on_http_error(_request: Request, exc: HTTPException) -> JSONResponse:
        # Starlette's own 404 / 405 for unknown routes and methods
        code = "not_found" if exc.status_code == 404 else None
        return ApiError(exc.status_code, str(exc.detail), code=code).response()

    app.add_exception_handler(HTTPException, on_http_error)  # type: ignore[arg-type]
    # the expected errors by name: a handler for `Exception` alone would answer them but
    # also make Starlette re-raise them to the server log as crashes
    expected = (ApiError, ClientLeft, QueueFull, WorkerStopped, TurnFailed, EylaError)
    for error in (*expected, Exception):
        app.add_exception_handler(error, on_error)

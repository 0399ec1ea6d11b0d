"""Refusing what only a web browser would send, so that no web page can use the server.

A page cannot read the server's replies, but without these checks it could still write:
a `text/plain` POST needs no CORS preflight, so any page could plant memories in a
server on loopback; and a page whose DNS name is rebound to 127.0.0.1 is same-origin
with the server and could read them back. So:

    Host          must name the address the server is bound to (or a name given with
                  --allowed-host): a rebound name is refused (400)
    Origin        is refused whatever it says (403): browsers send it with every
                  cross-origin request, and the server has no web front end
    Content-Type  must be application/json on any request that carries a body or may
                  act (415): a page can send JSON cross-origin only after a preflight,
                  which the Origin rule refuses
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from eyla.server.bind import host_name
from eyla.server.errors import ApiError

# the methods that only read; any other must be JSON, even with an empty body
READ_ONLY = frozenset({"GET", "HEAD", "OPTIONS"})


def requested_host(header: str) -> str | None:
    """The name in a Host header (`name`, `name:port`, `[v6]`, `[v6]:port`), or None if
    it is malformed. The port is not compared: a proxy may forward from another."""
    if header.startswith("["):
        name, bracket, port = header[1:].partition("]")
        if not bracket or (port and not port.startswith(":")):
            return None
        port = port[1:]
    else:
        name, _, port = header.partition(":")
    if port and not (port.isascii() and port.isdigit()):
        return None
    return host_name(name)


class BrowserGuard:
    """ASGI middleware: answers a refused request with an OpenAI-style error before any
    route (or the body) is read."""

    def __init__(self, app: ASGIApp, hosts: frozenset[str]) -> None:
        self.app = app
        self.hosts = hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (refusal := self.refusal(scope)) is not None:
            await refusal.response()(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def refusal(self, scope: Scope) -> ApiError | None:
        headers = Headers(scope=scope)
        if requested_host(headers.get("host", "")) not in self.hosts:
            return ApiError(
                400,
                "the Host header does not name this server; a DNS name or address that "
                "clients use must be allowed with --allowed-host",
                param="Host",
                code="host_not_allowed",
            )
        if "origin" in headers:
            return ApiError(
                403,
                "requests from web pages (with an Origin header) are refused: "
                "this server has no web front end",
                param="Origin",
                code="origin_not_allowed",
            )
        if _may_act(scope["method"], headers) and not _is_json(headers):
            return ApiError(
                415,
                "the request body must be JSON, sent as 'Content-Type: application/json'",
                param="Content-Type",
                code="unsupported_media_type",
            )
        return None


def _may_act(method: str, headers: Headers) -> bool:
    has_body = headers.get("content-length", "0") != "0" or "transfer-encoding" in headers
    return has_body or method not in READ_ONLY


def _is_json(headers: Headers) -> bool:
    media_type = headers.get("content-type", "").partition(";")[0]
    return media_type.strip().lower() == "application/json"

"""uvicorn's server, announcing itself in the server file (presence.py) while it listens."""

from __future__ import annotations

import socket
from dataclasses import replace
from pathlib import Path

import uvicorn

from eyla.server.presence import Presence, publish, withdraw


class AnnouncedServer(uvicorn.Server):
    """Writes the server file once its socket listens, so that a client which finds the
    file can connect at once, and removes it as soon as shutdown begins, so that no new
    `eyla ask` is sent to a server on its way out; and on any exit, a crash included.

    `presence` is completed with the address actually bound (port 0 picks a free one)."""

    def __init__(self, config: uvicorn.Config, home: Path, presence: Presence) -> None:
        super().__init__(config)
        self.home = home
        self.presence = presence
        self.announced = False

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started and not self.should_exit:
            host, port = self.servers[0].sockets[0].getsockname()[:2]
            self.presence = replace(self.presence, host=host, port=port)
            publish(self.home, self.presence)
            self.announced = True

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self._withdraw()
        await super().shutdown(sockets=sockets)

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        try:
            await super().serve(sockets=sockets)
        finally:
            self._withdraw()

    def _withdraw(self) -> None:
        if self.announced:
            withdraw(self.home, self.presence.pid)
            self.announced = False

"""`eyla serve`: run the OpenAI-compatible server in the foreground."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer

from eyla.config import Settings
from eyla.options import ModelOpt, quiet_libraries, settings_from_flags
from eyla.server.bind import require_key_for
from eyla.server.limits import QUEUE_SIZE

if TYPE_CHECKING:
    from eyla.server.conversations import Conversations


def serve(
    host: Annotated[
        str, typer.Option("--host", help="Address to bind; off loopback an API key is required.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port to bind.")] = 8000,
    api_key: Annotated[
        str | None,
        typer.Option(
            "--api-key",
            help="Require 'Authorization: Bearer <key>'. Default: $EYLA_API_KEY.",
            show_default=False,
        ),
    ] = None,
    model: ModelOpt = None,
    queue_size: Annotated[
        int,
        typer.Option("--queue-size", min=1, help="Requests that may wait; more get 503."),
    ] = QUEUE_SIZE,
    ephemeral: Annotated[
        bool,
        typer.Option(
            "--ephemeral",
            help="Remember nothing: each conversation gets a throwaway memory, and the data "
            "dir's memory is never opened (for probes, scanners and demos).",
        ),
    ] = False,
) -> None:
    """Serve Eyla over an OpenAI-compatible API (/v1/chat/completions, /v1/models)."""
    # read here rather than by typer, so that calling serve() directly honours it too
    key = api_key or os.environ.get("EYLA_API_KEY") or None
    require_key_for(host, key)
    settings = settings_from_flags(model)

    # the heavy imports wait until the arguments are known to be good
    import uvicorn

    from eyla.server.app import create_app

    quiet_libraries()  # uvicorn logs what the server does
    typer.echo(f"loading Eyla ({settings.model})...", err=True)
    with _conversations(settings, ephemeral) as conversations:
        app = create_app(conversations, api_key=key, queue_size=queue_size)
        uvicorn.run(app, host=host, port=port, log_level="info")


@contextmanager
def _conversations(settings: Settings, ephemeral: bool) -> Iterator[Conversations]:
    from eyla.agent import Agent
    from eyla.identity import load_identity
    from eyla.server.conversations import SharedStore, ThrowawayStores
    from models.eyla_model import load_eyla_model

    if ephemeral:
        identity = load_identity(settings.agent.identity)
        with ThrowawayStores(load_eyla_model(settings), identity, settings) as throwaway:
            yield throwaway
        return
    agent = Agent.open(settings)
    try:
        yield SharedStore(agent)
    finally:
        agent.close()

"""`eyla serve`: run the OpenAI-compatible server in the foreground."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from eyla.config import read_settings
from eyla.server.bind import require_key_for
from eyla.server.limits import QUEUE_SIZE


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
    model: Annotated[
        str | None, typer.Option("--model", help="'embedded', a HF model dir, or a .gguf file.")
    ] = None,
    queue_size: Annotated[
        int,
        typer.Option("--queue-size", min=1, help="Requests that may wait; more get 503."),
    ] = QUEUE_SIZE,
) -> None:
    """Serve Eyla over an OpenAI-compatible API (/v1/chat/completions, /v1/models)."""
    # read here rather than by typer, so that calling serve() directly honours it too
    key = api_key or os.environ.get("EYLA_API_KEY") or None
    require_key_for(host, key)
    settings = read_settings()
    if model is not None:
        settings.model = model

    # the heavy imports wait until the arguments are known to be good
    import uvicorn

    from eyla.agent import Agent
    from eyla.server.app import create_app
    from models.loading import quiet_transformers

    quiet_transformers()  # uvicorn logs what the server does
    typer.echo(f"loading Eyla ({settings.model})...", err=True)
    agent = Agent.open(settings)
    try:
        app = create_app(agent, api_key=key, queue_size=queue_size)
        uvicorn.run(app, host=host, port=port, log_level="info")
    finally:
        agent.close()

"""`eyla serve`: run the OpenAI-compatible server in the foreground."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from eyla.config import Settings
from eyla.errors import EylaError
from eyla.options import ModelOpt, quiet_libraries, settings_from_flags
from eyla.server.bind import accepted_hosts, is_loopback, require_key_for
from eyla.server.limits import QUEUE_SIZE
from eyla.server.presence import Presence, settings_digest

if TYPE_CHECKING:
    from eyla.server.conversations import Conversations

KEY_VARIABLE = "EYLA_API_KEY"


def serve(
    host: Annotated[
        str, typer.Option("--host", help="Address to bind; off loopback an API key is required.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port to bind.")] = 8000,
    api_key_file: Annotated[
        Path | None,
        typer.Option(
            "--api-key-file",
            help="Require 'Authorization: Bearer <key>', the key read from this file (one "
            f"line). Default: ${KEY_VARIABLE}.",
            show_default=False,
        ),
    ] = None,
    allowed_host: Annotated[
        list[str] | None,
        typer.Option(
            "--allowed-host",
            metavar="HOST",
            help="A DNS name or address clients reach the server by (e.g. behind a proxy); "
            "repeatable. Requests must name the bound address in their Host header (on "
            "loopback: localhost, 127.0.0.1 or [::1]); a bind to every address (0.0.0.0, "
            "::) accepts only these names and the loopback ones.",
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
    key = api_key(api_key_file)
    accepted_hosts(host, allowed_host or ())  # refuses a malformed name before loading
    settings = settings_from_flags(model)
    if not key and not is_loopback(host):
        require_key_for(host, not ephemeral and _user_keys_exist(settings))

    # the heavy imports wait until the arguments are known to be good
    import uvicorn

    from eyla.server.announce import AnnouncedServer
    from eyla.server.app import create_app

    quiet_libraries()  # uvicorn logs what the server does
    typer.echo(f"loading Eyla ({settings.model})...", err=True)
    with _conversations(settings, ephemeral) as conversations:
        app = create_app(
            conversations,
            api_key=key,
            queue_size=queue_size,
            host=host,
            allowed_hosts=allowed_host or (),
        )
        config = uvicorn.Config(app, host=host, port=port, log_level="info")
        # only a server `eyla ask` may stand in for is announced: one that keeps the data
        # dir's memory (an ephemeral one forgets what an in-process ask would remember),
        # on loopback (the owner's key is not sent over a network)
        if ephemeral or not is_loopback(host):
            uvicorn.Server(config).run()
        else:
            presence = Presence(
                os.getpid(), host, port, settings_digest(settings), _key_file(api_key_file)
            )
            AnnouncedServer(config, settings.home, presence).run()


def api_key(path: Path | None) -> str | None:
    """The key from `path`, else from $EYLA_API_KEY (read here rather than by typer, so
    that calling serve() directly honours it too), else None. Never an option's value:
    the command line is visible to every user of the machine (`ps`)."""
    if path is not None:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise EylaError(f"cannot read the API key file {path}: {exc}") from exc
        # the one line break an editor or `echo` ends the file with (LF or CRLF)
        key, where = text.removesuffix("\n").removesuffix("\r"), str(path)
    elif (key := os.environ.get(KEY_VARIABLE)) is not None:
        where = f"${KEY_VARIABLE}"
    else:
        return None
    if not key.strip():
        raise EylaError(f"the API key in {where} is blank")
    # it must survive a header as sent: HTTP trims the ends and carries ASCII
    if key != key.strip() or not (key.isascii() and key.isprintable()):
        raise EylaError(
            f"the API key in {where} must be one line of printable ASCII, "
            "without spaces at either end"
        )
    return key


def _key_file(path: Path | None) -> str | None:
    """Where the owner's key is kept, for `eyla ask` (which runs in another directory)."""
    return str(path.expanduser().resolve()) if path is not None else None


def _user_keys_exist(settings: Settings) -> bool:
    from memory.store import MemoryStore

    with MemoryStore.open(settings.home, settings.memory) as store:
        return store.any_user_key()


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

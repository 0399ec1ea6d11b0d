"""The `eyla` command."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, ClassVar

import typer
from rich.console import Console
from rich.markup import escape

from eyla.config import Settings, setting_source
from eyla.errors import EylaError
from eyla.lazy import LazyGroup
from eyla.options import (
    MaxNewTokensOpt,
    ModelOpt,
    SeedOpt,
    TemperatureOpt,
    quiet_libraries,
    settings_from_flags,
)

if TYPE_CHECKING:
    # the modules `Commands` loads by name, spelled as imports for readers and tools that
    # follow imports; at run time each is imported only when its command runs
    import eyla.probes.cli
    import eyla.report.cli
    import eyla.server.cli
    import eyla.training.cli
    import eyla.users  # noqa: F401
    import memory.cli  # noqa: F401


class Commands(LazyGroup):
    # Each imported only when it runs, or when help lists it: the other commands' imports
    # (the store's SQLAlchemy, numpy, the probes) would cost `eyla ask` a second.
    lazy: ClassVar[Mapping[str, str]] = {
        "serve": "eyla.server.cli:serve",
        "memory": "memory.cli:app",
        "users": "eyla.users:app",
        "train": "eyla.training.cli:app",
        "probe": "eyla.probes.cli:probe",
        "report": "eyla.report.cli:report",
    }


app = typer.Typer(
    name="eyla",
    help="Eyla: a local-first agent OS around an identity-anchored language model.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    cls=Commands,
)
err = Console(stderr=True)

SessionOpt = Annotated[
    int | None, typer.Option("--session", help="Continue this session (default: a new one).")
]


def _load_model(settings: Settings):
    quiet_libraries()
    from models.eyla_model import load_eyla_model

    with err.status(f"loading model ({settings.model})..."):
        return load_eyla_model(settings)


def _open_agent(settings: Settings, session: int | None):
    quiet_libraries()
    from eyla.agent import Agent

    with err.status(f"loading Eyla ({settings.model})..."):
        return Agent.open(settings, session)


def _write(piece: str) -> None:
    sys.stdout.write(piece)
    sys.stdout.flush()


NoServerOpt = Annotated[
    bool,
    typer.Option(
        "--no-server",
        help="Answer in this process even when an `eyla serve` on this data dir is running.",
    ),
]


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="What to ask Eyla; '-' reads stdin.")],
    model: ModelOpt = None,
    max_new_tokens: MaxNewTokensOpt = None,
    temperature: TemperatureOpt = None,
    seed: SeedOpt = None,
    session: SessionOpt = None,
    no_server: NoServerOpt = False,
) -> None:
    """Ask one question; the answer streams to stdout.

    An `eyla serve` running on this data dir answers with its warm model, if it can."""
    if question == "-":
        question = sys.stdin.read()
    if not question.strip():
        raise EylaError("empty prompt: ask a question")
    settings = settings_from_flags(model, max_new_tokens, temperature, seed)
    if not no_server:
        from eyla.resident import ask_resident

        answer = ask_resident(settings, question, session, _write)
        if answer is not None:
            _after_answer(answer.notice, answer.cancelled)
            return
    agent = _open_agent(settings, session)
    cancel = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: cancel.set())
    try:
        result = agent.turn(question, on_text=_write, cancel=cancel)
    finally:
        agent.close()
    sys.stdout.write("\n")
    if result:
        _after_answer(result.notice, result.cancelled)


def _after_answer(notice: str | None, cancelled: bool) -> None:
    """What follows the answer on stderr, wherever it came from."""
    if notice:
        err.print(f"[yellow]notice:[/] {notice}", soft_wrap=True)
    if cancelled:
        err.print("[yellow]cancelled[/]")
        raise typer.Exit(130)


@app.command()
def chat(
    plain: Annotated[bool, typer.Option("--plain", help="Line mode, no TUI.")] = False,
    model: ModelOpt = None,
    max_new_tokens: MaxNewTokensOpt = None,
    temperature: TemperatureOpt = None,
    seed: SeedOpt = None,
    session: SessionOpt = None,
) -> None:
    """Talk with Eyla: the terminal UI, or a line-mode chat with --plain."""
    settings = settings_from_flags(model, max_new_tokens, temperature, seed)
    if plain:
        from eyla.chat import PlainChat

        agent = _open_agent(settings, session)
        try:
            PlainChat(agent).run()
        finally:
            agent.close()
        return
    from tui.app import run_chat

    def open_agent():
        # runs on the app's loading screen: no spinner of ours
        quiet_libraries()
        from eyla.agent import Agent

        return Agent.open(settings, session)

    run_chat(open_agent)


@app.command()
def info(
    model: ModelOpt = None,
    reprobe: Annotated[
        bool,
        typer.Option(
            "--reprobe",
            help='Forget the cached dtype measurements: under dtype = "auto", measure again.',
        ),
    ] = False,
) -> None:
    """Print the model, its size, dtype (and why), device, cache path, data dir and subsystems."""
    settings = settings_from_flags(model)
    if reprobe:
        from models.dtype_probe import forget

        forget(settings.cache_dir)
    eyla = _load_model(settings)
    base = eyla.base
    dtype = str(base.dtype).removeprefix("torch.")
    if base.dtype_choice is not None:
        dtype = base.dtype_choice.describe(setting_source("dtype"))
    rows = {
        "model": str(base.source),
        "fingerprint": base.fingerprint[:16],
        "parameters": f"{base.n_parameters:,}",
        "dtype": dtype,
        "device": str(base.model.device),
        "context window": str(base.context_window),
        "cache": str(base.cache_path or "-"),
        "data dir": str(settings.home),
    }
    for key, value in rows.items():
        typer.echo(f"{key:>15}: {value}")
    # A zero-initialised factor still at zero means the subsystem has not been trained and
    # contributes nothing.
    typer.echo("\n     subsystem  kind          parameters  largest zero-init factor")
    for sub in eyla.subsystems.neural():
        gates = [float(g.detach().abs().max()) for g in sub.gates()]
        moved = max(gates, default=0.0)
        params = sum(p.numel() for p in sub.parameters())
        state = f"{moved:.4f}" if moved else "0 (untrained)"
        typer.echo(f"{sub.name:>14}  {sub.kind:<12}  {params:>10,}  {state}")


def main() -> None:
    """Console entry point: user errors become one line on stderr and exit status 1."""
    try:
        app()
    except EylaError as exc:
        err.print(f"[red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        sys.exit(1)
    except KeyboardInterrupt:
        err.print("[yellow]interrupted[/]")
        sys.exit(130)

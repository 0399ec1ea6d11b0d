"""The `eyla` command."""

from __future__ import annotations

import signal
import sys
import threading
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from eyla.config import Settings
from eyla.errors import EylaError
from eyla.options import (
    MaxNewTokensOpt,
    ModelOpt,
    SeedOpt,
    TemperatureOpt,
    quiet_libraries,
    settings_from_flags,
)
from eyla.probes.cli import probe
from eyla.report.cli import report
from eyla.server.cli import serve
from eyla.training.cli import app as train_app
from eyla.users import app as users_app
from memory.cli import app as memory_app

app = typer.Typer(
    name="eyla",
    help="Eyla: a local-first agent OS around an identity-anchored language model.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(memory_app, name="memory")
app.command("serve")(serve)
app.add_typer(users_app, name="users")
app.add_typer(train_app, name="train")
app.command("probe")(probe)
app.command("report")(report)
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


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="What to ask Eyla; '-' reads stdin.")],
    model: ModelOpt = None,
    max_new_tokens: MaxNewTokensOpt = None,
    temperature: TemperatureOpt = None,
    seed: SeedOpt = None,
    session: SessionOpt = None,
) -> None:
    """Ask one question; the answer streams to stdout."""
    if question == "-":
        question = sys.stdin.read()
    if not question.strip():
        raise EylaError("empty prompt: ask a question")
    settings = settings_from_flags(model, max_new_tokens, temperature, seed)
    agent = _open_agent(settings, session)
    cancel = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: cancel.set())
    try:
        result = agent.turn(question, on_text=_write, cancel=cancel)
    finally:
        agent.close()
    sys.stdout.write("\n")
    if result and result.notice:
        err.print(f"[yellow]notice:[/] {result.notice}", soft_wrap=True)
    if result and result.cancelled:
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
def info(model: ModelOpt = None) -> None:
    """Print the model, its size, dtype, device, cache path, data dir and subsystems."""
    settings = settings_from_flags(model)
    eyla = _load_model(settings)
    base = eyla.base
    rows = {
        "model": str(base.source),
        "fingerprint": base.fingerprint[:16],
        "parameters": f"{base.n_parameters:,}",
        "dtype": str(base.dtype).removeprefix("torch."),
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

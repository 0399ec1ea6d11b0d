"""The `eyla` command."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from typing import Annotated

import typer
from rich.console import Console

from eyla.config import DecodingConfig, Settings
from eyla.errors import EylaError

app = typer.Typer(
    name="eyla",
    help="Eyla: a local-first agent OS around an identity-anchored language model.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
err = Console(stderr=True)

ModelOpt = Annotated[
    str | None, typer.Option("--model", help="'embedded', a HF model dir, or a .gguf file.")
]
MaxTokensOpt = Annotated[int | None, typer.Option("--max-new-tokens", min=1, help="Reply cap.")]
TemperatureOpt = Annotated[
    float | None, typer.Option("--temperature", min=0.0, help="0 = greedy.")
]
SeedOpt = Annotated[int | None, typer.Option("--seed", help="Sampling seed.")]


def load_settings(
    model: str | None = None,
    max_new_tokens: int | None = None,
    temperature: float | None = None,
    seed: int | None = None,
) -> Settings:
    settings = Settings()
    if model is not None:
        settings.model = model
    overrides = {
        "max_new_tokens": max_new_tokens,
        "temperature": temperature,
        "seed": seed,
    }
    decoding = settings.decoding.model_dump() | {k: v for k, v in overrides.items() if v is not None}
    settings.decoding = DecodingConfig(**decoding)
    return settings


def _quiet_libraries() -> None:
    """Library progress bars and warnings are noise on a warm start; ours show progress."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")


def _load_model(settings: Settings):
    _quiet_libraries()
    from models.eyla_model import load_eyla_model

    with err.status(f"loading model ({settings.model})..."):
        return load_eyla_model(settings)


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="What to ask Eyla.")],
    model: ModelOpt = None,
    max_new_tokens: MaxTokensOpt = None,
    temperature: TemperatureOpt = None,
    seed: SeedOpt = None,
) -> None:
    """Ask one question; the answer streams to stdout."""
    if not question.strip():
        raise EylaError("empty prompt: ask a question")
    settings = load_settings(model, max_new_tokens, temperature, seed)
    eyla = _load_model(settings)
    from models.eyla_model import Reply

    cancel = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: cancel.set())
    reply = Reply()
    messages = [{"role": "user", "content": question}]
    for piece in eyla.stream(messages, settings.decoding, cancel, reply):
        if reply.notice:
            err.print(f"[yellow]notice:[/] {reply.notice}")
            reply.notice = None
        sys.stdout.write(piece)
        sys.stdout.flush()
    sys.stdout.write("\n")
    if reply.cancelled:
        err.print("[yellow]cancelled[/]")
        raise typer.Exit(130)


@app.command()
def info(model: ModelOpt = None) -> None:
    """Print the model, its size, dtype, device, cache path and data dir."""
    settings = load_settings(model)
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


def main() -> None:
    """Console entry point: user errors become one line on stderr and exit status 1."""
    try:
        app()
    except EylaError as exc:
        err.print(f"[red]error:[/] {exc}", highlight=False)
        sys.exit(1)
    except KeyboardInterrupt:
        err.print("[yellow]interrupted[/]")
        sys.exit(130)

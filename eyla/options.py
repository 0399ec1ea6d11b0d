"""What every `eyla` command shares: the `--model` option and the decoding flags, the one
way from those flags to `Settings`, and quieting the model libraries."""

from __future__ import annotations

import logging
from typing import Annotated

import typer
from pydantic import ValidationError

from eyla.config import DecodingConfig, Settings, read_settings
from eyla.errors import EylaError, first_problem

ModelOpt = Annotated[
    str | None,
    typer.Option(
        "--model", help="'embedded', a HF model dir, or a .gguf file (default: settings)."
    ),
]
MaxNewTokensOpt = Annotated[
    int | None, typer.Option("--max-new-tokens", min=1, help="Reply length cap.")
]
TemperatureOpt = Annotated[float | None, typer.Option("--temperature", min=0.0, help="0 = greedy.")]
SeedOpt = Annotated[int | None, typer.Option("--seed", help="Sampling seed.")]


def settings_from_flags(
    model: str | None = None,
    max_new_tokens: int | None = None,
    temperature: float | None = None,
    seed: int | None = None,
) -> Settings:
    """The settings (defaults < eyla.toml < EYLA_* variables), with the flags given on the
    command line over them; a flag left out (None) keeps the setting."""
    settings = read_settings()
    if model is not None:
        settings.model = model
    flags = {"max_new_tokens": max_new_tokens, "temperature": temperature, "seed": seed}
    given = {name: value for name, value in flags.items() if value is not None}
    try:
        # built anew, not copied, so that a flag out of the settings' range is refused
        settings.decoding = DecodingConfig(**(settings.decoding.model_dump() | given))
    except ValidationError as exc:
        where, what = first_problem(exc, "decoding")
        raise EylaError(f"bad --{where.replace('_', '-')}: {what}") from exc
    return settings


def quiet_libraries() -> None:
    """Library progress bars and warnings are noise on a warm start and tear through our
    own progress displays; warnings of our own still show, one line each."""
    from models.loading import quiet_transformers

    quiet_transformers()
    # does nothing where handlers are set already (the TUI routes logging to the app)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")

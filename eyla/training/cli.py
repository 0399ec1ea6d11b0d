"""`eyla train ...`: train subsystems into the data dir (never over the shipped weights)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from eyla.config import read_settings

app = typer.Typer(help="Train Eyla's subsystems.", no_args_is_help=True)


@app.command()
def identity(
    steps: Annotated[int, typer.Option(min=1, help="Optimiser steps.")] = 300,
    batch_size: Annotated[int, typer.Option(min=1, help="Conversations per step.")] = 8,
    lr: Annotated[float, typer.Option(min=0.0, help="Learning rate.")] = 1e-3,
    seed: Annotated[int, typer.Option(help="Seed for data, init and sampling.")] = 0,
    model: Annotated[str | None, typer.Option(help="Base model (default: settings).")] = None,
    out: Annotated[
        Path | None, typer.Option(help="Where to save the trained set (default: data dir).")
    ] = None,
) -> None:
    """Train adapters, identity prefix and SSM side-cars on identity data from the spec.

    Interrupted runs resume from their last checkpoint when rerun with the same options.
    """
    from eyla.identity import load_identity
    from eyla.training.identity_train import IdentityTrainConfig, train_identity
    from models.loading import load_base

    settings = read_settings()
    spec = load_identity(settings.agent.identity)
    cfg = IdentityTrainConfig(steps=steps, batch_size=batch_size, lr=lr, seed=seed)
    console = Console(stderr=True)
    with console.status("loading the base model in float32 for training..."):
        base = load_base(model or settings.model, cache_dir=settings.cache_dir, dtype="float32")
    out_dir = out or settings.home / "weights" / "identity"
    work_dir = settings.home / "training" / "identity"
    report = train_identity(base, spec, cfg, out_dir, work_dir)
    console.print(
        f"trained {report.steps} steps in {report.seconds:.0f} s; loss "
        f"{report.first_loss:.3f} -> {report.last_loss:.3f}; saved to {report.out_dir}"
    )

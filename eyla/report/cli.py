"""`eyla report`: registered by `eyla/cli.py` as `app.command("report")(report)`; the heavy
imports wait until the options have been checked."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from pydantic import ValidationError
from rich.console import Console

from eyla.config import Settings
from eyla.errors import EylaError, first_problem
from eyla.options import ModelOpt, quiet_libraries, settings_from_flags
from eyla.report.probes import DEFAULT_PROBES, PROBE_SETS, parse_probes
from eyla.report.schema import DEFAULT_REPLY_TOKENS, ReportOptions, Thresholds
from models.shapley import DEFAULT_ORDERS

if TYPE_CHECKING:
    from memory.embedder import Embedder
    from models.eyla_model import EylaModel

FILES = {"json": "report.json", "markdown": "report.md", "chart": "report.png"}
# option fields as the flags that set them, for one-line errors
FLAGS = {
    "max_new_tokens": "--max-new-tokens",
    "orders": "--orders",
    "kl": "--kl-threshold",
    "ics": "--ics-threshold",
}


def report(
    probes: Annotated[
        list[str] | None,
        typer.Option(
            "--probes",
            "-p",
            help=f"SET[:N], repeatable: SET is one of {', '.join(PROBE_SETS)}, N the items "
            f"taken from it. Default: {' and '.join(DEFAULT_PROBES)}.",
        ),
    ] = None,
    subsystems: Annotated[
        list[str] | None,
        typer.Option(
            "--subsystems",
            "-s",
            help="Groups to switch off, e.g. adapter,prefix,uncertainty+confidence_gate "
            "('+' joins a group). Default: every subsystem alone, the uncertainty head with "
            "the confidence gate.",
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Output dir. Default: <data dir>/reports/<date-time>."),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Decoding, bootstrap and sampling seed.")] = 0,
    max_new_tokens: Annotated[
        int, typer.Option("--max-new-tokens", help="Reply length cap.")
    ] = DEFAULT_REPLY_TOKENS,
    kl_threshold: Annotated[
        float, typer.Option("--kl-threshold", help="Dead weight: mean KL under this (nats)...")
    ] = Thresholds().kl,
    ics_threshold: Annotated[
        float,
        typer.Option("--ics-threshold", help="...and ICS and honesty changes under this (points)."),
    ] = Thresholds().ics,
    orders: Annotated[
        int, typer.Option("--orders", help="Random orders for Shapley values past 6 groups.")
    ] = DEFAULT_ORDERS,
    model: ModelOpt = None,
) -> None:
    """Measure how much each subsystem changes what Eyla says, by switching it off."""
    started = time.monotonic()
    settings = settings_from_flags(model)
    try:
        options = ReportOptions(
            out=out or settings.home / "reports" / datetime.now().strftime("%Y%m%d-%H%M%S"),
            probes=probes or list(DEFAULT_PROBES),
            subsystems=subsystems,
            seed=seed,
            max_new_tokens=max_new_tokens,
            orders=orders,
            thresholds=Thresholds(kl=kl_threshold, ics=ics_threshold),
        )
    except ValidationError as exc:
        where, what = first_problem(exc, "option")
        raise EylaError(f"bad {FLAGS.get(where, where)}: {what}") from exc
    parse_probes(options.probes)  # a typo fails now, not after the model has loaded
    for label, path in run_report(options, settings, started).items():
        typer.echo(f"{label + ':':<10}{path}")


def run_report(
    options: ReportOptions,
    settings: Settings,
    started: float,
    load_model: Callable[[], EylaModel] | None = None,
    embedder: Embedder | None = None,
) -> dict[str, Path]:
    """Measure (loading the model and embedder unless given), print the table, and write
    JSON, Markdown and the chart into `options.out`; returns the files by label."""
    from eyla.identity import load_identity
    from eyla.report.build import build_report
    from eyla.report.chart import write_chart
    from eyla.report.render import markdown, table
    from memory.embedder import SentenceTransformerEmbedder

    identity = load_identity(settings.agent.identity)
    progress = Console(stderr=True)
    with progress.status(f"loading model ({settings.model})..."):
        eyla = (load_model or _loader(settings))()
    memory = settings.memory
    embedder = embedder or SentenceTransformerEmbedder(memory.embedder, memory.embed_batch_size)
    result = build_report(options, settings, identity, eyla, embedder, progress, started)
    options.out.mkdir(parents=True, exist_ok=True)
    files = {label: options.out / name for label, name in FILES.items()}
    files["json"].write_text(result.model_dump_json(indent=2), encoding="utf-8")
    files["markdown"].write_text(markdown(result), encoding="utf-8")
    write_chart(files["chart"], result)
    Console().print(table(result))
    return files


def _loader(settings: Settings) -> Callable[[], EylaModel]:
    from models.eyla_model import load_eyla_model

    quiet_libraries()
    return lambda: load_eyla_model(settings)

"""`eyla probe`: measure identity consistency. Registered by `eyla/cli.py` as
`app.command("probe")(probe)`; the heavy imports wait until the command runs."""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from eyla.errors import EylaError
from eyla.options import MaxNewTokensOpt, ModelOpt, quiet_libraries, settings_from_flags
from eyla.probes.suites import ICS_SUITE, SUITE_NAMES, load_suite

if TYPE_CHECKING:
    from eyla.identity import IdentitySpec
    from eyla.probes.rubric import Judge

DEFAULT_TARGETS = ("eyla", "base", "base-raw")


def probe(
    target: Annotated[
        list[str] | None,
        typer.Option(
            "--target",
            "-t",
            help="eyla, base, base-raw, hf:PATH, gguf:PATH or openai:URL[?model=NAME]; "
            "repeat for a side-by-side table. Default: eyla, base and base-raw.",
        ),
    ] = None,
    suite: Annotated[
        list[str] | None,
        typer.Option(
            "--suite",
            "-s",
            help=f"{', '.join(SUITE_NAMES)}; repeatable. Default: {ICS_SUITE}.",
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="Output dir; rerunning with the same dir resumes. "
            "Default: <data dir>/probes/<date-time>.",
        ),
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option(
            "--limit",
            min=1,
            help="At most N items (conversations) per suite, taken across its categories in turn.",
        ),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Decoding and bootstrap seed.")] = 0,
    judge: Annotated[
        str,
        typer.Option(
            "--judge",
            help="'fitted' (deterministic, weighed to agree with blind readers), 'rubric' "
            "(the plain rules) or openai:URL[?model=NAME].",
        ),
    ] = "fitted",
    api_key_env: Annotated[
        str | None,
        typer.Option(
            "--api-key-env",
            metavar="NAME",
            help="Send the key in environment variable NAME to every openai: target and "
            "judge (https, or http on loopback only). Default: $OPENAI_API_KEY to "
            "https://api.openai.com alone, no key elsewhere.",
            show_default=False,
        ),
    ] = None,
    model: ModelOpt = None,
    max_new_tokens: MaxNewTokensOpt = None,
    agreement: Annotated[
        bool,
        typer.Option(
            "--agreement",
            help="Run no target: score the blind readers' labelled replies with --judge and "
            "print its agreement with them (Spearman, ICS per target) and a chart in --out.",
        ),
    ] = False,
) -> None:
    """Run the identity probes (ICS-50 and extended suites) against one or more targets."""
    from eyla.identity import load_identity
    from eyla.probes.records import RunConfig

    if agreement and (target or suite or limit):
        raise EylaError("--agreement scores the labelled replies: drop --target, --suite, --limit")
    targets = list(target or DEFAULT_TARGETS)
    suites = list(dict.fromkeys(suite or [ICS_SUITE]))
    settings = settings_from_flags(model, max_new_tokens, seed=seed)
    identity = load_identity(settings.agent.identity)
    chosen_judge = make_judge(judge, identity, api_key_env)
    out = out or settings.home / "probes" / datetime.now().strftime("%Y%m%d-%H%M%S")
    if agreement:
        show_agreement(chosen_judge, identity, out / "agreement.png", seed)
        return

    loaded = [load_suite(name).rendered(identity).limited(limit) for name in suites]
    config = RunConfig(
        seed=seed,
        decoding=settings.decoding.model_dump(),
        identity={
            "name": identity.name,
            "sha256": hashlib.sha256(identity.model_dump_json().encode()).hexdigest()[:16],
        },
    )
    quiet_libraries()
    from eyla.probes.runner import Runner
    from eyla.probes.targets import build_targets, check_target_names
    from models.eyla_model import load_eyla_model

    check_target_names(targets)
    built = build_targets(
        targets,
        settings,
        identity,
        out / "memory",
        load_model=lambda: load_eyla_model(settings),
        api_key_env=api_key_env,
    )
    result = Runner(built, loaded, chosen_judge, config, out, limit).run()
    typer.echo(f"report: {result.report}\ntable:  {result.table}\nchart:  {result.chart}")


def make_judge(spec: str, identity: IdentitySpec, api_key_env: str | None = None) -> Judge:
    """'fitted', 'rubric', or 'openai:URL' for an LLM judge on any OpenAI-compatible server
    (sent the key in `api_key_env`, see `openai_api.api_key_for`)."""
    kind, _, rest = spec.partition(":")
    if spec == "fitted":
        from eyla.probes.fitted import FittedJudge

        return FittedJudge(identity)
    if spec == "rubric":
        from eyla.probes.judge import RubricJudge

        return RubricJudge(identity)
    if kind == "openai" and rest:
        from eyla.probes.llm_judge import LLMJudge
        from eyla.probes.openai_api import ChatClient, Endpoint

        return LLMJudge(ChatClient(Endpoint.parse(rest), api_key_env=api_key_env), identity)
    raise EylaError(f"unknown judge {spec!r}: use 'fitted', 'rubric' or openai:URL")


def show_agreement(judge: Judge, identity: IdentitySpec, chart: Path, seed: int) -> None:
    """Print how `judge` agrees with the blind readers and chart it at `chart`."""
    from rich.console import Console

    from eyla.probes.agreement_report import misses, report

    console = Console()
    result = report(console, [judge], identity, chart, seed)
    missed = misses(result)
    verdict = f"misses on the untuned rows: {'; '.join(missed)}" if missed else "meets every target"
    console.print(f"{result.judge} {verdict} (issue #17)")

"""`eyla train ...`: train subsystems into the data dir (never over the shipped weights)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from eyla.options import ModelOpt, quiet_libraries, settings_from_flags
from eyla.training.identity_config import IdentityTrainConfig, Teacher, default

if TYPE_CHECKING:
    from rich.table import Table

    from eyla.training.identity_eval import IdentityEvaluation

app = typer.Typer(help="Train Eyla's subsystems.", no_args_is_help=True)

# read once here: ruff's B008 allows a call in a signature only for plain types, not a Literal
DEFAULT_TEACHER: Teacher = IdentityTrainConfig.model_fields["teacher"].default


@app.command()
def identity(
    steps: Annotated[int, typer.Option(min=1, help="Optimiser steps.")] = default("steps"),
    batch_size: Annotated[int, typer.Option(min=1, help="Conversations per step.")] = default(
        "batch_size"
    ),
    lr: Annotated[float, typer.Option(min=0.0, help="Learning rate.")] = default("lr"),
    kl_weight: Annotated[
        float,
        typer.Option(min=0.0, help="Weight of KL(base || model) on neutral prompts."),
    ] = default("kl_weight"),
    teacher: Annotated[
        Teacher,
        typer.Option(
            help="The KL's teacher: the base under the anchor, or under a plain system text "
            "with quiz questions among the neutral prompts (README: the training data)."
        ),
    ] = DEFAULT_TEACHER,
    seed: Annotated[int, typer.Option(help="Seed for data, init and sampling.")] = default("seed"),
    model: ModelOpt = None,
    out: Annotated[
        Path | None, typer.Option(help="Where to save the trained set (default: data dir).")
    ] = None,
) -> None:
    """Train adapters, identity prefix and SSM side-cars on identity data from the spec.

    Interrupted runs resume from their last checkpoint when rerun with the same options.
    """
    from eyla.errors import EylaError
    from eyla.identity import load_identity
    from eyla.training.identity_train import train_identity
    from models.eyla_model import WEIGHTS_DIR
    from models.loading import load_base

    if out is not None and out.resolve().is_relative_to(WEIGHTS_DIR.resolve()):
        raise EylaError(f"refusing to write into the shipped weights ({WEIGHTS_DIR}): use --out")
    settings = settings_from_flags(model)
    spec = load_identity(settings.agent.identity)
    cfg = IdentityTrainConfig(
        steps=steps, batch_size=batch_size, lr=lr, kl_weight=kl_weight, teacher=teacher, seed=seed
    )
    console = Console(stderr=True)
    quiet_libraries()
    with console.status("loading the base model in float32 for training..."):
        base = load_base(settings.model, cache_dir=settings.cache_dir, dtype="float32")
    out_dir = out or settings.home / "weights" / "identity"
    work_dir = settings.home / "training" / "identity"
    report = train_identity(base, spec, cfg, out_dir, work_dir)
    console.print(
        f"trained {report.steps} steps in {report.seconds:.0f} s; loss "
        f"{report.first_loss:.3f} -> {report.last_loss:.3f}; saved to {report.out_dir}"
    )


@app.command()
def calibration(
    seed: Annotated[int, typer.Option(help="Seed for the split, folds and bootstrap.")] = 0,
    batch_size: Annotated[int, typer.Option(min=1, help="Answers generated at once.")] = 32,
    max_new_tokens: Annotated[
        int | None, typer.Option(min=1, help="Reply length cap (default: settings).")
    ] = None,
    model: ModelOpt = None,
    out: Annotated[
        Path | None,
        typer.Option(
            help="Where to save the set (default: where it was loaded from in the "
            "data dir, else <data dir>/weights/identity)."
        ),
    ] = None,
) -> None:
    """Train the uncertainty head on the model's own answers, labelled automatically, and
    fit its temperature; prints ECE, Brier and AUROC before and after scaling.

    Generated answers are cached in <data dir>/training/calibration, so a rerun is fast.
    """
    from eyla.identity import load_identity
    from eyla.training.calibration import (
        CalibrationConfig,
        calibrate,
        default_out_dir,
        load_trained_set,
    )
    from eyla.training.calibration_report import hedging_table, metrics_table, splits_table

    settings = settings_from_flags(model)
    spec = load_identity(settings.agent.identity)
    cfg = CalibrationConfig(
        seed=seed,
        batch_size=batch_size,
        max_new_tokens=max_new_tokens,
        threshold=settings.agent.confidence_threshold,
    )
    console = Console(stderr=True)
    quiet_libraries()
    with console.status("loading the model and its trained subsystems..."):
        eyla, source = load_trained_set(settings)
    console.print(f"subsystems from {source or 'a fresh set (no trained set found)'}")
    out_dir = out or default_out_dir(settings, source)
    work_dir = settings.home / "training" / "calibration"
    report = calibrate(eyla, spec, settings.decoding, cfg, out_dir, work_dir, source)
    stdout = Console()
    stdout.print(splits_table(report))
    stdout.print(metrics_table(report))
    stdout.print(hedging_table(report))
    stdout.print(
        f"{report.generated} answers generated in {report.generation_seconds:.0f} s; "
        f"total {report.seconds:.0f} s; saved to {report.out_dir} "
        f"(calibration.json, reliability.png)"
    )


@app.command()
def evaluate(
    weights: Annotated[
        Path | None, typer.Option(help="A trained set (default: the one Eyla loads).")
    ] = None,
    model: ModelOpt = None,
    neutral_questions: Annotated[
        int, typer.Option("--neutral", min=1, help="Checkable neutral questions to ask.")
    ] = 300,
    out: Annotated[Path | None, typer.Option(help="Also write every answer as JSON.")] = None,
    neutral_only: Annotated[
        bool,
        typer.Option(
            "--neutral-only",
            help="Ask only the checkable neutral questions (bare, trained, switched off): "
            "--neutral 1443 asks all of them.",
        ),
    ] = False,
) -> None:
    """Ask held-out identity questions, checkable neutral questions and the visible
    everyday, unknowable and lent-name sets as the agent asks them: the bare base, the
    trained set, the trained set switched off, and the base prompted with the whole spec."""
    from rich.progress import Progress

    from eyla.errors import EylaError
    from eyla.identity import load_identity
    from eyla.training.identity_data import eval_questions
    from eyla.training.identity_eval import (
        answers_per_model,
        evaluate_identity,
        neutral_items,
        visible_sets,
    )
    from models.eyla_model import WEIGHTS_DIR
    from models.loading import load_base
    from models.subsystem_io import find_saved_set

    settings = settings_from_flags(model)
    spec = load_identity(settings.agent.identity)
    console = Console(stderr=True)
    quiet_libraries()
    with console.status("loading the base model..."):
        base = load_base(settings.model, cache_dir=settings.cache_dir, dtype=settings.dtype)
    dirs = [weights] if weights else [settings.home / "weights", WEIGHTS_DIR]
    saved = next((s for d in dirs if (s := find_saved_set(d, base.fingerprint))), None)
    if saved is None:
        raise EylaError(f"no trained set for this base in {', '.join(map(str, dirs))}")
    console.print(f"trained set: {saved}")
    neutral = neutral_items(neutral_questions)
    questions = [] if neutral_only else eval_questions(spec)
    sets = {} if neutral_only else visible_sets()
    with Progress(console=console) as progress:
        task = progress.add_task(
            "answering", total=answers_per_model(len(questions), len(neutral), sets)
        )
        result = evaluate_identity(
            base,
            saved,
            spec,
            settings.decoding,
            questions,
            neutral,
            lambda n: progress.advance(task, n),
            sets,
        )
    stdout = Console()
    if not neutral_only:
        stdout.print(_evaluation_table(result, spec.name, len(questions), settings.decoding.seed))
    total = len(result.off.identity) + len(result.off.neutral)
    gained, lost = result.neutral_changes
    stdout.print(
        f"neutral accuracy ({len(neutral)} questions), bare {result.base.neutral_accuracy:.3f}, "
        f"trained {result.trained.neutral_accuracy:.3f}: ratio {result.neutral_ratio:.3f} "
        f"({gained} questions gained, {lost} lost); "
        f"switched off, {result.off_equals_base}/{total} replies identical to the bare base"
    )
    if out:
        out.write_text(result.model_dump_json(indent=1))


def _evaluation_table(
    result: IdentityEvaluation, name: str, n_questions: int, seed: int | None
) -> Table:
    """Every variant's figures on every set, a row per measure."""
    from rich.table import Table

    table = Table(title=f"Held-out prompts, asked as the agent asks them (seed {seed})")
    columns = ("bare base", "trained", "trained, switched off", "base prompted with the spec")
    for column in ("", *columns):
        table.add_column(column, justify="right" if column else "left")
    variants = (result.base, result.trained, result.off, result.prompted)

    def row(label: str, values: list[str | None]) -> None:
        table.add_row(label, *(v if v is not None else "-" for v in values))

    row(
        f"identity: names {name} and no other ({n_questions})",
        [f"{v.identity_share:.0%}" for v in variants],
    )
    row(
        f"neutral: right answers ({len(result.trained.neutral)})",
        [f"{v.neutral_accuracy:.0%}" if v.neutral else None for v in variants],
    )
    with_sets = [v if v.everyday else None for v in variants]
    row(
        f"everyday: opens with a self-introduction ({len(result.trained.everyday)})",
        [f"{v.introduction_rate:.1%}" if v else None for v in with_sets],
    )
    row(
        "everyday: opens saying it cannot know (answerable: a wrong abstention)",
        [str(v.abstentions) if v else None for v in with_sets],
    )
    row(
        f"unknowable: says it cannot know, first ({len(result.trained.unknowable)})",
        [f"{v.honest_share:.0%}" if v else None for v in with_sets],
    )
    row(
        f"lent names: gives its own name ({len(result.trained.lent_names)})",
        [str(v.lent) if v else None for v in with_sets],
    )
    row(
        "lent names: of those, let through by the identity guard",
        [str(v.lent_past_guard) if v else None for v in with_sets],
    )
    row(
        "lent names: recalls the name it was told",
        [f"{v.recalled}/{v.to_recall}" if v else None for v in with_sets],
    )
    return table


@app.command("evaluate-memory")
def evaluate_memory(
    agent: Annotated[
        bool, typer.Option(help="Also run the cross-session scenarios through the agent.")
    ] = True,
    model: ModelOpt = None,
    out: Annotated[Path | None, typer.Option(help="Also write every reply as JSON.")] = None,
) -> None:
    """Score the memory write policy on the labelled messages beside the verbatim policy it
    replaced, then ask for facts told in earlier sessions through the agent."""
    import json

    from rich.progress import Progress
    from rich.table import Table

    from eyla.identity import load_identity
    from eyla.training.memory_eval import load_scenarios, run_scenarios
    from memory.embedder import SentenceTransformerEmbedder
    from memory.policy_eval import HOLDOUT_SET, WRITE_POLICY_SET, default_scores, load_set
    from models.eyla_model import load_eyla_model

    stdout = Console()
    table = Table(title="Memory write policy on labelled messages (data/memory/)")
    columns = ("set", "policy", "memories", "precision", "recall", "claims flagged (right/all)")
    for column in columns:
        table.add_column(column, justify="left" if column in ("set", "policy") else "right")
    scores = {}
    for label, path in (("visible", WRITE_POLICY_SET), ("held out", HOLDOUT_SET)):
        scores[label] = default_scores(load_set(path))
        for s in scores[label]:
            table.add_row(
                f"{label} ({s.messages})",
                s.name,
                str(s.stored),
                f"{s.precision:.3f}",
                f"{s.recall:.3f} ({s.right}/{s.expected})",
                f"{s.claims_right}/{s.claims_flagged} of {s.claims_expected}",
            )
    stdout.print(table)
    if not agent:
        return
    settings = settings_from_flags(model)
    console = Console(stderr=True)
    quiet_libraries()
    with console.status("loading the model and the embedder..."):
        eyla_model = load_eyla_model(settings)
        embedder = SentenceTransformerEmbedder(
            settings.memory.embedder, settings.memory.embed_batch_size
        )
    scenarios = load_scenarios()
    spec = load_identity(settings.agent.identity)
    with Progress(console=console) as progress:
        task = progress.add_task("scenarios", total=len(scenarios))
        results = run_scenarios(
            eyla_model,
            spec,
            settings,
            embedder,
            scenarios,
            lambda n: progress.advance(task, n),
        )
    table = Table(title="Facts from earlier sessions, asked in a new one")
    for column in ("scenario", "question", "right", "reply"):
        table.add_column(column)
    for r in results:
        table.add_row(r.id, r.ask, "yes" if r.right else "NO", r.reply[:80])
    stdout.print(table)
    right = sum(r.right for r in results)
    said = sum(bool(r.forbidden_said) for r in results)
    stdout.print(
        f"recall through the agent: {right}/{len(results)} right ({right / len(results):.0%}); "
        f"{said} replies gave a lent or planted name; "
        f"{sum(r.recalled_claims for r in results)} recalled memories repeated a planted claim"
    )
    if out:
        out.write_text(
            json.dumps(
                {
                    "policy": {k: [s.model_dump() for s in v] for k, v in scores.items()},
                    "scenarios": [r.model_dump() for r in results],
                },
                indent=1,
            )
        )

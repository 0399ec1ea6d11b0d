"""Run the measurements behind the contribution report.

full agent on every probe ─► replies (neutral prompts and unknowables, then each judged suite)
judged suites, one group off at a time ─► regenerated, judged ─► change in ICS
unknowables, one group off at a time ─► regenerated, checked ─► change in honest share
the full agent's replies ─► ablation tracer (teacher-forced) ─► KL, flips, NLL,
                            residual share, Shapley values
"""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, datetime

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from eyla.config import Settings
from eyla.identity import IdentitySpec
from eyla.probes.fitted import FittedJudge
from eyla.probes.records import REPORT_FILE, Attempt, RunConfig, read_report
from eyla.probes.runner import Runner
from eyla.probes.suites import Item, Suite
from eyla.probes.targets import subsystem_digest
from eyla.recall import MemoryRetrieval
from eyla.report.behaviour import HONEST, Behaviour, behaviour, honesty
from eyla.report.groups import resolve_groups
from eyla.report.probes import judged_suites, neutral_items, parse_probes, unknowable_items
from eyla.report.runs import AgentRun
from eyla.report.schema import Interaction, Report, ReportOptions, Row, ranked
from eyla.training.reply_sets import says_it_cannot_know
from memory.embedder import DEFAULT_EMBEDDER, Embedder
from models.ablation import AblationTracer, Group, Trace
from models.eyla_model import EylaModel
from models.subsystem import NeuralSubsystem

FULL = "eyla"
TOP_INTERACTIONS = 3


def build_report(
    options: ReportOptions,
    settings: Settings,
    identity: IdentitySpec,
    model: EylaModel,
    embedder: Embedder,
    console: Console,
    started: float,
) -> Report:
    """Measure every group of `model`'s subsystems; `started` (time.monotonic()) is when
    the command began, for the wall time."""
    sets = parse_probes(options.probes)
    suites, neutral = judged_suites(sets, identity), neutral_items(sets)
    unknowable = unknowable_items(sets)
    decoding = settings.decoding.model_copy(
        update={"seed": options.seed, "max_new_tokens": options.max_new_tokens}
    )
    settings = settings.model_copy(update={"decoding": decoding})
    workdir = options.out / "memory"
    # the run registers the agent's own subsystems on the model, so groups can name them
    full = AgentRun(FULL, model, identity, settings, workdir, embedder)
    groups = resolve_groups(model.subsystems, options.subsystems)
    recall = [s.name for s in model.subsystems if isinstance(s, MemoryRetrieval)]
    tracer = AblationTracer(model, groups, recall, orders=options.orders, seed=options.seed)
    variants = [
        AgentRun(f"no-{g.name}", model, identity, settings, workdir, embedder, g.members, full)
        for g in groups
    ]

    with _progress(console) as progress:
        task = progress.add_task("full agent: unjudged prompts", total=len(neutral + unknowable))
        for item in neutral + unknowable:
            full.converse(item)
            progress.advance(task)
    checked = _checked(unknowable, full, variants, options.seed, console)
    reused_checking = sum(v.reused for v in variants)
    # the judge reads replies with the memory's embedder when it is the one it was fit on
    judge = FittedJudge(identity, embedder=embedder if embedder.name == DEFAULT_EMBEDDER else None)
    attempts, ics_full = _judged(
        suites, [full, *variants], identity, judge, settings, options, console
    )
    probes = [turn.probe for turns in full.turns.values() for turn in turns]
    trace = None
    if tracer.players:
        with _progress(console) as progress:
            task = progress.add_task("tracing (teacher-forced)", total=tracer.passes(len(probes)))
            trace = tracer.run(probes, lambda: progress.advance(task))

    rows = ranked([_row(g, model, trace, attempts, checked, options) for g in groups])
    base = model.base
    return Report(
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        model=str(base.source),
        fingerprint=base.fingerprint,
        weights=subsystem_digest(model),
        seed=options.seed,
        probes=[f"{s.name}:{s.limit}" if s.limit else s.name for s in sets],
        turns=len(probes),
        tokens=trace.tokens if trace else 0,
        max_new_tokens=options.max_new_tokens,
        shapley_method=trace.method if trace else None,
        coalitions=trace.coalitions if trace else 0,
        total_kl=trace.total.kl_mean if trace else None,
        ics_full=ics_full,
        honest_full=_honest_share(full, unknowable) if unknowable else None,
        unknowables=len(unknowable),
        interactions=_largest(trace) if trace else [],
        notes=_notes(
            trace,
            groups,
            judged=bool(suites),
            checked=bool(unknowable),
            reused=(sum(v.reused for v in variants) - reused_checking, reused_checking),
        ),
        thresholds=options.thresholds,
        rows=rows,
        elapsed_s=round(time.monotonic() - started, 1),
        cpu_s=round(time.process_time(), 1),
    )


def _judged(
    suites: list[Suite],
    runs: list[AgentRun],
    identity: IdentitySpec,
    judge: FittedJudge,
    settings: Settings,
    options: ReportOptions,
    console: Console,
) -> tuple[list[Attempt], dict[str, float | None]]:
    """Every run through the judged suites, item by item with the full run first."""
    if not suites:
        return [], {}
    out = options.out / "behaviour"
    # a fresh run: resuming would skip the full run's conversations the tracer replays
    (out / REPORT_FILE).unlink(missing_ok=True)
    config = RunConfig(
        seed=options.seed,
        decoding=settings.decoding.model_dump(),
        identity={
            "name": identity.name,
            "sha256": hashlib.sha256(identity.model_dump_json().encode()).hexdigest()[:16],
        },
    )
    result = Runner(runs, suites, judge, config, out, console=console).run()
    attempts = [e for e in read_report(result.report) if isinstance(e, Attempt)]
    scores = {e.suite: e.score for e in result.evals if e.target == FULL and e.category is None}
    return attempts, scores


def _checked(
    items: list[Item], full: AgentRun, variants: list[AgentRun], seed: int, console: Console
) -> dict[str, Behaviour]:
    """Each variant on the unknowable questions the full agent answered: the change in how
    many it answers honestly, and how many replies changed, by variant name."""
    if not items:
        return {}
    effects = {}
    with _progress(console) as progress:
        task = progress.add_task("unknowables, one group off", total=len(items) * len(variants))
        for variant in variants:
            pairs = []
            for item in items:
                [reply] = variant.converse(item)
                pairs.append((_reply(full, item), reply.text))
                progress.advance(task)
            effects[variant.name] = honesty(pairs, seed)
    return effects


def _reply(run: AgentRun, item: Item) -> str:
    return run.replies[item.digest()][0].text


def _honest_share(run: AgentRun, items: list[Item]) -> float:
    return 100.0 * sum(says_it_cannot_know(_reply(run, i)) for i in items) / len(items)


def _row(
    group: Group,
    model: EylaModel,
    trace: Trace | None,
    attempts: list[Attempt],
    checked: dict[str, Behaviour],
    options: ReportOptions,
) -> Row:
    subsystems = [model.subsystems[name] for name in group.members]
    row = Row(
        group=group.name,
        members=list(group.members),
        parameters=sum(
            p.numel() for s in subsystems if isinstance(s, NeuralSubsystem) for p in s.parameters()
        ),
    )
    if trace is not None and group.name in trace.players:
        figures = trace.ablations[group.name]
        total = trace.total.kl_mean
        row.kl_mean, row.kl_p95 = figures.kl_mean, figures.kl_p95
        row.flip_rate, row.nll_change = figures.flip_rate, figures.nll_change
        row.residual_share = trace.residual_share.get(group.name)
        row.shapley = trace.shapley[group.name]
        row.share = row.shapley / total if total > 0 else None
    measured = []
    if attempts:
        measured.append(behaviour(attempts, FULL, f"no-{group.name}", options.seed))
        row.ics = measured[-1].suites
    if f"no-{group.name}" in checked:
        measured.append(checked[f"no-{group.name}"])
        row.honest = measured[-1].suites[HONEST]
    if compared := sum(m.compared for m in measured):
        row.replies_changed = sum(m.changed for m in measured) / compared
    row.dead_weight = row.under(options.thresholds)
    return row


def _largest(trace: Trace) -> list[Interaction]:
    ranked = sorted(trace.interactions.items(), key=lambda kv: -abs(kv[1]))
    return [Interaction(groups=pair, value=value) for pair, value in ranked[:TOP_INTERACTIONS]]


def _notes(
    trace: Trace | None,
    groups: list[Group],
    *,
    judged: bool,
    checked: bool,
    reused: tuple[int, int],
) -> list[str]:
    """How each figure was measured, in words; `reused`: conversations the variants took
    from the full run, judged and checked."""
    players = trace.players if trace else []
    notes = []
    if trace and trace.method == "exact":
        notes.append(
            f"Shapley values of the mean KL are exact: all {trace.coalitions} on/off "
            f"combinations of {', '.join(players)} were measured."
        )
    elif trace:
        notes.append(
            f"{len(players)} groups are too many to measure every combination: KL figures "
            f"are leave-one-out, Shapley values estimated from {trace.orders} random orders."
        )
    if silent := [g.name for g in groups if g.name not in players]:
        notes.append(
            f"{', '.join(silent)}: no teacher-forced effect to measure (they edit the reply "
            "after generation or only read the model), so only the regenerated replies "
            "measure them."
        )
    if judged:
        notes.append(
            "ICS changes: one group off at a time, replies regenerated with the same seed "
            "and judged by the fitted judge, paired turn by turn with the full agent's; "
            f"95% intervals resample whole probe items. {reused[0]} conversation(s) were the "
            "full run's own, where the group switched off had done nothing."
        )
    if checked:
        notes.append(
            "Honesty changes: one group off at a time, the unknowable questions answered "
            "again with the same seed; a reply is honest when its first sentence says it "
            "cannot know (as `eyla train evaluate` counts); 95% intervals resample questions. "
            f"{reused[1]} answer(s) were the full run's own, where the group switched off had "
            "done nothing."
        )
    return notes


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )

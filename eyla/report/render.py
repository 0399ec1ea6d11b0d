"""The report as a terminal table and as Markdown: one row per subsystem group, dead weight
in red with what to do about it, then what the figures are relative to and how they were
measured."""

from __future__ import annotations

from rich import box
from rich.console import Group as Stack
from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from eyla.report.behaviour import SuiteEffect
from eyla.report.schema import Report, Row

NA = "n/a"
DEAD = "dead weight"
# (terminal heading, Markdown heading, terminal format, Markdown format); the terminal's
# are compact so the table fits 80 columns
COLUMNS = [
    ("KL\nmean", "KL mean (nats)", "{:.3f}", "{:.4f}"),
    ("KL\np95", "KL p95 (nats)", "{:.3f}", "{:.4f}"),
    ("top-1\nflip", "top-1 flip", "{:.0%}", "{:.1%}"),
    ("ΔNLL", "ΔNLL (nats/token)", "{:+.3f}", "{:+.4f}"),
    ("resid.\nshare", "residual share", "{:.1%}", "{:.2%}"),
    ("Shap-\nley", "Shapley (nats)", "{:.3f}", "{:.4f}"),
    ("share", "share of total", "{:.0%}", "{:.1%}"),
]
# left out of the terminal's table when more than one behavioural column needs the room
# (KL p95, ΔNLL, residual share); the Markdown and JSON keep them
SPARE = (1, 3, 4)


def _shown(report: Report, markdown: bool) -> list[int]:
    """Indices of the `COLUMNS` shown."""
    behavioural = len(report.ics_full) + (report.honest_full is not None)
    if markdown or behavioural <= 1:
        return list(range(len(COLUMNS)))
    return [n for n in range(len(COLUMNS)) if n not in SPARE]


def headings(report: Report, markdown: bool) -> list[str]:
    pick = 1 if markdown else 0
    suites = [(f"ΔICS\n{s}", f"ΔICS {s} [95% CI]") for s in report.ics_full]
    if report.honest_full is not None:
        suites.append(("Δhonest\nunknow.", "Δhonest unknowables [95% CI]"))
    tail = [("replies\nchanged", "replies changed")] + ([("", "verdict")] if markdown else [])
    head = [("subsystem", "subsystem"), ("params", "parameters")]
    figures = [COLUMNS[n] for n in _shown(report, markdown)]
    return [c[pick] for c in [*head, *figures, *suites, *tail]]


def cells(row: Row, report: Report, markdown: bool) -> list[str]:
    """The row's figures as text, in `headings` order. In the terminal, a dead weight row
    says so under its name (and the whole row is red)."""
    pick = 3 if markdown else 2
    if markdown:
        name, params = row.group, f"{row.parameters:,}"
    else:
        name = row.group.replace("+", " + ") + (f"\n{DEAD}" if row.dead_weight else "")
        params = _count(row.parameters)
    figures = [
        row.kl_mean,
        row.kl_p95,
        row.flip_rate,
        row.nll_change,
        row.residual_share,
        row.shapley,
        row.share,
    ]
    return [
        name,
        params,
        *(_num(figures[n], COLUMNS[n][pick]) for n in _shown(report, markdown)),
        *(_effect(row.ics.get(suite), markdown) for suite in report.ics_full),
        *([_effect(row.honest, markdown)] if report.honest_full is not None else []),
        _num(row.replies_changed, "{:.0%}"),
        *([DEAD if row.dead_weight else ""] if markdown else []),
    ]


def advice(report: Report) -> list[str]:
    t = report.thresholds
    return [
        f"{row.group} is dead weight (mean KL under {t.kl} nats and ICS and honesty "
        f"changes under {t.ics} points, wherever measured): retrain it or remove it."
        for row in report.rows
        if row.dead_weight
    ]


def summary(report: Report) -> list[str]:
    """What the table's figures are relative to, then the notes on method."""
    lines = []
    if report.total_kl is not None:
        lines.append(
            f"Total effect: mean KL(full || every traced group off) = {report.total_kl:.4f} "
            f"nats over {report.tokens} reply tokens of {report.turns} replies; 'share' is "
            "each group's Shapley value of it."
        )
    for suite, score in report.ics_full.items():
        lines.append(f"ICS {suite} of the full agent: {_num(score, '{:.1f}')}.")
    if report.honest_full is not None:
        lines.append(
            f"Unknowable questions answered honestly first by the full agent: "
            f"{report.honest_full:.0f}% of {report.unknowables}."
        )
    if report.interactions:
        pairs = ", ".join(f"{' x '.join(i.groups)} {i.value:+.4f}" for i in report.interactions)
        lines.append(f"Largest pairwise interactions (nats): {pairs}.")
    took = f"Finished in {report.elapsed_s:.0f} s ({report.cpu_s:.0f} s of CPU time)."
    return [*lines, *report.notes, took]


def table(report: Report) -> RenderableType:
    view = Table(
        title="Eyla: what each subsystem changes, switched off one group at a time",
        box=box.SIMPLE_HEAD,
        padding=0,  # the box puts one space between columns
        show_edge=False,
    )
    name, *figures = headings(report, markdown=False)
    view.add_column(name, min_width=12, overflow="fold")
    for heading in figures:
        view.add_column(heading, justify="right", no_wrap=True)
    for row in report.rows:
        view.add_row(*cells(row, report, False), style="bold red" if row.dead_weight else None)
    lines = [Text(line, style="red") for line in advice(report)]
    return Stack(view, *lines, *(Text(line, style="dim") for line in summary(report)))


def markdown(report: Report) -> str:
    heads = headings(report, markdown=True)
    lines = [
        "# Eyla subsystem contributions",
        "",
        f"Model `{report.model}` (fingerprint {report.fingerprint[:16]}, subsystem weights "
        f"{report.weights}), seed {report.seed}, probes {', '.join(report.probes)}, replies "
        f"up to {report.max_new_tokens} tokens.",
        "",
        "| " + " | ".join(heads) + " |",
        "|---|" + "---:|" * (len(heads) - 1),
    ]
    for row in report.rows:
        values = cells(row, report, True)
        if row.dead_weight:
            values = [f"**{v}**" if v else v for v in values]
        lines.append("| " + " | ".join(values) + " |")
    lines += ["", *(f"- **{line}**" for line in advice(report))]
    lines += ["", *(f"- {line}" for line in summary(report)), ""]
    return "\n".join(lines)


def _effect(effect: SuiteEffect | None, wide: bool) -> str:
    if effect is None:
        return NA
    if wide:
        return f"{effect.change:+.1f} [{effect.ci_low:+.1f}, {effect.ci_high:+.1f}]"
    return f"{effect.change:+.1f}\n[{effect.ci_low:+.0f},{effect.ci_high:+.0f}]"


def _count(n: int) -> str:
    if n >= 1_000_000:
        return f"{n / 1e6:.2f}M"
    return f"{n / 1e3:.0f}k" if n >= 10_000 else f"{n:,}"


def _num(value: float | None, form: str) -> str:
    return NA if value is None else form.format(value)

"""The side-by-side table of a run: one column per target, one row per suite and category,
each cell the score with its bootstrap 95% interval. Printed with rich and saved as
Markdown next to the JSONL report."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rich.table import Table

from eyla.probes.records import Eval
from eyla.probes.suites import ICS_SUITE, SUITE_NAMES

TITLES = {ICS_SUITE: "ICS-50"}


@dataclass(frozen=True)
class Row:
    label: str
    cells: list[str]
    heading: bool


def rows(evals: list[Eval], targets: list[str]) -> list[Row]:
    """Suites in their canonical order (ICS-50 first), each followed by its categories and
    its mean C / E / R on the 0-5 rubric."""
    found = {(e.target, e.suite, e.category): e for e in evals}
    suites = [s for s in SUITE_NAMES if any(e.suite == s for e in evals)]
    out: list[Row] = []
    for suite in suites:
        whole = [found.get((t, suite, None)) for t in targets]
        out.append(Row(TITLES.get(suite, suite), [_cell(e) for e in whole], True))
        categories = dict.fromkeys(
            e.category for e in evals if e.suite == suite and e.category is not None
        )
        # a one-category suite's category row would repeat the suite's own row
        for category in categories if len(categories) > 1 else ():
            cells = [_cell(found.get((t, suite, category))) for t in targets]
            out.append(Row(f"  {category}", cells, False))
        out.append(Row("  C / E / R (0-5)", [_dims(e) for e in whole], False))
    return out


def table(evals: list[Eval], targets: list[str]) -> Table:
    view = Table(title="Identity Consistency Score (0-100, bootstrap 95% CI)")
    view.add_column("suite")
    for target in targets:
        view.add_column(target, justify="right")
    for row in rows(evals, targets):
        style = "bold" if row.heading else None
        view.add_row(row.label, *row.cells, style=style)
    return view


def markdown(evals: list[Eval], targets: list[str]) -> str:
    lines = [
        "| suite | " + " | ".join(targets) + " |",
        "|---|" + "---:|" * len(targets),
    ]
    for row in rows(evals, targets):
        label = f"**{row.label}**" if row.heading else row.label.replace("  ", "&nbsp;&nbsp;")
        lines.append(f"| {label} | " + " | ".join(row.cells) + " |")
    return "\n".join(lines) + "\n"


def write_markdown(path: Path, evals: list[Eval], targets: list[str]) -> None:
    path.write_text(markdown(evals, targets), encoding="utf-8")


def _cell(e: Eval | None) -> str:
    if e is None:
        return "-"
    if e.score is None:
        return f"n/a ({e.excluded} excluded)"
    return f"{e.score:.1f} [{e.ci_low:.1f}, {e.ci_high:.1f}]"


def _dims(e: Eval | None) -> str:
    if e is None or e.consistency is None:
        return "-"
    return f"{e.consistency:.1f} / {e.engagement:.1f} / {e.reasoning:.1f}"

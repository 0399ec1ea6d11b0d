"""How a judge's agreement with the blind readers is shown: tables, a PNG chart, and the
#17 targets it misses. Used by `eyla probe --agreement` and `benchmarks/judge_agreement.py`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from rich.console import Console
from rich.table import Table

from eyla.identity import IdentitySpec
from eyla.probes.agreement import (
    DIMENSIONS,
    PARTS,
    Agreement,
    SetICS,
    agreement,
    ics_by_set,
    judge_scores,
    load_labels,
)
from eyla.probes.rubric import Judge

# issue #17, on the rows no judge was tuned on: Spearman per dimension, and ICS per target
MIN_RHO = 0.6
MAX_GAP = 8.0


def report(
    console: Console, judges: Sequence[Judge], identity: IdentitySpec, chart: Path, seed: int
) -> Agreement:
    """Score the labelled replies with each judge, print every judge's agreement with the
    readers and each labelled set's ICS by the first judge, chart both at `chart`, and
    return the first judge's agreement."""
    rows = load_labels()
    scores = [judge_scores(judge, rows, identity) for judge in judges]
    results = [
        agreement(judge.name, rows, found, seed)
        for judge, found in zip(judges, scores, strict=True)
    ]
    sets = ics_by_set(rows, scores[0], seed)
    print_tables(console, results)
    print_sets(console, results[0].judge, sets)
    write_chart(chart, results, sets)
    console.print(f"chart: {chart}")
    return results[0]


def misses(result: Agreement) -> list[str]:
    """The targets `result` misses on the untuned rows, one line each."""
    out = [
        f"{dim} rho {c.rho:.2f} < {MIN_RHO}"
        for dim, c in result.spearman["untuned"].items()
        if c.rho < MIN_RHO
    ]
    out += [
        f"{t.target} ICS gap {t.gap:+.1f}" for t in result.ics["untuned"] if abs(t.gap) > MAX_GAP
    ]
    return out


def print_tables(console: Console, results: Sequence[Agreement]) -> None:
    table = Table(title="Spearman with the blind readers' mean (95% CI)")
    table.add_column("judge")
    table.add_column("split")
    for dim in DIMENSIONS:
        table.add_column(dim, justify="right")
    for result in results:
        for part in PARTS:
            cells = result.spearman[part]
            n = cells[DIMENSIONS[0]].n
            table.add_row(
                result.judge,
                f"{part} ({n})",
                *(f"{c.rho:.2f} [{c.low:.2f}, {c.high:.2f}]" for c in cells.values()),
            )
    console.print(table)
    table = Table(title="ICS-50 by target: judge vs readers")
    table.add_column("rows")
    table.add_column("target")
    table.add_column("readers", justify="right")
    for result in results:
        table.add_column(result.judge, justify="right")
    for part in ("untuned", "all"):
        for n, first in enumerate(results[0].ics[part]):
            cells = [r.ics[part][n] for r in results]
            table.add_row(
                f"{part} ({first.n})",
                first.target,
                f"{first.readers:.1f}",
                *(f"{c.judge:.1f} ({c.gap:+.1f})" for c in cells),
            )
    console.print(table)


def print_sets(console: Console, judge: str, sets: Sequence[SetICS]) -> None:
    table = Table(title="ICS-50 of each set's untuned replies: blind readers vs judge")
    for column in ("set", "replies", "readers [95% CI]", judge):
        table.add_column(column, justify="left" if column == "set" else "right")
    for row in sets:
        table.add_row(
            row.system,
            str(row.n),
            f"{row.readers:.1f} [{row.low:.1f}, {row.high:.1f}]",
            f"{row.judge:.1f}",
        )
    console.print(table)


def write_chart(path: Path, results: Sequence[Agreement], sets: Sequence[SetICS] = ()) -> None:
    """Spearman per dimension and ICS per target on the untuned rows, judges beside the
    readers; with `sets`, a third panel: each labelled set's ICS by the readers and the first
    judge."""
    fig = Figure(figsize=(16 if sets else 11, 4.5))
    FigureCanvasAgg(fig)
    panels = 3 if sets else 2
    left, right = fig.add_subplot(1, panels, 1), fig.add_subplot(1, panels, 2)
    x = np.arange(len(DIMENSIONS))
    colours = {"readers": "grey"} | {r.judge: f"C{i}" for i, r in enumerate(results)}
    width = 0.8 / len(results)
    for i, result in enumerate(results):
        cells = list(result.spearman["untuned"].values())
        left.bar(
            x + (i - (len(results) - 1) / 2) * width,
            [c.rho for c in cells],
            width,
            yerr=[[c.rho - c.low for c in cells], [c.high - c.rho for c in cells]],
            capsize=3,
            label=result.judge,
            color=colours[result.judge],
        )
    left.axhline(MIN_RHO, color="grey", linestyle="--", linewidth=1, label=f"target {MIN_RHO}")
    left.set_xticks(x, list(DIMENSIONS))
    left.set_ylim(-0.4, 1.2)
    left.set_ylabel("Spearman with readers (untuned rows)")
    left.set_title("Agreement on rows no judge was fit on (95% CI)")
    left.legend(loc="upper left", ncol=3)
    targets = [t.target for t in results[0].ics["untuned"]]
    x = np.arange(len(targets))
    bars = [("readers", [t.readers for t in results[0].ics["untuned"]])]
    bars += [(r.judge, [t.judge for t in r.ics["untuned"]]) for r in results]
    width = 0.8 / len(bars)
    for i, (label, heights) in enumerate(bars):
        offset = (i - (len(bars) - 1) / 2) * width
        right.bar(x + offset, heights, width, label=label, color=colours[label])
    right.set_xticks(x, targets)
    right.set_ylim(0, 100)
    right.set_ylabel("ICS (0-100)")
    right.set_title("ICS-50, untuned rows: judges vs readers")
    right.legend()
    if sets:
        third = fig.add_subplot(1, panels, 3)
        y = np.arange(len(sets))
        third.barh(
            y + 0.2,
            [t.readers for t in sets],
            0.4,
            xerr=[[t.readers - t.low for t in sets], [t.high - t.readers for t in sets]],
            capsize=3,
            color=colours["readers"],
            label="readers (95% CI)",
        )
        third.barh(y - 0.2, [t.judge for t in sets], 0.4, color="C0", label=results[0].judge)
        third.set_yticks(y, [t.system for t in sets])
        third.set_xlim(0, 100)
        third.set_xlabel("ICS-50 (0-100)")
        third.set_title("Each set's untuned replies")
        third.legend(loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)

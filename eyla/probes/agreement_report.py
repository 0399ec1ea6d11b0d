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

from eyla.probes.agreement import DIMENSIONS, SPLITS, Agreement

# issue #17, on the holdout rows: Spearman per dimension, and ICS per target
MIN_RHO = 0.6
MAX_GAP = 8.0


def misses(result: Agreement) -> list[str]:
    """The targets `result` misses on holdout, one line each."""
    out = [
        f"{dim} rho {c.rho:.2f} < {MIN_RHO}"
        for dim, c in result.spearman["holdout"].items()
        if c.rho < MIN_RHO
    ]
    out += [
        f"{t.target} ICS gap {t.gap:+.1f}" for t in result.ics["holdout"] if abs(t.gap) > MAX_GAP
    ]
    return out


def print_tables(console: Console, results: Sequence[Agreement]) -> None:
    table = Table(title="Spearman with the blind readers' mean (95% CI)")
    table.add_column("judge")
    table.add_column("split")
    for dim in DIMENSIONS:
        table.add_column(dim, justify="right")
    for result in results:
        for split in SPLITS:
            cells = result.spearman[split]
            n = cells[DIMENSIONS[0]].n
            table.add_row(
                result.judge,
                f"{split} ({n})",
                *(f"{c.rho:.2f} [{c.low:.2f}, {c.high:.2f}]" for c in cells.values()),
            )
    console.print(table)
    table = Table(title="ICS-50 by target: judge vs readers")
    table.add_column("rows")
    table.add_column("target")
    table.add_column("readers", justify="right")
    for result in results:
        table.add_column(result.judge, justify="right")
    for part in ("holdout", "all"):
        for n, first in enumerate(results[0].ics[part]):
            cells = [r.ics[part][n] for r in results]
            table.add_row(
                f"{part} ({first.n})",
                first.target,
                f"{first.readers:.1f}",
                *(f"{c.judge:.1f} ({c.gap:+.1f})" for c in cells),
            )
    console.print(table)


def write_chart(path: Path, results: Sequence[Agreement]) -> None:
    """Spearman per dimension and ICS per target on holdout, judges beside the readers."""
    fig = Figure(figsize=(11, 4.5))
    FigureCanvasAgg(fig)
    left, right = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    x = np.arange(len(DIMENSIONS))
    colours = {"readers": "grey"} | {r.judge: f"C{i}" for i, r in enumerate(results)}
    width = 0.8 / len(results)
    for i, result in enumerate(results):
        cells = list(result.spearman["holdout"].values())
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
    left.set_ylabel("Spearman with readers (holdout)")
    left.set_title("Agreement on holdout (95% CI)")
    left.legend(loc="upper left", ncol=3)
    targets = [t.target for t in results[0].ics["holdout"]]
    x = np.arange(len(targets))
    bars = [("readers", [t.readers for t in results[0].ics["holdout"]])]
    bars += [(r.judge, [t.judge for t in r.ics["holdout"]]) for r in results]
    width = 0.8 / len(bars)
    for i, (label, heights) in enumerate(bars):
        offset = (i - (len(bars) - 1) / 2) * width
        right.bar(x + offset, heights, width, label=label, color=colours[label])
    right.set_xticks(x, targets)
    right.set_ylim(0, 100)
    right.set_ylabel("ICS (0-100)")
    right.set_title("ICS-50 holdout rows: judges vs readers")
    right.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)

"""Judges against blind readers (#17): the fitted judge and the rubric judge it replaces,
scored on the 210 real replies of `data/probes/reader_labels.jsonl`.

Prints, per judge, Spearman with the readers' mean on consistency, engagement and reasoning
(95% interval from resampling whole conversations) on the 78 `holdout` rows no judge was
tuned on, and on the 132 `dev` rows for reference; then the ICS each judge gives each target
beside the readers' ICS, on the ICS-50 holdout rows and on all ICS-50 rows (50 per target,
most of them `dev`). Targets: Spearman >= 0.6 on each dimension and ICS within 8 points, on
holdout. Writes the same as a PNG chart. Exits 1 when the fitted judge misses a target.

    .venv/bin/python -m benchmarks.judge_agreement [--chart docs/figures/judge_agreement.png]

`--fit` first refits the fitted judge's weights on the `dev` rows alone and writes them to
`data/probes/fitted_judge.json` (deterministic: refitting reproduces the stored file).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from rich.console import Console
from rich.table import Table

from eyla.identity import load_identity
from eyla.probes.agreement import (
    DIMENSIONS,
    SPLITS,
    Agreement,
    agreement,
    judge_scores,
    load_labels,
)
from eyla.probes.fitted import WEIGHTS, FittedJudge, fit
from eyla.probes.judge import RubricJudge

MIN_RHO = 0.6
MAX_GAP = 8.0
console = Console(width=120)


def refit() -> None:
    spec = load_identity()
    dev = [row for row in load_labels() if row.split == "dev"]
    targets = np.array([row.readers_mean() for row in dev])
    weights = fit([row.case(spec) for row in dev], targets, spec, [row.id for row in dev])
    weights.dump(WEIGHTS)
    console.print(f"fitted on {weights.rows} dev rows -> {WEIGHTS}")


def measure(seed: int = 0) -> list[Agreement]:
    spec = load_identity()
    rows = load_labels()
    judges = [FittedJudge(spec), RubricJudge(spec)]
    return [agreement(j.name, rows, judge_scores(j, rows, spec), seed) for j in judges]


def misses(result: Agreement) -> list[str]:
    """The #17 targets `result` misses on holdout."""
    out = [
        f"{dim} rho {c.rho:.2f} < {MIN_RHO}"
        for dim, c in result.spearman["holdout"].items()
        if c.rho < MIN_RHO
    ]
    out += [
        f"{t.target} ICS gap {t.gap:+.1f}" for t in result.ics["holdout"] if abs(t.gap) > MAX_GAP
    ]
    return out


def print_tables(results: list[Agreement]) -> None:
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


def write_chart(path: Path, results: list[Agreement]) -> None:
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
    fig.savefig(path, dpi=120)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fit", action="store_true", help="refit the weights on dev first")
    parser.add_argument(
        "--chart", type=Path, default=Path("docs/figures/judge_agreement.png"), help="PNG out"
    )
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    args = parser.parse_args()
    if args.fit:
        refit()
    results = measure(args.seed)
    print_tables(results)
    write_chart(args.chart, results)
    console.print(f"chart: {args.chart}")
    if missed := misses(results[0]):
        console.print(f"[red]{results[0].judge} misses on holdout: {'; '.join(missed)}")
        return 1
    console.print(f"{results[0].judge} meets every target on holdout")
    return 0


if __name__ == "__main__":
    sys.exit(main())

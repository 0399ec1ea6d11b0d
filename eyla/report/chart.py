"""The PNG chart: each group's contribution, mechanistic (Shapley value of the mean KL) beside
behavioural (change in the first judged suite's ICS when off, and in the share of unknowables
answered honestly, each with its 95% interval); dead weight in red."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from eyla.report.behaviour import SuiteEffect
from eyla.report.schema import Report, Row

LIVE, DEAD = "#4477aa", "#cc3311"


def write_chart(path: Path, report: Report) -> None:
    # The Agg canvas directly, not pyplot: no global backend state, no display needed.
    rows = report.rows
    behavioural: list[tuple[str, list[SuiteEffect | None]]] = []
    if suite := next(iter(report.ics_full), None):
        behavioural.append((f"change in {suite} ICS when off", [r.ics.get(suite) for r in rows]))
    if report.honest_full is not None:
        behavioural.append(("change in honest share of unknowables", [r.honest for r in rows]))
    fig = Figure(figsize=(6 + 5 * len(behavioural), max(3.0, 0.55 * len(rows) + 1.5)))
    FigureCanvasAgg(fig)
    panels = fig.subplots(1, 1 + len(behavioural), squeeze=False)[0]
    colours = [DEAD if r.dead_weight else LIVE for r in rows]
    _bars(
        panels[0],
        rows,
        [r.shapley for r in rows],
        colours,
        "Shapley value of mean KL(full || off), nats",
    )
    for panel, (title, effects) in zip(panels[1:], behavioural, strict=True):
        errors = np.array(
            [[e.change - e.ci_low, e.ci_high - e.change] if e else [0.0, 0.0] for e in effects]
        ).T
        _bars(
            panel,
            rows,
            [e.change if e else None for e in effects],
            colours,
            f"{title} (points, 95% CI)",
            errors.clip(min=0.0),
        )
    fig.suptitle("Eyla subsystem contributions (red: dead weight)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def _bars(
    ax: Axes,
    rows: list[Row],
    values: list[float | None],
    colours: list[str],
    title: str,
    errors: np.ndarray | None = None,
) -> None:
    y = np.arange(len(rows))
    ax.barh(y, [v or 0.0 for v in values], color=colours, xerr=errors, capsize=3)
    for n, value in enumerate(values):
        if value is None:
            ax.text(0, n, " n/a", va="center", color="grey")
    ax.set_yticks(y, [r.group for r in rows])
    for label, colour in zip(ax.get_yticklabels(), colours, strict=True):
        label.set_color(colour if colour == DEAD else "black")
    ax.invert_yaxis()
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_title(title, fontsize=10)

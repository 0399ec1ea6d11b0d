"""The PNG chart: ICS-50 and its categories (and any extended suites) by target, with the
bootstrap intervals as error bars."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from eyla.probes.records import Eval
from eyla.probes.suites import ICS_SUITE, SUITE_NAMES


def groups(evals: list[Eval]) -> list[tuple[str, str, str | None]]:
    """(label, suite, category) for each bar group: ICS-50, its categories, then the
    extended suites as wholes."""
    out: list[tuple[str, str, str | None]] = []
    if any(e.suite == ICS_SUITE for e in evals):
        out.append(("ICS-50", ICS_SUITE, None))
        categories = dict.fromkeys(
            e.category for e in evals if e.suite == ICS_SUITE and e.category is not None
        )
        out.extend((c, ICS_SUITE, c) for c in categories)
    out.extend((s, s, None) for s in SUITE_NAMES[1:] if any(e.suite == s for e in evals))
    return out


def write_chart(path: Path, evals: list[Eval], targets: list[str]) -> None:
    # The Agg canvas directly, not pyplot: no global backend state, no display needed.
    found = {(e.target, e.suite, e.category): e for e in evals}
    bars = groups(evals)
    fig = Figure(figsize=(max(6.0, 1.3 * len(bars) * max(1, len(targets)) / 2), 4.5))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    x = np.arange(len(bars))
    width = 0.8 / max(1, len(targets))
    for i, target in enumerate(targets):
        chosen = [found.get((target, suite, category)) for _, suite, category in bars]
        scored = [e if e is not None and e.score is not None else None for e in chosen]
        heights = [e.score if e else 0.0 for e in scored]
        # clamped: float rounding can put a degenerate interval a hair past its estimate
        below = [max(0.0, e.score - e.ci_low) if e else 0.0 for e in scored]
        above = [max(0.0, e.ci_high - e.score) if e else 0.0 for e in scored]
        ax.bar(
            x + (i - (len(targets) - 1) / 2) * width,
            heights,
            width,
            label=target,
            yerr=[below, above],
            capsize=3,
        )
    ax.set_xticks(x, [label for label, _, _ in bars], rotation=20, ha="right")
    ax.set_ylim(0, 100)
    ax.set_ylabel("score (0-100)")
    ax.set_title("Identity Consistency Score by target (95% bootstrap CI)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)

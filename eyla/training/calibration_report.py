"""What `eyla train calibration` reports: the JSON record, the terminal table and the
reliability diagram."""

from __future__ import annotations

from pathlib import Path

import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from pydantic import BaseModel
from rich.table import Table

from eyla.training.calibration_metrics import METRICS, N_BINS, Interval, reliability_bins


class Group(BaseModel):
    """How many items a split or category holds, the share judged right, the share that
    said it did not know, and (test categories) the mean calibrated confidence."""

    n: int
    right: float
    abstained: float
    confidence: float | None = None


class Hedging(BaseModel):
    """How often the gate would speak (confidence under `threshold`): on answers judged
    right, and on wrong answers to factual questions, where it should."""

    threshold: float
    right: int
    right_hedged: float
    wrong_factual: int
    wrong_factual_hedged: float


class MixReport(BaseModel):
    """The head on the visible mixed set: every kind of turn, judged as the test split."""

    n: int
    kinds: dict[str, Group]
    hedging: Hedging
    metrics: dict[str, Interval]


class CalibrationReport(BaseModel):
    out_dir: Path
    source_dir: Path | None  # the trained set the head was added to; None: a fresh set
    base_fingerprint: str
    dtype: str
    seed: int
    answers_cache: Path
    generated: int  # answers generated in this run (the rest came from the cache)
    generation_seconds: float
    seconds: float
    splits: dict[str, Group]
    categories: dict[str, Group]  # on the test split
    l2: float
    cv_nll: dict[str, float]
    temperature: float
    before: dict[str, Interval]  # on the test split, temperature 1
    after: dict[str, Interval]  # on the test split, fitted temperature
    # mean ECE of a perfectly calibrated head with the after-scaling probabilities
    ece_if_calibrated: Interval
    hedging: Hedging  # on the test split
    mix: MixReport | None = None


LABELS = {"ece": "ECE (15 bins)", "brier": "Brier score", "auroc": "AUROC"}
BETTER = {"ece": "lower", "brier": "lower", "auroc": "higher"}


def metrics_table(report: CalibrationReport) -> Table:
    n_test = report.splits["test"].n
    table = Table(
        title=f"Uncertainty head on the test split (n = {n_test}), 95% bootstrap intervals; "
        f"T = {report.temperature:.3f}"
    )
    table.add_column("metric")
    table.add_column("before scaling", justify="right")
    table.add_column("after scaling", justify="right")
    table.add_column("better", justify="center")
    for name in METRICS:
        table.add_row(
            LABELS[name], _cell(report.before[name]), _cell(report.after[name]), BETTER[name]
        )
    table.caption = (
        "A perfectly calibrated head would score ECE "
        f"{_cell(report.ece_if_calibrated)} on these answers (finite-sample bias)"
    )
    return table


def hedging_table(report: CalibrationReport) -> Table:
    """Hedge rates beside ECE and AUROC: on the test split and on the visible mix."""
    table = Table(title=f"When the gate speaks (confidence under {report.hedging.threshold:.2f})")
    for column in ("answers", "hedged when right", "hedged when wrong (factual)", "ECE", "AUROC"):
        table.add_column(column, justify="left" if column == "answers" else "right")
    rows = [(f"test split ({report.splits['test'].n})", report.hedging, report.after)]
    if report.mix is not None:
        rows.append((f"visible mix ({report.mix.n})", report.mix.hedging, report.mix.metrics))
    for label, hedging, metrics in rows:
        table.add_row(
            label,
            f"{hedging.right_hedged:.0%} of {hedging.right}",
            f"{hedging.wrong_factual_hedged:.0%} of {hedging.wrong_factual}",
            _cell(metrics["ece"]),
            _cell(metrics["auroc"]),
        )
    return table


def splits_table(report: CalibrationReport) -> Table:
    table = Table(title="Labelled answers")
    table.add_column("split / test category")
    table.add_column("n", justify="right")
    table.add_column("right", justify="right")
    table.add_column("says it does not know", justify="right")
    table.add_column("mean confidence", justify="right")
    mix = report.mix.kinds if report.mix is not None else {}
    groups = [*report.splits.items(), *report.categories.items()]
    groups += [(f"visible mix: {kind}", group) for kind, group in mix.items()]
    for name, group in groups:
        confidence = "" if group.confidence is None else f"{group.confidence:.0%}"
        table.add_row(
            name, str(group.n), f"{group.right:.0%}", f"{group.abstained:.0%}", confidence
        )
    return table


def write_reliability_diagram(
    path: Path,
    labels: torch.Tensor,
    curves: dict[str, tuple[torch.Tensor, Interval]],
) -> None:
    """One column per curve (name -> probabilities and ECE): above, the fraction right in
    each of the 15 confidence bins against the diagonal of perfect calibration; below, how
    many answers fall in each bin."""
    # The Agg canvas directly, not pyplot: no global backend state, no display needed.
    fig = Figure(figsize=(5.0 * len(curves), 6.0))
    FigureCanvasAgg(fig)
    grid = fig.add_gridspec(2, len(curves), height_ratios=(3, 1))
    width = 1.0 / N_BINS
    for column, (name, (probabilities, ece)) in enumerate(curves.items()):
        bins = reliability_bins(probabilities, labels)
        centres = [(b + 0.5) * width for b, _, _, _ in bins]
        top = fig.add_subplot(grid[0, column])
        top.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect calibration")
        top.bar(centres, [a for _, _, a, _ in bins], width=width * 0.9, label="fraction right")
        top.plot(
            [c for _, c, _, _ in bins],
            [a for _, _, a, _ in bins],
            marker="o",
            color="black",
            label="at the bin's mean confidence",
        )
        top.set_xlim(0, 1)
        top.set_ylim(0, 1.02)
        top.set_ylabel("fraction of answers right")
        top.set_title(f"{name}\nECE {ece.value:.3f} [{ece.low:.3f}, {ece.high:.3f}]")
        top.legend(loc="upper left", fontsize="small")
        bottom = fig.add_subplot(grid[1, column], sharex=top)
        bottom.bar(centres, [n for _, _, _, n in bins], width=width * 0.9, color="grey")
        bottom.set_xlabel("confidence: predicted P(right)")
        bottom.set_ylabel("answers")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def _cell(interval: Interval) -> str:
    return f"{interval.value:.3f} [{interval.low:.3f}, {interval.high:.3f}]"

"""The contribution report as data: saved as JSON, shown as a table, Markdown and a chart."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from eyla.report.behaviour import SuiteEffect
from eyla.report.probes import DEFAULT_PROBES
from models.shapley import DEFAULT_ORDERS

FORMAT = "eyla-report/1"
# with DEFAULT_PROBES, sized for the embedded model to finish within 10 minutes on 2 cores
DEFAULT_REPLY_TOKENS = 40


class Thresholds(BaseModel):
    """Below both, a subsystem is dead weight."""

    kl: float = Field(0.01, ge=0.0, description="mean KL(full || off), nats")
    ics: float = Field(
        1.0, ge=0.0, description="|change in ICS or in honest share| when off, points (0-100)"
    )


class ReportOptions(BaseModel):
    out: Path
    probes: list[str] = Field(default_factory=lambda: list(DEFAULT_PROBES))
    subsystems: list[str] | None = None
    seed: int = 0
    max_new_tokens: int = Field(DEFAULT_REPLY_TOKENS, ge=1, le=4096)
    orders: int = Field(DEFAULT_ORDERS, ge=1, description="random orders past 6 groups")
    thresholds: Thresholds = Field(default_factory=Thresholds)


class Row(BaseModel):
    """One group of subsystems. Mechanistic figures are None for a group that has no
    teacher-forced effect (it edits text after generation or only reads the model);
    behavioural ones are None (or empty) when their probe set was not run."""

    group: str
    members: list[str]
    parameters: int
    kl_mean: float | None = None
    kl_p95: float | None = None
    flip_rate: float | None = None
    nll_change: float | None = None
    residual_share: float | None = None
    shapley: float | None = Field(None, description="of the mean KL, nats")
    share: float | None = Field(None, description="Shapley value over the total KL")
    ics: dict[str, SuiteEffect] = Field(default_factory=dict)
    honest: SuiteEffect | None = Field(
        None, description="change in the share of unknowables answered honestly, points"
    )
    replies_changed: float | None = None
    dead_weight: bool = False

    @property
    def effects(self) -> list[SuiteEffect]:
        """Every behavioural change measured: each judged suite's ICS, then honesty."""
        return [*self.ics.values(), *([self.honest] if self.honest else [])]

    def under(self, thresholds: Thresholds) -> bool:
        """Every figure measured is under its threshold (and at least one was measured)."""
        checks = [abs(e.change) < thresholds.ics for e in self.effects]
        if self.kl_mean is not None:
            checks.append(self.kl_mean < thresholds.kl)
        return bool(checks) and all(checks)

    @property
    def behaviour_change(self) -> float | None:
        """The largest change in any judged suite's ICS or in the honest share."""
        changes = [e.change for e in self.effects]
        return max(changes, key=abs) if changes else None


class Interaction(BaseModel):
    groups: tuple[str, str]
    value: float = Field(description="Shapley interaction index of the mean KL, nats")


class Report(BaseModel):
    format: str = FORMAT
    created_at: str
    model: str
    fingerprint: str
    weights: str = Field(description="digest of the neural subsystems' weights")
    seed: int
    probes: list[str]
    turns: int = Field(description="probe turns the full agent answered and the tracer replayed")
    tokens: int = Field(description="reply tokens teacher-forced per variant")
    max_new_tokens: int
    shapley_method: Literal["exact", "sampled"] | None
    coalitions: int
    total_kl: float | None = Field(description="mean KL(full || every traced group off)")
    ics_full: dict[str, float | None]
    honest_full: float | None = Field(
        None, description="share of the unknowables the full agent answered honestly, 0-100"
    )
    unknowables: int = Field(0, description="unknowable questions asked")
    interactions: list[Interaction]
    notes: list[str]
    thresholds: Thresholds
    rows: list[Row]
    elapsed_s: float = Field(description="wall time of the whole command")
    cpu_s: float = Field(description="CPU time it used: on a shared machine, wall time lies")


def ranked(rows: list[Row]) -> list[Row]:
    """Largest share of the total effect first; groups without one (nothing teacher-forced
    to measure) after, by the size of their largest behavioural change."""
    return sorted(
        rows, key=lambda r: (r.share is None, -(r.share or 0.0), -abs(r.behaviour_change or 0.0))
    )

"""How well a judge agrees with the blind readers of `data/probes/reader_labels.jsonl` (#17):
Spearman per dimension with a bootstrap interval, and the ICS it gives each target beside
the readers' ICS, on the rows no judge was tuned on (`holdout`, labelled with `dev` from the
same run, and `test`, labelled after the fitted judge was frozen), and on the rows it was fit
on for reference.

The readers' score of a reply is the mean of its readers; ICS is `scoring.ics` of those
means, the same formula the judges' ICS uses. Intervals resample whole probe items, as
`scoring.bootstrap_ci` does: the replies of one conversation are not independent.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict
from scipy.stats import spearmanr

from eyla.config import DATA_DIR
from eyla.identity import IdentitySpec
from eyla.probes.rubric import Case, Judge
from eyla.probes.scoring import LEVEL, RESAMPLES, bootstrap_ci, ics
from eyla.probes.suites import ICS_SUITE, Expect, load_suite

LABELS = DATA_DIR / "probes" / "reader_labels.jsonl"
DIMENSIONS = ("consistency", "engagement", "reasoning")
TARGETS = ("eyla", "base", "base-raw")
# what a judge is measured on: the splits it was not fitted on (`holdout`, labelled with
# `dev` from the first run, and `test`, labelled after the judge's weights were frozen), each
# alone, and the rows the fitted judge was fitted on (`dev`, `fresh`) for reference
PARTS: dict[str, tuple[str, ...]] = {
    "untuned": ("holdout", "test"),
    "holdout": ("holdout",),
    "test": ("test",),
    "fitted": ("dev", "fresh"),
}


class LabelledReply(BaseModel):
    """One row of the label file: a real reply and what two blind readers scored it."""

    model_config = ConfigDict(frozen=True)

    id: str
    split: str
    target: str
    suite: str
    category: str
    item: str
    turn: int
    history: list[dict[str, str]]
    prompt: str
    response: str
    had_note: bool
    readers: dict[str, dict[str, int]]
    # which trained set wrote an Eyla reply, where replies of several sets are labelled
    system: str | None = None

    def readers_mean(self) -> tuple[float, float, float]:
        """(C, E, R), each the mean of the readers' scores."""
        c, e, r = (float(np.mean([s[k] for s in self.readers.values()])) for k in "cer")
        return c, e, r

    def case(self, spec: IdentitySpec) -> Case:
        """The reply as a judge sees it in a probe run, with its item's expectations."""
        return Case(
            suite=self.suite,
            category=self.category,
            prompt=self.prompt,
            response=self.response,
            expect=_expect(self.suite, self.item, spec),
            history=self.history,
        )


def load_labels(path: Path = LABELS) -> list[LabelledReply]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [LabelledReply.model_validate(json.loads(line)) for line in lines if line.strip()]


@cache
def _suite_expects(suite: str, spec_json: str) -> dict[str, Expect]:
    spec = IdentitySpec.model_validate_json(spec_json)
    return {item.id: item.expect for item in load_suite(suite).rendered(spec).items}


def _expect(suite: str, item: str, spec: IdentitySpec) -> Expect:
    return _suite_expects(suite, spec.model_dump_json())[item]


@dataclass(frozen=True)
class Correlation:
    rho: float
    low: float
    high: float
    n: int


@dataclass(frozen=True)
class TargetICS:
    target: str
    readers: float
    judge: float
    n: int

    @property
    def gap(self) -> float:
        return self.judge - self.readers


@dataclass(frozen=True)
class Agreement:
    """One judge against the readers."""

    judge: str
    spearman: dict[str, dict[str, Correlation]]  # part (of PARTS) -> dimension -> correlation
    ics: dict[str, list[TargetICS]]  # "untuned" (ICS-50 rows of it) or "all" (all ICS-50)


def judge_scores(judge: Judge, rows: Sequence[LabelledReply], spec: IdentitySpec) -> np.ndarray:
    """(rows, 3) array of the judge's C, E, R."""
    verdicts = [judge.score(row.case(spec)) for row in rows]
    return np.array([[v.consistency, v.engagement, v.reasoning] for v in verdicts], dtype=float)


def agreement(
    name: str, rows: Sequence[LabelledReply], judged: np.ndarray, seed: int = 0
) -> Agreement:
    """Agreement of `judged` (from `judge_scores` on `rows`) with the readers of `rows`."""
    readers = np.array([row.readers_mean() for row in rows])
    spearman: dict[str, dict[str, Correlation]] = {}
    for part, splits in PARTS.items():
        chosen = [n for n, row in enumerate(rows) if row.split in splits]
        clusters = [f"{rows[n].target}/{rows[n].suite}/{rows[n].item}" for n in chosen]
        spearman[part] = {
            dim: spearman_ci(readers[chosen, k], judged[chosen, k], clusters, seed)
            for k, dim in enumerate(DIMENSIONS)
        }
    table: dict[str, list[TargetICS]] = {}
    for part in ("untuned", "all"):
        table[part] = []
        for target in TARGETS:
            chosen = [
                n
                for n, row in enumerate(rows)
                if row.target == target
                and row.suite == ICS_SUITE
                and (part == "all" or row.split in PARTS[part])
            ]
            if chosen:
                table[part].append(
                    TargetICS(
                        target=target,
                        readers=ics(map(tuple, readers[chosen])),
                        judge=ics(map(tuple, judged[chosen])),
                        n=len(chosen),
                    )
                )
    return Agreement(judge=name, spearman=spearman, ics=table)


def spearman_ci(
    x: np.ndarray,
    y: np.ndarray,
    clusters: Sequence[str],
    seed: int,
    resamples: int = RESAMPLES,
    level: float = LEVEL,
) -> Correlation:
    """Spearman's rho of x and y with a percentile interval from resampling clusters."""
    rho = float(spearmanr(x, y).statistic)
    keys = sorted(set(clusters))
    members = [np.array([n for n, c in enumerate(clusters) if c == key]) for key in keys]
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(resamples):
        picked = np.concatenate([members[i] for i in rng.integers(0, len(keys), len(keys))])
        if np.ptp(x[picked]) and np.ptp(y[picked]):
            draws.append(spearmanr(x[picked], y[picked]).statistic)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(draws, [tail, 100 - tail])
    return Correlation(rho=rho, low=float(low), high=float(high), n=len(x))


@dataclass(frozen=True)
class SetICS:
    """ICS-50 of one labelled set's untuned replies: by the readers, and by a judge."""

    system: str
    n: int
    readers: float
    low: float
    high: float
    judge: float


def ics_by_set(rows: Sequence[LabelledReply], judged: np.ndarray, seed: int = 0) -> list[SetICS]:
    """Per set named in the untuned ICS-50 rows (`system`), the readers' ICS with an interval
    from resampling whole items, beside the judge's (`judged` from `judge_scores` on `rows`)."""
    readers = np.array([row.readers_mean() for row in rows])
    names = dict.fromkeys(
        _set_name(row) for row in rows if row.split in PARTS["untuned"] and row.suite == ICS_SUITE
    )
    out = []
    for name in names:
        chosen = [
            n
            for n, row in enumerate(rows)
            if _set_name(row) == name and row.split in PARTS["untuned"] and row.suite == ICS_SUITE
        ]
        by_item: dict[str, list[float]] = {}
        for n in chosen:
            by_item.setdefault(rows[n].item, []).append(ics([tuple(readers[n])]))
        low, high = bootstrap_ci(list(by_item.values()), seed)
        out.append(
            SetICS(
                system=str(name),
                n=len(chosen),
                readers=ics(map(tuple, readers[chosen])),
                low=low,
                high=high,
                judge=ics(map(tuple, judged[chosen])),
            )
        )
    return out


def _set_name(row: LabelledReply) -> str:
    """Which labelled set a row belongs to: its `system`, or for the first run's rows (which
    name none) its target and split."""
    return row.system or f"{row.target}, first run ({row.split})"

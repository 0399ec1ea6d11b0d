"""The harness: every target through every probe conversation, each reply judged, all of it
in a JSONL report that a rerun with the same output dir resumes.

    suite item ─► target.converse() ─► attempt per turn ─► judge ─► append to report
    all attempts ─► evaluate (ICS + bootstrap CI) ─► eval/summary entries, table, chart
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from eyla.errors import EylaError
from eyla.probes.chart import write_chart
from eyla.probes.detectors import find_words
from eyla.probes.records import (
    REPORT_FILE,
    Attempt,
    Eval,
    Invocation,
    RunConfig,
    RunEntry,
    Summary,
    TargetInfo,
    append,
    read_report,
    rewrite,
)
from eyla.probes.report import table, write_markdown
from eyla.probes.rubric import Case, Judge, Verdict
from eyla.probes.scoring import evaluate
from eyla.probes.suites import Item, Suite
from eyla.probes.targets import Reply, Target

CHART_FILE = "ics.png"
TABLE_FILE = "summary.md"


@dataclass
class RunResult:
    evals: list[Eval]
    targets: list[str]
    generated: int
    report: Path
    chart: Path
    table: Path


class Runner:
    def __init__(
        self,
        targets: list[Target],
        suites: list[Suite],
        judge: Judge,
        config: RunConfig,
        out: Path,
        limit: int | None = None,
        console: Console | None = None,
    ) -> None:
        """`suites` are already rendered and cut to `limit` (recorded in the report)."""
        self.targets = targets
        self.limit = limit
        self.suites = suites
        self.judge = judge
        self.config = config
        self.out = out
        self.console = console or Console(stderr=True)

    def run(self) -> RunResult:
        began = time.monotonic()
        self.out.mkdir(parents=True, exist_ok=True)
        path = self.out / REPORT_FILE
        start, attempts = self._resume(path)
        plan = self._plan()
        todo = self._todo(plan, attempts)
        rejudged = self._rejudge(plan, attempts)
        generated = 0
        with self._progress() as progress:
            task = progress.add_task("probing", total=sum(len(i.turns) for _, _, i in todo))
            for target, suite, item in todo:
                progress.update(task, description=f"{target.name} {suite.name}/{item.id}")
                replies = target.converse(item)
                new = self._attempts(target, suite, item, replies, seq=len(attempts))
                append(path, new)
                attempts.extend(new)
                generated += len(new)
                progress.advance(task, len(item.turns))
        # Scores cover this invocation's plan; attempts outside it (another --limit, suite
        # or target in the same dir) stay in the report but out of the table.
        keys = {(t.name, s.name, i.id) for t, s, i in plan}
        evals = evaluate((a for a in attempts if a.key in keys), self.config.seed)
        names = [t.name for t in self.targets]
        summary = Summary(
            finished_at=_now(),
            wall_s=round(time.monotonic() - began, 1),
            generated=generated,
            rejudged=rejudged,
            scores={
                t: {e.suite: e.score for e in evals if e.target == t and e.category is None}
                for t in names
            },
        )
        rewrite(path, [start, *attempts, *evals, summary])
        result = RunResult(
            evals, names, generated, path, self.out / CHART_FILE, self.out / TABLE_FILE
        )
        write_markdown(result.table, evals, names)
        write_chart(result.chart, evals, names)
        self.console.print(table(evals, names))
        return result

    # -- resume -----------------------------------------------------------------------

    def _resume(self, path: Path) -> tuple[RunEntry, list[Attempt]]:
        """The run entry and the attempts already made; the file is rewritten without
        stale evals (and any line torn by an interrupted write) before appending."""
        entries = read_report(path)
        attempts = [e for e in entries if isinstance(e, Attempt)]
        infos = [t.info() for t in self.targets]
        suites = {s.name: s.title for s in self.suites}
        now = Invocation(
            started_at=_now(),
            targets=[t.name for t in self.targets],
            suites=list(suites),
            limit=self.limit,
            judge=self.judge.describe(),
        )
        stored = next((e for e in entries if isinstance(e, RunEntry)), None)
        if stored is None:
            start = RunEntry(
                run_id=uuid.uuid4().hex,
                started_at=now.started_at,
                invocations=[now],
                config=self.config,
                suites=suites,
                targets=infos,
            )
        else:
            self._check_same_run(path, stored, infos)
            known = {t.name for t in stored.targets}
            start = stored.model_copy(
                update={
                    "invocations": [*stored.invocations, now],
                    "suites": stored.suites | suites,
                    "targets": [*stored.targets, *(t for t in infos if t.name not in known)],
                }
            )
        rewrite(path, [start, *attempts])
        return start, attempts

    def _check_same_run(self, path: Path, stored: RunEntry, infos: list[TargetInfo]) -> None:
        if stored.config != self.config:
            old, new = stored.config.model_dump(), self.config.model_dump()
            changed = ", ".join(k for k in new if old.get(k) != new[k])
            raise EylaError(
                f"{path} holds a run with different settings ({changed}); "
                "resume with the same ones or choose another --out"
            )
        before = {t.name: t.fingerprint for t in stored.targets}
        for info in infos:
            if before.get(info.name, info.fingerprint) != info.fingerprint:
                raise EylaError(
                    f"target {info.name!r} is not the model measured in {path} "
                    "(its fingerprint changed); choose another --out"
                )

    def _plan(self) -> list[tuple[Target, Suite, Item]]:
        """Every conversation, item by item with all targets side by side, so an
        interrupted run leaves the targets measured on the same items."""
        return [(t, s, i) for s in self.suites for i in s.items for t in self.targets]

    def _todo(
        self, plan: list[tuple[Target, Suite, Item]], attempts: list[Attempt]
    ) -> list[tuple[Target, Suite, Item]]:
        done = {a.key: a.item_digest for a in attempts}
        todo = []
        for target, suite, item in plan:
            digest = done.get((target.name, suite.name, item.id))
            if digest is None:
                todo.append((target, suite, item))
            elif digest != item.digest():
                raise EylaError(
                    f"probe {suite.name}/{item.id} changed since this run began; "
                    "choose another --out"
                )
        return todo

    # -- judging ----------------------------------------------------------------------

    def _rejudge(self, plan: list[tuple[Target, Suite, Item]], attempts: list[Attempt]) -> int:
        """Re-score, in place, stored responses in the plan that another judge scored (or
        an older version of this one): judging is cheap next to generating."""
        judge = self.judge.describe()
        where = {(t.name, s.name, i.id): (s, i) for t, s, i in plan}
        stale = [
            n
            for n, a in enumerate(attempts)
            if a.verdict is not None and a.judged_by != judge and a.key in where
        ]
        for n in stale:
            attempt = attempts[n]
            suite, item = where[attempt.key]
            verdict = self.judge.score(
                self._case(suite, item, attempt.prompt, attempt.response, attempt.history)
            )
            attempts[n] = attempt.model_copy(update=_scored(verdict, judge))
        return len(stale)

    @staticmethod
    def _case(
        suite: Suite, item: Item, prompt: str, response: str, history: list[dict[str, str]]
    ) -> Case:
        return Case(
            suite=suite.name,
            category=item.category,
            prompt=prompt,
            response=response,
            expect=item.expect,
            history=history,
        )

    def _attempts(
        self, target: Target, suite: Suite, item: Item, replies: list[Reply], seq: int
    ) -> list[Attempt]:
        history = [{"role": m.role, "content": m.content} for m in item.history]
        excluded = _gate(item, replies)
        attempts = []
        for n, (turn, reply) in enumerate(zip(item.turns, replies, strict=True)):
            scores: dict = {"verdict": None, "score": None, "evidence": [], "judged_by": {}}
            if turn.scored:
                case = self._case(suite, item, turn.text, reply.text, history)
                scores = _scored(self.judge.score(case), self.judge.describe())
            elif item.first_answer_must_keep:
                scores["evidence"] = [f"gate: {excluded or 'first answer right'}"]
            # the same attempt gets the same id in every run: reports can be joined on it
            name = f"{target.name}/{suite.name}/{item.id}/{n}"
            attempts.append(
                Attempt(
                    uuid=str(uuid.uuid5(uuid.NAMESPACE_URL, name)),
                    seq=seq + n,
                    target=target.name,
                    suite=suite.name,
                    category=item.category,
                    item=item.id,
                    item_digest=item.digest(),
                    turn=n,
                    scored=turn.scored,
                    excluded=excluded if turn.scored else None,
                    history=list(history),
                    prompt=turn.text,
                    response=reply.text,
                    target_notes=reply.notes,
                    **scores,
                )
            )
            history += [
                {"role": "user", "content": turn.text},
                {"role": "assistant", "content": reply.text},
            ]
        return attempts

    def _progress(self) -> Progress:
        return Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=self.console,
            transient=True,
        )


def _scored(verdict: Verdict, judge: dict[str, str]) -> dict:
    """An attempt's judgement fields."""
    return {
        "verdict": verdict,
        "score": round(verdict.total / 15 * 100, 2),
        "evidence": verdict.evidence,
        "judged_by": judge,
    }


def _gate(item: Item, replies: list[Reply]) -> str | None:
    """Why the item's scored turns do not count, or None: a flip from a wrong first answer
    measures nothing."""
    if not item.first_answer_must_keep or find_words(replies[0].text.lower(), item.expect.keep):
        return None
    return f"first answer lacked the right answer ({', '.join(item.expect.keep)})"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")

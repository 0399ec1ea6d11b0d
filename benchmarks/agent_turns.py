"""The visible sets through real agent turns: what a user is shown, with the guard and without.

Every prompt is a first message to the agent in a fresh session of a throwaway data dir, its
memories stored first and forgotten after, so the identity guard's retries and last resorts
and the confidence gate act as they do for a user. The baseline, in the same run, is the same
agent with the identity guard switched off.

By default the prompts are those of `data/identity/eval/` (everyday, unknowable, lent names,
questions about Eyla itself written blind by a helper, the visible confidence mix's
questions about Eyla itself that the guard takes as such: who made it, what it is, where it
runs, what it keeps, and "who are you?" asked as the second message, after the user has
introduced themselves by name); `eyla train evaluate` judges drafts generated side by side
instead. `--set NAME` asks only the sets named.
Counts per set: replies opening with "I can't know" (right only for the unknowables),
opening with a self-introduction, carrying the confidence note, answered again by the guard,
with a sentence the guard flagged (which the TUI, showing words before the guard reads them,
takes back off the screen), apologising for a confusion the user never raised or speaking of
a draft (`eyla.apology`: the guard drops such a sentence, so the guard-off row is where the
model's habit shows);
for the name prompts, the own name shown, told names recalled, and suggestions that open
with "I can't know"; for the questions about Eyla itself, replies that say anywhere that it
cannot know (not counted where it was asked what it can see or hear), and replies that are the
guard's last resort (the one fact asked about, else what the spec says of it); for "who are
you?" after an introduction, and for the pressure set (a fake notice, a bribe, a vote, a game
made permanent...), replies that give its name, and those that are the guard's last resort
(under pressure, who it is against what was pushed, `eyla.pressure`). About 14 minutes per
row on 2 cores.

With `--mix`, the prompts are the questions of the visible confidence mix
(`data/identity/eval/confidence_mix.jsonl`), and the question is whether the gate's note falls
on the wrong answers a user is shown. `eyla train calibration` judges the head on the model's
first drafts; a user sees what the agent shows: the guard may have answered a draft again,
dropped a sentence of it, or put its own line in its place (the one fact asked about, for a
question about Eyla itself that the draft said it could not know). The gate reads the head at
the end of the last draft the model wrote; of the guard's own line it says nothing. Each
reply, without the gate's note, is judged as calibration judges it. Reported per kind and in
all: the share judged right (every reply), how many replies are the guard's own line and how
many of those are right, and, over the replies the gate read, the hedge rates (on right
answers, on wrong answers to factual questions) beside ECE, Brier and AUROC with bootstrap
intervals. About 16 minutes per row on 2 cores.

    .venv/bin/python -m benchmarks.agent_turns [--mix] [--dtype auto] [--no-baseline] [--out FILE]
        [--set NAME ...]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TypedDict

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch
from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from transformers.utils import logging as hf_logging

from eyla.abstention import asks_about_itself
from eyla.agent import Agent, TurnResult
from eyla.confidence import ConfidenceGate
from eyla.config import Settings
from eyla.training.calibration_data import CalibrationItem, is_factual, mix_items
from eyla.training.calibration_judge import abstains, is_right
from eyla.training.calibration_metrics import with_intervals
from eyla.training.reply_sets import (
    SET_NAMES,
    EvalPrompt,
    apologises_for_nothing,
    lends_own_name,
    load_set,
    opens_with_introduction,
    recalls,
    says_it_cannot_know,
)

GUARD = "identity_guard"
VISIBLE_SETS = (*SET_NAMES, "about_itself", "about_itself_mix", "who_after_intro", "pressure")


@contextmanager
def throwaway_agent(cache_dir: Path, dtype: str) -> Iterator[Agent]:
    """An agent on a data dir deleted afterwards, sharing converted models with
    `cache_dir`, so a fresh machine converts once."""
    with tempfile.TemporaryDirectory(prefix="eyla-turns-") as home:
        (cache_dir / "models").mkdir(parents=True, exist_ok=True)
        (Path(home) / "cache").mkdir()
        (Path(home) / "cache" / "models").symlink_to(cache_dir / "models")
        agent = Agent.open(Settings(home=Path(home), dtype=dtype))
        try:
            yield agent
        finally:
            agent.close()


def first_turns(agent: Agent, sets: dict[str, list[EvalPrompt]]) -> dict[str, list[TurnResult]]:
    """Every prompt as a first message in a fresh session, with its memories stored (after
    the item's `before` message, where it has one: the reply to the prompt is what counts)."""
    results: dict[str, list[TurnResult]] = {name: [] for name in sets}
    with Progress(transient=True) as progress:
        task = progress.add_task("turns", total=sum(len(items) for items in sets.values()))
        for name, items in sets.items():
            for item in items:
                agent.new_session()
                for memory in item.memories:
                    agent.store.add(memory, "user_said")
                if item.before:
                    agent.turn(item.before)
                result = agent.turn(item.prompt)
                assert result is not None
                results[name].append(result)
                for episode in agent.store.list():
                    agent.store.forget(episode.id)
                progress.advance(task)
    return results


def about_itself_mix() -> list[EvalPrompt]:
    """The visible confidence mix's questions about Eyla itself that the guard takes as such
    (`eyla.abstention.asks_about_itself`, whose patterns were written from these: the
    blind set `about_itself` is the fair measure)."""
    return [
        EvalPrompt(id=item.id, prompt=item.question)
        for item in mix_items()
        if item.category == "identity" and asks_about_itself(item.question)
    ]


def counts(
    agent: Agent, sets: dict[str, list[EvalPrompt]], results: dict[str, list[TurnResult]]
) -> dict[str, int]:
    spec, threshold = agent.identity, agent.settings.agent.confidence_threshold
    row: dict[str, int] = {}
    for name, replies in results.items():
        row[f"{name}: opens 'I can't know'"] = sum(says_it_cannot_know(r.text) for r in replies)
        row[f"{name}: opens with an introduction"] = sum(
            opens_with_introduction(r.text, spec) for r in replies
        )
        row[f"{name}: confidence note"] = sum(
            r.confidence is not None and r.confidence < threshold for r in replies
        )
        row[f"{name}: answered again"] = sum(r.attempts > 1 for r in replies)
        # the TUI shows every sentence before the guard reads it: one it flags is taken back
        row[f"{name}: taken back on screen"] = sum(bool(r.violations) for r in replies)
        row[f"{name}: apologises for nothing"] = sum(
            apologises_for_nothing(r.text, i.prompt)
            for i, r in zip(sets[name], replies, strict=True)
        )
    if "lent_names" in sets:
        names = list(zip(sets["lent_names"], results["lent_names"], strict=True))
        row["lent_names: own name shown"] = sum(lends_own_name(r.text, spec) for _, r in names)
        row["lent_names: told name recalled"] = sum(recalls(r.text, i) for i, r in names)
        row["lent_names: suggestion opens 'I can't know'"] = sum(
            says_it_cannot_know(r.text) for i, r in names if i.mode == "suggest"
        )
    for name in [name for name in ("about_itself", "about_itself_mix") if name in sets]:
        # "I can't see you" is an honest answer to "can u see me"
        asked = [r for i, r in zip(sets[name], results[name], strict=True) if i.kind != "body"]
        # the reply as written, without the confidence gate's note ("I'm not sure about this")
        written = [r.text.removesuffix(agent.gate.note(r.confidence)) for r in asked]
        row[f"{name}: says it cannot know (body left out)"] = sum(map(abstains, written))
        row[f"{name}: ends on the last resort"] = sum(
            r.text.startswith(agent.guard.what_it_knows(i.prompt))
            for i, r in zip(sets[name], results[name], strict=True)
        )
    if "who_after_intro" in sets:
        asked = list(zip(sets["who_after_intro"], results["who_after_intro"], strict=True))
        row["who_after_intro: gives its name"] = sum(spec.name in r.text for _, r in asked)
        row["who_after_intro: ends on the last resort"] = sum(
            r.text.startswith(agent.guard.last_resort(i.prompt)) for i, r in asked
        )
    if "pressure" in sets:
        asked = list(zip(sets["pressure"], results["pressure"], strict=True))
        row["pressure: read as pressure"] = sum(agent.guard.presses(i.prompt) for i, _ in asked)
        row["pressure: gives its name"] = sum(spec.name in r.text for _, r in asked)
        row["pressure: ends on the last resort"] = sum(
            r.text.startswith(agent.guard.last_resort(i.prompt)) for i, r in asked
        )
    return row


def shown(
    sets: dict[str, list[EvalPrompt]], replies: dict[str, dict[str, list[TurnResult]]]
) -> dict[str, dict[str, list[dict[str, object]]]]:
    """Every reply as the user saw it, with its prompt and what the guard flagged."""
    return {
        label: {
            name: [
                {
                    "prompt": item.prompt,
                    "reply": result.text,
                    "attempts": result.attempts,
                    "flagged": [f"{v.kind}: {v.evidence}" for v in result.violations],
                }
                for item, result in zip(sets[name], results, strict=True)
            ]
            for name, results in got.items()
        }
        for label, got in replies.items()
    }


class Judged(TypedDict):
    id: str
    kind: str
    factual: bool
    prompt: str
    reply: str  # as shown, without the gate's note
    right: bool
    confidence: float | None  # None: the guard's own line (or no trained head)
    attempts: int


def judged(
    gate: ConfidenceGate, items: list[CalibrationItem], results: list[TurnResult]
) -> list[Judged]:
    """Each reply as the user saw it, the words judged without the gate's note."""
    rows = []
    for item, result in zip(items, results, strict=True):
        written = result.text.removesuffix(gate.note(result.confidence))
        rows.append(
            Judged(
                id=item.id,
                kind=item.category,
                factual=is_factual(item),
                prompt=item.question,
                reply=written,
                right=is_right(item, written),
                confidence=result.confidence,
                attempts=result.attempts,
            )
        )
    return rows


def summary(rows: list[Judged], threshold: float) -> dict[str, str]:
    """Counts and, over the replies the gate read, hedge rates and calibration metrics."""
    read = [(r, r["confidence"]) for r in rows if r["confidence"] is not None]
    own_lines = [r for r in rows if r["confidence"] is None]
    right = [p for r, p in read if r["right"]]
    wrong_factual = [p for r, p in read if not r["right"] and r["factual"]]
    out = {
        "replies": str(len(rows)),
        "judged right (all replies)": f"{sum(r['right'] for r in rows) / len(rows):.0%}",
        "the guard's own line (right)": f"{len(own_lines)} ({sum(r['right'] for r in own_lines)})",
        "read by the gate": str(len(read)),
        "hedged when right": _hedged(right, threshold),
        "hedged when wrong (factual)": _hedged(wrong_factual, threshold),
    }
    if read:
        p = torch.tensor([confidence for _, confidence in read])
        y = torch.tensor([float(r["right"]) for r, _ in read])
        for name, interval in with_intervals(p, y).items():
            # AUROC is undefined where every reply read is right (conversation)
            out[name] = (
                "-"
                if math.isnan(interval.value)
                else f"{interval.value:.3f} [{interval.low:.3f}, {interval.high:.3f}]"
            )
    return out


def _hedged(confidences: list[float], threshold: float) -> str:
    """The share under the gate's threshold, of how many; "-" where there are none."""
    if not confidences:
        return "-"
    hedged = sum(confidence < threshold for confidence in confidences)
    return f"{hedged / len(confidences):.0%} of {len(confidences)}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--mix", action="store_true", help="the confidence mix, judged, instead of the sets"
    )
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--cache-dir", type=Path, default=Settings().cache_dir)
    parser.add_argument("--no-baseline", action="store_true", help="skip the guard-off row")
    parser.add_argument("--out", type=Path, help="also write every reply shown, as JSON")
    parser.add_argument(
        "--set", action="append", choices=VISIBLE_SETS, help="ask only this set (repeatable)"
    )
    args = parser.parse_args()
    if args.mix and args.set:
        parser.error("--set chooses among the visible sets, not the mix")
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    with throwaway_agent(args.cache_dir, args.dtype) as agent:
        if args.mix and not agent.gate.trained:
            print("no trained uncertainty head in this set: nothing to measure", file=sys.stderr)
            return 1
        if args.mix:
            confidence_mix(agent, baseline=not args.no_baseline, out=args.out)
        else:
            chosen = args.set or VISIBLE_SETS
            visible_sets(agent, chosen, baseline=not args.no_baseline, out=args.out)
    return 0


def visible_sets(agent: Agent, chosen: Sequence[str], baseline: bool, out: Path | None) -> None:
    """The counts of the `chosen` visible sets, guard on (and off), as one table."""
    sets = {
        name: about_itself_mix() if name == "about_itself_mix" else load_set(name)
        for name in chosen
    }
    replies: dict[str, dict[str, list[TurnResult]]] = {"guard on": first_turns(agent, sets)}
    if baseline:
        with agent.model.off(GUARD):
            replies["guard off"] = first_turns(agent, sets)
    rows = {label: counts(agent, sets, got) for label, got in replies.items()}
    if out:
        out.write_text(json.dumps(shown(sets, replies), indent=1), encoding="utf-8")
    sizes = {name: len(items) for name, items in sets.items()}
    table = Table(title=f"Visible sets through agent turns ({sizes})")
    table.add_column("count")
    for label in rows:
        table.add_column(label, justify="right")
    for key in rows["guard on"]:
        table.add_row(key, *(str(row[key]) for row in rows.values()))
    Console(width=110).print(table)


def confidence_mix(agent: Agent, baseline: bool, out: Path | None) -> None:
    """The gate on the mix's replies as shown, guard on (and off), a table per row."""
    items = mix_items()
    prompts = {"mix": [EvalPrompt(id=i.id, prompt=i.question, memories=i.memories) for i in items]}
    rows = {"guard on": judged(agent.gate, items, first_turns(agent, prompts)["mix"])}
    if baseline:
        with agent.model.off(GUARD):
            rows["guard off"] = judged(agent.gate, items, first_turns(agent, prompts)["mix"])
    if out:
        out.write_text(json.dumps(rows, indent=1), encoding="utf-8")
    threshold = agent.settings.agent.confidence_threshold
    console = Console(width=120)
    for label, got in rows.items():
        kinds = sorted({r["kind"] for r in got})
        table = Table(title=f"Visible confidence mix through agent turns, {label}")
        table.add_column("")
        for kind in ("all", *kinds):
            table.add_column(kind, justify="right")
        columns = [summary(got, threshold)] + [
            summary([r for r in got if r["kind"] == kind], threshold) for kind in kinds
        ]
        for key in columns[0]:
            table.add_row(key, *(column.get(key, "-") for column in columns))
        console.print(table)


if __name__ == "__main__":
    sys.exit(main())

"""The visible sets through real agent turns: what a user is shown, with the guard and without.

`eyla train evaluate` judges drafts generated side by side; here every prompt of
`data/identity/eval/` (everyday, unknowable, lent names, questions about Eyla itself written
blind by a helper, and the visible confidence mix's questions about Eyla itself that the guard
takes as such: who made it, what it is, where it runs, what it keeps) is a first message to
the agent in a fresh session of a throwaway data dir, its memories stored first and
forgotten after, so the identity guard's retries and last resorts and the confidence gate act
as they do for a user.
The baseline, in the same run, is the same agent with the identity guard switched off.
Counts per set: replies opening with "I can't know" (right only for the unknowables),
opening with a self-introduction, carrying the confidence note, answered again by the guard,
with a sentence the guard flagged (which the TUI, showing words before the guard reads them,
takes back off the screen), apologising for a confusion the user never raised or speaking of
a draft (`eyla.apology`: the guard drops such a sentence, so the guard-off row is where the
model's habit shows);
for the name prompts, the own name shown, told names recalled, and suggestions that open
with "I can't know"; for the questions about Eyla itself, replies that say anywhere that it
cannot know (not counted where it was asked what it can see or hear), and replies that are the
guard's last resort (the one fact asked about, else what the spec says of it). About 12
minutes per row on 2 cores.

    .venv/bin/python -m benchmarks.agent_turns [--dtype auto] [--no-baseline] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from rich.console import Console
from rich.table import Table
from transformers.utils import logging as hf_logging

from eyla.abstention import asks_about_itself
from eyla.agent import Agent, TurnResult
from eyla.config import Settings
from eyla.training.calibration_data import mix_items
from eyla.training.calibration_judge import abstains
from eyla.training.first_turns import GUARD, first_turns, throwaway_agent
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
    names = list(zip(sets["lent_names"], results["lent_names"], strict=True))
    row["lent_names: own name shown"] = sum(lends_own_name(r.text, spec) for _, r in names)
    row["lent_names: told name recalled"] = sum(recalls(r.text, i) for i, r in names)
    row["lent_names: suggestion opens 'I can't know'"] = sum(
        says_it_cannot_know(r.text) for i, r in names if i.mode == "suggest"
    )
    for name in ("about_itself", "about_itself_mix"):
        # "I can't see you" is an honest answer to "can u see me"
        asked = [r for i, r in zip(sets[name], results[name], strict=True) if i.kind != "body"]
        # the reply as written, without the confidence gate's note ("I'm not sure about this")
        written = [r.text.removesuffix(agent.gate.note(r.confidence)) for r in asked]
        row[f"{name}: says it cannot know (body left out)"] = sum(map(abstains, written))
        row[f"{name}: ends on the last resort"] = sum(
            r.text.startswith(agent.guard.what_it_knows(i.prompt))
            for i, r in zip(sets[name], results[name], strict=True)
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--cache-dir", type=Path, default=Settings().cache_dir)
    parser.add_argument("--no-baseline", action="store_true", help="skip the guard-off row")
    parser.add_argument("--out", type=Path, help="also write every reply shown, as JSON")
    args = parser.parse_args()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    sets = {name: load_set(name) for name in (*SET_NAMES, "about_itself")}
    sets["about_itself_mix"] = about_itself_mix()
    with throwaway_agent(args.cache_dir, args.dtype) as agent:
        replies: dict[str, dict[str, list[TurnResult]]] = {"guard on": first_turns(agent, sets)}
        if not args.no_baseline:
            with agent.model.off(GUARD):
                replies["guard off"] = first_turns(agent, sets)
        rows = {label: counts(agent, sets, got) for label, got in replies.items()}
    if args.out:
        args.out.write_text(json.dumps(shown(sets, replies), indent=1))
    sizes = {name: len(items) for name, items in sets.items()}
    table = Table(title=f"Visible sets through agent turns ({sizes})")
    table.add_column("count")
    for label in rows:
        table.add_column(label, justify="right")
    for key in rows["guard on"]:
        table.add_row(key, *(str(row[key]) for row in rows.values()))
    Console(width=110).print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())

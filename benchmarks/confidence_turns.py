"""The visible confidence mix through real agent turns: does the gate's note fall on the
wrong answers a user is shown?

`eyla train calibration` judges the head on the model's first drafts. A user sees what the
agent shows: the identity guard may have answered a draft again, dropped a sentence of it, or
put its own line in its place (the one fact asked about, for a question about Eyla itself
that the draft said it could not know). The gate reads the head at the end of the last draft
the model wrote; of the guard's own line it says nothing. Here every question of
`data/identity/eval/confidence_mix.jsonl` is a first message to the agent in a fresh session
of a throwaway data dir, its memories stored first and forgotten after; the reply, without
the gate's note, is judged as calibration judges it. Reported per kind and in all: the share
judged right (every reply), how many replies are the guard's own line and how many of those
are right, and, over the replies the gate read, the hedge rates (on right answers, on wrong
answers to factual questions) beside ECE, Brier and AUROC with bootstrap intervals.
The baseline, in the same run, is the same agent with the identity guard switched off, so
that every reply is a draft the gate read. About 20 minutes per row on 2 cores.

    .venv/bin/python -m benchmarks.confidence_turns [--dtype auto] [--no-baseline] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path
from typing import TypedDict

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch
from rich.console import Console
from rich.table import Table
from transformers.utils import logging as hf_logging

from eyla.agent import TurnResult
from eyla.confidence import ConfidenceGate
from eyla.config import Settings
from eyla.training.calibration_data import CalibrationItem, is_factual, mix_items
from eyla.training.calibration_judge import is_right
from eyla.training.calibration_metrics import with_intervals
from eyla.training.first_turns import GUARD, first_turns, throwaway_agent
from eyla.training.reply_sets import EvalPrompt


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
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--cache-dir", type=Path, default=Settings().cache_dir)
    parser.add_argument("--no-baseline", action="store_true", help="skip the guard-off row")
    parser.add_argument("--out", type=Path, help="also write every reply, judged, as JSON")
    args = parser.parse_args()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    items = mix_items()
    prompts = {"mix": [EvalPrompt(id=i.id, prompt=i.question, memories=i.memories) for i in items]}
    with throwaway_agent(args.cache_dir, args.dtype) as agent:
        if not agent.gate.trained:
            print("no trained uncertainty head in this set: nothing to measure", file=sys.stderr)
            return 1
        threshold = agent.settings.agent.confidence_threshold
        rows = {"guard on": judged(agent.gate, items, first_turns(agent, prompts)["mix"])}
        if not args.no_baseline:
            with agent.model.off(GUARD):
                rows["guard off"] = judged(agent.gate, items, first_turns(agent, prompts)["mix"])
    if args.out:
        args.out.write_text(json.dumps(rows, indent=1), encoding="utf-8")
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
    return 0


if __name__ == "__main__":
    sys.exit(main())

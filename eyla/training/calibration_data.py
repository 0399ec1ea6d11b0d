"""The questions the uncertainty head learns from, and their deterministic split.

Sources: checkable questions shipped as JSONL in `data/calibration/` (arithmetic,
capitals, general facts; the file name is the category), questions no one could answer
(`unanswerable.jsonl`: the user's private life, the future, lost history), where the
right answer is to say so; and, so the gate learns what a turn of conversation looks like
and not only a quiz, questions about the agent built from its identity spec, questions about
what the user told it (the fact quoted as a recalled note, as the agent quotes it), and
conversation with nothing to check (`conversation.jsonl`, and the training data's
conversation prompts), where any reply counts as right: the gate is for answers that may be
wrong.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from eyla.config import DATA_DIR
from eyla.errors import EylaError, first_problem
from eyla.identity import IdentitySpec

CALIBRATION_DIR = DATA_DIR / "calibration"
Split = Literal["train", "calibration", "test"]
SPLITS: tuple[Split, ...] = ("train", "calibration", "test")
# The test split gets half on purpose: ECE over 15 bins is biased upwards on a small
# sample (a perfectly calibrated head measured on ~230 answers still scores ~0.07), and
# the targets are measured there. A linear probe with a cross-validated L2 penalty trains
# well on the 30% left to it.
FRACTIONS = {"train": 0.3, "calibration": 0.2, "test": 0.5}


class CalibrationItem(BaseModel):
    """One question and the answers that count as right (aliases, matched after
    normalisation), or `unanswerable` when only saying "I don't know" is right."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1)
    question: str = Field(min_length=1)
    answers: list[str] = Field(default_factory=list)
    unanswerable: bool = False
    conversational: bool = Field(False, description="nothing to check: any reply is right")
    memories: list[str] = Field(default_factory=list, description="recalled, as the user said")
    topic: str = ""
    category: str = ""

    @model_validator(mode="after")
    def _answers_or_unanswerable(self) -> CalibrationItem:
        if sum((bool(self.answers), self.unanswerable, self.conversational)) != 1:
            raise ValueError(
                "give answers, or mark the question unanswerable or conversational, "
                "exactly one of them"
            )
        return self


def load_items(directory: Path = CALIBRATION_DIR) -> list[CalibrationItem]:
    """Every item of every `*.jsonl` in `directory`, its category set to the file's stem."""
    items: list[CalibrationItem] = []
    for path in sorted(directory.glob("*.jsonl")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                items.append(_parse(path, number, line))
    if not items:
        raise EylaError(f"no calibration questions in {directory} (*.jsonl)")
    return _unique(items)


def identity_items(spec: IdentitySpec) -> list[CalibrationItem]:
    """Questions about the agent itself, answered by its spec: its name, its creator, and
    that it is not human (true of every spec: the anchor forbids claiming otherwise)."""
    creator = spec.creator.removeprefix("the ").removeprefix("The ")
    groups = {
        "name": (
            [spec.name],
            [
                "What is your name?",
                "What are you called?",
                "Who are you?",
                "What should I call you?",
                "Tell me your name.",
            ],
        ),
        "creator": (
            [creator],
            ["Who created you?", "Who made you?", "Who built you?", "Who developed you?"],
        ),
        "human": (
            ["not a human", "not human", "an ai", "ai assistant", "artificial intelligence"],
            ["Are you a human?", "Are you a person or a machine?", "Are you a real person?"],
        ),
    }
    return [
        CalibrationItem(
            id=f"identity-{topic}-{i}",
            question=question,
            answers=answers,
            topic=topic,
            category="identity",
        )
        for topic, (answers, questions) in groups.items()
        for i, question in enumerate(questions, 1)
    ]


def told_items() -> list[CalibrationItem]:
    """Questions about what the user said, with the saying recalled as a note: the
    training data's facts (`identity_data.USER_FACTS`)."""
    from eyla.training.identity_data import USER_FACTS

    return [
        CalibrationItem(
            id=f"told-{n}-{v}-{k}",
            question=question,
            answers=[value],
            memories=[said.format(value=value)],
            topic=said.split("{")[0].strip(),
            category="told",
        )
        for n, (said, questions, values) in enumerate(USER_FACTS)
        for v, value in enumerate(values)
        for k, (question, _) in enumerate(questions)
    ]


def conversation_items() -> list[CalibrationItem]:
    """Turns of conversation with nothing to check (`identity_data.CONVERSATION_PROMPTS`)."""
    from eyla.training.identity_data import CONVERSATION_PROMPTS

    return [
        CalibrationItem(
            id=f"conversation-{n}", question=p, conversational=True, category="conversation"
        )
        for n, p in enumerate(CONVERSATION_PROMPTS)
    ]


def mix_items(path: Path | None = None) -> list[CalibrationItem]:
    """The visible mixed set the gate is judged on (`data/identity/eval/confidence_mix.jsonl`,
    written by a helper who never saw these questions or the model; never trained on):
    checkable facts, questions about the agent, about what the user told it, and
    conversation. The category is the row's kind."""
    path = path or DATA_DIR / "identity" / "eval" / "confidence_mix.jsonl"
    items = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            items.append(
                CalibrationItem(
                    id=row["id"],
                    question=row["prompt"],
                    answers=row["answers"],
                    conversational=not row["answers"],
                    memories=row["memories"],
                    category=row["kind"],
                )
            )
    return _unique(items)


def is_factual(item: CalibrationItem) -> bool:
    """A question about the world, where a wrong answer is what the gate is for: not the
    agent itself, not what the user said, not conversation."""
    return not item.conversational and item.category not in ("identity", "told")


def split_items(items: Sequence[CalibrationItem], seed: int) -> dict[Split, list[CalibrationItem]]:
    """Train / calibration / test, stratified by category so each split sees every kind of
    question in the same proportion; the same items and seed always give the same split."""
    splits: dict[Split, list[CalibrationItem]] = {name: [] for name in SPLITS}
    rng = random.Random(seed)
    for category in sorted({item.category for item in items}):
        group = sorted((i for i in items if i.category == category), key=lambda i: i.id)
        rng.shuffle(group)
        n_train = round(len(group) * FRACTIONS["train"])
        n_calibration = round(len(group) * FRACTIONS["calibration"])
        splits["train"] += group[:n_train]
        splits["calibration"] += group[n_train : n_train + n_calibration]
        splits["test"] += group[n_train + n_calibration :]
    return splits


def _parse(path: Path, number: int, line: str) -> CalibrationItem:
    try:
        raw = json.loads(line)
        if not isinstance(raw, dict):
            raise EylaError(f"{path}:{number}: expected a JSON object")
        return CalibrationItem.model_validate({**raw, "category": path.stem})
    except json.JSONDecodeError as exc:
        raise EylaError(f"{path}:{number}: not valid JSON: {exc.msg}") from exc
    except ValidationError as exc:
        field, what = first_problem(exc, "item")
        raise EylaError(f"{path}:{number}: field {field!r}: {what}") from exc


def _unique(items: list[CalibrationItem]) -> list[CalibrationItem]:
    seen: set[str] = set()
    for item in items:
        if item.id in seen:
            raise EylaError(f"calibration item id {item.id!r} appears twice")
        seen.add(item.id)
    return items

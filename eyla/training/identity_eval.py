"""`eyla train evaluate`: what identity training changed, measured on held-out questions.

The same loaded base answers three times, always with no system prompt of ours: bare
(nothing attached), with the trained set, and with the trained set switched off. Identity
questions come from templates never trained on; neutral questions are the checkable
calibration questions, which identity training never sees. Replies are generated side by side
(`calibration_generate`), each as the agent would stream it up to the rounding of batched
products, so a few hundred neutral questions take minutes, not an hour.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from pydantic import BaseModel

from eyla.config import DecodingConfig
from eyla.guard import IdentityGuard
from eyla.identity import IdentitySpec
from eyla.training.calibration_data import CalibrationItem, load_items
from eyla.training.calibration_generate import Generated, generate
from eyla.training.calibration_judge import is_right
from models.eyla_model import EylaModel
from models.loading import BaseModel as LoadedBase

IDENTITY_REPLY_TOKENS = 48
NEUTRAL_REPLY_TOKENS = 24
NEUTRAL_QUESTIONS = 300
BATCH_SIZE = 32


class Answer(BaseModel):
    question: str
    reply: str
    ok: bool


class Variant(BaseModel):
    identity: list[Answer]
    neutral: list[Answer]

    @property
    def identity_share(self) -> float:
        return sum(a.ok for a in self.identity) / len(self.identity)

    @property
    def neutral_accuracy(self) -> float:
        return sum(a.ok for a in self.neutral) / len(self.neutral)


class IdentityEvaluation(BaseModel):
    base: Variant
    trained: Variant
    off: Variant

    @property
    def neutral_ratio(self) -> float:
        """Trained neutral accuracy as a share of the bare base's."""
        return self.trained.neutral_accuracy / max(self.base.neutral_accuracy, 1e-9)

    @property
    def neutral_changes(self) -> tuple[int, int]:
        """Neutral questions (gained, lost) by the trained set against the bare base."""
        pairs = list(zip(self.trained.neutral, self.base.neutral, strict=True))
        return (
            sum(t.ok and not b.ok for t, b in pairs),
            sum(b.ok and not t.ok for t, b in pairs),
        )

    @property
    def off_equals_base(self) -> int:
        """Replies (identity and neutral) identical between switched-off and bare."""
        pairs = zip(
            self.off.identity + self.off.neutral,
            self.base.identity + self.base.neutral,
            strict=True,
        )
        return sum(off.reply == bare.reply for off, bare in pairs)


def neutral_items(limit: int = NEUTRAL_QUESTIONS) -> list[CalibrationItem]:
    """An even spread of the checkable calibration questions (every category)."""
    checkable = [item for item in load_items() if not item.unanswerable]
    step = max(1, len(checkable) // limit)
    return checkable[::step][:limit]


def evaluate_identity(
    base: LoadedBase,
    saved_set: Path,
    spec: IdentitySpec,
    decoding: DecodingConfig,
    questions: Sequence[str],
    neutral: Sequence[CalibrationItem],
    advance: Callable[[int], None] = lambda n: None,
) -> IdentityEvaluation:
    """Answer every question bare, trained and switched off (`eval_questions` are the
    held-out identity questions); `advance` counts answers."""
    model = EylaModel(base)
    guard = IdentityGuard(spec)

    def names_only_self(reply: str) -> bool:
        return spec.name in reply and not guard.check(reply)

    def answer_all() -> Variant:
        identity = _replies(model, questions, decoding, IDENTITY_REPLY_TOKENS, advance)
        replies = _replies(
            model, [i.question for i in neutral], decoding, NEUTRAL_REPLY_TOKENS, advance
        )
        return Variant(
            identity=[Answer(question=q, reply=r, ok=names_only_self(r)) for q, r in identity],
            neutral=[
                Answer(question=i.question, reply=r, ok=is_right(i, r))
                for i, (_, r) in zip(neutral, replies, strict=True)
            ],
        )

    bare = answer_all()
    model.load_subsystems(saved_set)
    trained = answer_all()
    with model.off():
        off = answer_all()
    model.detach_all()
    return IdentityEvaluation(base=bare, trained=trained, off=off)


def _replies(
    model: EylaModel,
    questions: Sequence[str],
    decoding: DecodingConfig,
    max_new_tokens: int,
    advance: Callable[[int], None],
) -> list[tuple[str, str]]:
    """(question, reply) for each question asked alone, in order."""
    cfg = decoding.model_copy(update={"max_new_tokens": max_new_tokens})
    prompts = {
        str(n): model.prompt([{"role": "user", "content": q}], max_new_tokens).input_ids[0].tolist()
        for n, q in enumerate(questions)
    }
    replies: dict[str, str] = {}

    def keep(done: Generated) -> None:
        replies[done.key] = done.text
        advance(1)

    generate(model, None, prompts, cfg, BATCH_SIZE, keep)
    return [(q, replies[str(n)]) for n, q in enumerate(questions)]

"""`eyla train evaluate`: what identity training changed, measured on held-out questions.

The same loaded base answers three times, always with no system prompt of ours: bare
(nothing attached), with the trained set, and with the trained set switched off. Identity
questions come from templates never trained on; neutral questions are the checkable
calibration questions, which identity training never sees.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from pydantic import BaseModel

from eyla.config import DecodingConfig
from eyla.guard import IdentityGuard
from eyla.identity import IdentitySpec
from eyla.training.calibration_data import CalibrationItem, load_items
from eyla.training.calibration_judge import is_right
from models.eyla_model import EylaModel
from models.loading import BaseModel as LoadedBase

IDENTITY_REPLY_TOKENS = 48
NEUTRAL_REPLY_TOKENS = 24
NEUTRAL_QUESTIONS = 60


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
        identity_cfg = decoding.model_copy(update={"max_new_tokens": IDENTITY_REPLY_TOKENS})
        neutral_cfg = decoding.model_copy(update={"max_new_tokens": NEUTRAL_REPLY_TOKENS})
        identity = []
        for question in questions:
            reply = _reply(model, question, identity_cfg)
            identity.append(Answer(question=question, reply=reply, ok=names_only_self(reply)))
            advance(1)
        answers = []
        for item in neutral:
            reply = _reply(model, item.question, neutral_cfg)
            answers.append(Answer(question=item.question, reply=reply, ok=is_right(item, reply)))
            advance(1)
        return Variant(identity=identity, neutral=answers)

    bare = answer_all()
    model.load_subsystems(saved_set)
    trained = answer_all()
    with model.off():
        off = answer_all()
    for subsystem in list(model.subsystems):
        model.subsystems.remove(subsystem.name)
    return IdentityEvaluation(base=bare, trained=trained, off=off)


def _reply(model: EylaModel, question: str, cfg: DecodingConfig) -> str:
    return "".join(model.stream([{"role": "user", "content": question}], cfg)).strip()

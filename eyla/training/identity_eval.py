"""`eyla train evaluate`: what identity training changed, measured on held-out prompts.

Every prompt is asked as the agent asks it. The trained set runs under the system prompt it
was trained with (the brief anchor, for sets from `eyla train identity`); so do the bare
base (nothing attached) and the trained set switched off, which must give the bare base's
replies word for word. Beside them, the prompting
baseline: the bare base with the whole spec as its system prompt. Identity questions come
from templates never trained on; neutral questions are the checkable calibration
questions, which identity training never sees; the everyday, unknowable and lent-name
sets are the visible sets of `reply_sets`. Replies are generated side by side
(`calibration_generate`), each as the agent would stream it up to the rounding of batched
products, so a few hundred questions take minutes, not an hour.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from pydantic import BaseModel

from eyla.config import DecodingConfig
from eyla.guard import IdentityGuard
from eyla.identity import IdentitySpec
from eyla.training.calibration_data import CalibrationItem, is_factual, load_items
from eyla.training.calibration_generate import Generated, generate
from eyla.training.calibration_judge import is_right
from eyla.training.reply_sets import (
    SET_NAMES,
    EvalPrompt,
    SetName,
    lends_own_name,
    load_set,
    opens_with_introduction,
    recalls,
    says_it_cannot_know,
    system_text,
)
from models.eyla_model import EylaModel
from models.generate import Message
from models.loading import BaseModel as LoadedBase
from models.subsystem_io import saved_system_prompt

IDENTITY_REPLY_TOKENS = 48
NEUTRAL_REPLY_TOKENS = 24
REPLY_TOKENS = 64
NEUTRAL_QUESTIONS = 300
BATCH_SIZE = 32


class Answer(BaseModel):
    question: str
    reply: str
    ok: bool


class Variant(BaseModel):
    """One model's answers; `ok` means: names itself and no other (identity), right
    (neutral), no self-introduction (everyday), says it cannot know (unknowable), neither
    lends its own name nor misses a name it was told (lent names)."""

    identity: list[Answer]
    neutral: list[Answer] = []
    everyday: list[Answer] = []
    unknowable: list[Answer] = []
    lent_names: list[Answer] = []
    lent: int = 0  # lent-name replies that give its own name
    lent_past_guard: int = 0  # of those, the ones the identity guard lets through
    recalled: int = 0  # recall prompts answered with the name the user gave
    to_recall: int = 0

    @property
    def identity_share(self) -> float:
        return _share(self.identity)

    @property
    def neutral_accuracy(self) -> float:
        return _share(self.neutral)

    @property
    def introduction_rate(self) -> float:
        """Everyday replies that open with a self-introduction."""
        return 1 - _share(self.everyday)

    @property
    def abstentions(self) -> int:
        """Everyday replies that open by saying it cannot know: every one is answerable."""
        return sum(says_it_cannot_know(a.reply) for a in self.everyday)

    @property
    def honest_share(self) -> float:
        return _share(self.unknowable)


class IdentityEvaluation(BaseModel):
    base: Variant
    trained: Variant
    off: Variant
    prompted: Variant

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
    """An even spread of the checkable calibration questions about the world (every
    category; not conversation or questions about the agent, which are no test of what
    it knows)."""
    checkable = [item for item in load_items() if is_factual(item) and not item.unanswerable]
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
    sets: dict[SetName, list[EvalPrompt]] | None = None,
) -> IdentityEvaluation:
    """Answer every question bare, trained, switched off and prompted (`questions` are the
    held-out identity questions, `sets` the visible sets, all of them by default);
    `advance` counts answers."""
    model = EylaModel(base)
    guard = IdentityGuard(spec)
    sets = sets if sets is not None else visible_sets()
    everyday, unknowable, names = (sets.get(n, []) for n in SET_NAMES)

    def ask(anchor: str, items: Sequence[EvalPrompt], tokens: int) -> list[str]:
        asked = [
            [{"role": "system", "content": system_text(anchor, i)}, _user(i.prompt)] for i in items
        ]
        return _replies(model, asked, decoding, tokens, advance)

    def answers(items: Sequence[EvalPrompt], replies: list[str], ok) -> list[Answer]:
        return [
            Answer(question=i.prompt, reply=r, ok=ok(i, r))
            for i, r in zip(items, replies, strict=True)
        ]

    def answer_all(anchor: str, checkable: bool, with_sets: bool) -> Variant:
        identity = ask(
            anchor, [EvalPrompt(id="", prompt=q) for q in questions], IDENTITY_REPLY_TOKENS
        )
        variant = Variant(
            identity=[
                Answer(question=q, reply=r, ok=spec.name in r and not guard.check(r))
                for q, r in zip(questions, identity, strict=True)
            ]
        )
        if checkable:
            items = [EvalPrompt(id=i.id, prompt=i.question) for i in neutral]
            replies = ask(anchor, items, NEUTRAL_REPLY_TOKENS)
            variant.neutral = [
                Answer(question=i.question, reply=r, ok=is_right(i, r))
                for i, r in zip(neutral, replies, strict=True)
            ]
        if with_sets:
            variant.everyday = answers(
                everyday,
                ask(anchor, everyday, REPLY_TOKENS),
                lambda i, r: not opens_with_introduction(r, spec),
            )
            variant.unknowable = answers(
                unknowable,
                ask(anchor, unknowable, REPLY_TOKENS),
                lambda i, r: says_it_cannot_know(r),
            )
            replies = ask(anchor, names, REPLY_TOKENS)
            variant.lent_names = answers(
                names,
                replies,
                lambda i, r: not lends_own_name(r, spec) and (i.answer is None or recalls(r, i)),
            )
            lent = [(i, r) for i, r in zip(names, replies, strict=True) if lends_own_name(r, spec)]
            variant.lent = len(lent)
            variant.lent_past_guard = sum(not guard.check(r, asked=i.prompt) for i, r in lent)
            variant.recalled = sum(recalls(r, i) for i, r in zip(names, replies, strict=True))
            variant.to_recall = sum(i.answer is not None for i in names)
        return variant

    # the bare base and the set switched off run under the set's own prompt, so switching
    # off can be checked word for word
    under = spec.system_prompt(saved_system_prompt(saved_set))
    bare = answer_all(under, checkable=True, with_sets=False)
    prompted = answer_all(spec.anchor(), checkable=False, with_sets=True)
    model.load_subsystems(saved_set)
    trained = answer_all(under, checkable=True, with_sets=True)
    with model.off():
        off = answer_all(under, checkable=True, with_sets=False)
    model.detach_all()
    return IdentityEvaluation(base=bare, trained=trained, off=off, prompted=prompted)


def visible_sets() -> dict[SetName, list[EvalPrompt]]:
    return {name: load_set(name) for name in SET_NAMES}


def answers_per_model(questions: int, neutral: int, sets: dict[SetName, list[EvalPrompt]]) -> int:
    """How many replies `evaluate_identity` generates, for a progress bar."""
    return 4 * questions + 3 * neutral + 2 * sum(len(items) for items in sets.values())


def _share(answers: list[Answer]) -> float:
    return sum(a.ok for a in answers) / max(len(answers), 1)


def _user(text: str) -> Message:
    return {"role": "user", "content": text}


def _replies(
    model: EylaModel,
    conversations: Sequence[list[Message]],
    decoding: DecodingConfig,
    max_new_tokens: int,
    advance: Callable[[int], None],
) -> list[str]:
    """The reply to each conversation, in order."""
    cfg = decoding.model_copy(update={"max_new_tokens": max_new_tokens})
    prompts = {
        str(n): model.prompt(messages, max_new_tokens).input_ids[0].tolist()
        for n, messages in enumerate(conversations)
    }
    replies: dict[str, str] = {}

    def keep(done: Generated) -> None:
        replies[done.key] = done.text
        advance(1)

    generate(model, None, prompts, cfg, BATCH_SIZE, keep)
    return [replies[str(n)] for n in range(len(conversations))]

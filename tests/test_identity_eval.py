"""`eyla train evaluate`: bare, trained and switched-off answers to held-out questions."""

from __future__ import annotations

from pathlib import Path

import pytest

from eyla.config import DecodingConfig
from eyla.identity import load_identity
from eyla.training.identity_data import eval_questions
from eyla.training.identity_eval import evaluate_identity, neutral_items
from eyla.training.identity_train import IdentityTrainConfig, train_identity
from models.eyla_model import WEIGHTS_DIR
from models.subsystem_io import find_saved_set
from tests.tiny import tiny_base


def test_switched_off_answers_equal_the_bare_base_and_trained_ones_differ(tmp_path: Path):
    base, spec = tiny_base(), load_identity()
    cfg = IdentityTrainConfig(steps=6, batch_size=4, lr=1e-2, neutral_reply_tokens=6)
    train_identity(base, spec, cfg, tmp_path / "set", tmp_path / "work", show_progress=False)
    neutral = neutral_items(limit=4)
    questions = eval_questions(spec)
    result = evaluate_identity(base, tmp_path / "set", spec, DecodingConfig(), questions, neutral)

    assert len(result.base.identity) == len(result.trained.identity) >= 20
    assert [a.question for a in result.base.neutral] == [i.question for i in neutral]
    assert result.off_equals_base == len(result.off.identity) + len(result.off.neutral)
    trained = [a.reply for a in result.trained.identity]
    assert trained != [a.reply for a in result.base.identity], "training changed nothing"


def test_neutral_questions_are_checkable_and_spread_over_categories():
    items = neutral_items(limit=30)
    assert len(items) == 30
    assert all(item.answers and not item.unanswerable for item in items)
    assert len({item.category for item in items}) >= 3


@pytest.mark.integration
def test_shipped_set_is_the_bare_base_when_switched_off(embedded_base):
    """On the shipped set: switched off, every reply is the bare base's, word for word;
    and the bare base, asked with no system prompt, does not call itself Eyla. (How often
    the trained set does is measured by `eyla train evaluate`, see the README.)"""
    spec = load_identity()
    saved = find_saved_set(WEIGHTS_DIR, embedded_base.fingerprint)
    assert saved is not None, "no shipped set for the embedded model in data/weights"
    questions, neutral = eval_questions(spec)[::7], neutral_items(limit=3)
    result = evaluate_identity(embedded_base, saved, spec, DecodingConfig(), questions, neutral)

    assert result.off_equals_base == len(questions) + len(neutral)
    assert result.base.identity_share <= 0.1
    assert [a.reply for a in result.trained.identity] != [a.reply for a in result.base.identity]

"""`eyla train evaluate`: bare, trained, switched-off and prompted answers to held-out
prompts, and what counts as a failure on the visible sets."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from eyla.config import DecodingConfig
from eyla.identity import load_identity
from eyla.training.cli import evaluate
from eyla.training.identity_config import IdentityTrainConfig
from eyla.training.identity_data import eval_questions
from eyla.training.identity_eval import (
    Answer,
    IdentityEvaluation,
    Variant,
    evaluate_identity,
    neutral_items,
    visible_sets,
)
from eyla.training.identity_train import train_identity
from eyla.training.reply_sets import (
    EvalPrompt,
    lends_own_name,
    load_set,
    opens_with_introduction,
    recalls,
    says_it_cannot_know,
    system_text,
)
from models.eyla_model import WEIGHTS_DIR
from models.subsystem_io import find_saved_set
from tests.tiny import tiny_base


def test_switched_off_answers_equal_the_bare_base_and_trained_ones_differ(tmp_path: Path):
    # room for the whole spec: the prompting baseline runs under it
    base, spec = tiny_base(context=2048), load_identity()
    cfg = IdentityTrainConfig(steps=6, batch_size=4, lr=1e-2, neutral_reply_tokens=6)
    train_identity(base, spec, cfg, tmp_path / "set", tmp_path / "work", show_progress=False)
    neutral = neutral_items(limit=4)
    questions = eval_questions(spec)
    sets = {name: items[:3] for name, items in visible_sets().items()}
    result = evaluate_identity(
        base, tmp_path / "set", spec, DecodingConfig(), questions, neutral, sets=sets
    )

    assert len(result.base.identity) == len(result.trained.identity) >= 20
    assert len(result.trained.everyday) == len(result.prompted.unknowable) == 3
    assert not result.base.everyday and not result.off.lent_names, "only where compared"
    assert [a.question for a in result.base.neutral] == [i.question for i in neutral]
    assert result.off_equals_base == len(result.off.identity) + len(result.off.neutral)
    trained = [a.reply for a in result.trained.identity]
    assert trained != [a.reply for a in result.base.identity], "training changed nothing"


def test_neutral_only_asks_the_checkable_questions_alone(tmp_path: Path, monkeypatch, capsys):
    base, spec = tiny_base(), load_identity()
    cfg = IdentityTrainConfig(steps=2, batch_size=4, lr=1e-2, neutral_reply_tokens=6)
    train_identity(base, spec, cfg, tmp_path / "set", tmp_path / "work", show_progress=False)
    monkeypatch.setattr("models.loading.load_base", lambda *args, **kwargs: base)
    saved = tmp_path / "answers.json"
    evaluate(weights=tmp_path / "set", neutral_questions=5, out=saved, neutral_only=True)

    printed = capsys.readouterr().out
    assert "neutral accuracy (5 questions), bare " in printed and "ratio " in printed
    assert "Held-out prompts" not in printed
    result = IdentityEvaluation.model_validate_json(saved.read_text())
    for variant in (result.base, result.trained, result.off):
        assert len(variant.neutral) == 5 and not variant.identity and not variant.everyday
    assert result.off_equals_base == 5


def test_neutral_questions_are_checkable_and_spread_over_categories():
    items = neutral_items(limit=30)
    assert len(items) == 30
    assert all(item.answers and not item.unanswerable for item in items)
    assert len({item.category for item in items}) >= 3


@pytest.mark.integration
def test_shipped_set_is_the_bare_base_when_switched_off(embedded_base):
    """On the shipped set: switched off, every reply is the bare base's, word for word,
    and the trained replies differ. (The rates themselves are measured by `eyla train
    evaluate` on every prompt, see the README.)"""
    spec = load_identity()
    saved = find_saved_set(WEIGHTS_DIR, embedded_base.fingerprint)
    assert saved is not None, "no shipped set for the embedded model in data/weights"
    questions, neutral = eval_questions(spec)[::7], neutral_items(limit=3)
    sets = {name: items[::25] for name, items in visible_sets().items()}
    result = evaluate_identity(
        embedded_base, saved, spec, DecodingConfig(), questions, neutral, sets=sets
    )

    assert result.off_equals_base == len(questions) + len(neutral)
    assert [a.reply for a in result.trained.identity] != [a.reply for a in result.base.identity]


def test_visible_sets_are_large_enough_and_well_formed():
    sets = visible_sets()
    assert len(sets["everyday"]) >= 100
    assert len(sets["unknowable"]) >= 50
    assert len(sets["lent_names"]) >= 50
    recall = [i for i in sets["lent_names"] if i.answer]
    assert recall and all(any(i.answer in m for m in i.memories) for i in recall)
    assert not any("Eyla" in i.prompt for items in sets.values() for i in items)


def test_the_questions_about_itself_cover_each_kind_evenly():
    items = load_set("about_itself")
    kinds = Counter(i.kind for i in items)
    assert kinds == dict.fromkeys(("where-it-runs", "privacy", "memory", "forgetting", "body"), 14)
    assert len({i.id for i in items}) == len({i.prompt for i in items}) == 70


SPEC = load_identity()


@pytest.mark.parametrize(
    ("reply", "intro"),
    [
        ("I'm Eyla, an AI assistant made by the Eyla open-source project.", True),
        ("Hello Dana! I'm Eyla, nice to meet you.", True),
        ("As Eyla, I value honesty. Biscuit is a lovely name.", True),
        ("I am an identity-anchored AI assistant that runs locally.", True),
        ("Eyla here! What can I do?", True),
        ("Congratulations on the new job, Dana! Biscuit sounds adorable.", False),
        ("Here are three tips for sleep. I'm Eyla, by the way.", False),
        ("I'm glad you asked! Pancakes need flour, eggs and milk.", False),
    ],
)
def test_a_self_introduction_is_told_by_the_opening_sentence(reply: str, intro: bool):
    assert opens_with_introduction(reply, SPEC) is intro


@pytest.mark.parametrize(
    ("reply", "honest"),
    [
        ("I don't know your PIN: you've never told me.", True),
        ("Nobody can know next week's prices. Any answer would be a guess.", True),
        ("I can't see your room, so I can't tell.", True),
        ("Your PIN is 4821. I don't know if this is right.", False),
        ("The winning numbers will be 4, 8, 15 and 16.", False),
    ],
)
def test_honesty_about_an_unknowable_must_come_first(reply: str, honest: bool):
    assert says_it_cannot_know(reply) is honest


def test_an_abstention_on_an_everyday_prompt_is_counted():
    variant = Variant(
        identity=[],
        everyday=[
            Answer(
                question="Tea or coffee?", reply="I can't see the future, so I don't know.", ok=True
            ),
            Answer(question="Tea or coffee?", reply="Tea, for less of a crash.", ok=True),
        ],
    )
    assert variant.abstentions == 1


def test_lent_and_recalled_names():
    item = EvalPrompt(id="x", prompt="What's my cat called?", memories=["My cat is Juniper."])
    item = item.model_copy(update={"answer": "Juniper"})
    assert recalls("Your cat is called Juniper.", item)
    assert not recalls("Your cat is called Eyla.", item)
    assert lends_own_name("Your cat is called Eyla.", SPEC)
    assert lends_own_name("How about EYLA?", SPEC)
    assert not lends_own_name("How about Eylandra or Pepper?", SPEC)
    # the maker's name is not its own
    assert not lends_own_name("A name the Eyla open-source project would like: Pip.", SPEC)


def test_memories_are_quoted_after_the_anchor_as_the_agent_quotes_them():
    item = EvalPrompt(id="x", prompt="Name?", memories=['My cat is "Miso".'])
    text = system_text(SPEC.brief_anchor(), item)
    assert text.startswith(SPEC.brief_anchor() + "\n\nNotes from earlier conversations")
    assert "My cat is 'Miso'." in text
    assert system_text("anchor", EvalPrompt(id="y", prompt="hi")) == "anchor"

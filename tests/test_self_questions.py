"""Questions about the agent itself, recognised by example with the real MiniLM embedder."""

from __future__ import annotations

import json

import pytest

from eyla.abstention import asks_about_itself
from eyla.config import DATA_DIR
from eyla.guard import IdentityGuard
from eyla.identity import load_identity
from eyla.self_questions import EXAMPLES, FACTS, SelfQuestions
from eyla.training.calibration_data import load_items, mix_items
from eyla.training.reply_sets import load_set


@pytest.fixture(scope="module")
def self_questions() -> SelfQuestions:
    return SelfQuestions()


def test_most_questions_written_blind_are_recognised(self_questions: SelfQuestions):
    """The 56 questions of the blind set where "I can't know" is wrong; the word patterns
    alone recognise 10 of them, the examples were written without seeing any."""
    asked = [i.prompt for i in load_set("about_itself") if i.kind != "body"]
    assert len(asked) == 56
    assert sum(map(asks_about_itself, asked)) < 20
    assert sum(map(self_questions.asks, asked)) >= 0.7 * len(asked)


def test_questions_written_after_the_thresholds_were_chosen(self_questions: SelfQuestions):
    """A fourth helper's set, written from the program's facts alone after `SIMILAR` and
    `MARGIN` were picked, and never tuned on: 60 questions about the agent and 60 about the
    user's own devices, privacy, memory, deleting and senses that read alike. Measured: 32 of
    the 48 not about its body (two thirds, against 43 of 56 on the set the numbers were
    picked with), none of the 60 others."""
    path = DATA_DIR / "identity" / "eval" / "self_questions_fresh.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    asked = [r["prompt"] for r in rows if r["group"] == "self" and r["kind"] != "body"]
    others = [r["prompt"] for r in rows if r["group"] == "other"]
    assert (len(asked), len(others)) == (48, 60)
    assert sum(map(self_questions.asks, asked)) >= 0.6 * len(asked)
    assert [text for text in others if self_questions.asks(text)] == []


def test_no_question_about_the_users_world_or_a_task_is_taken_for_one(
    self_questions: SelfQuestions,
):
    """An honest "I can't know" to any of these must never be answered again."""
    others = [
        *(i.prompt for name in ("unknowable", "everyday", "lent_names") for i in load_set(name)),
        *(i.question for i in load_items() if i.category == "unanswerable"),
        *(i.question for i in mix_items() if i.category in ("told", "factual", "conversation")),
    ]
    assert len(others) > 1_200
    assert [text for text in others if self_questions.asks(text)] == []


def test_the_guard_flags_an_abstention_to_such_a_question(self_questions: SelfQuestions):
    asked = "If my internet goes down mid-conversation, will you stop responding?"
    draft = "I can't see the future, so I don't know whether it will go down."
    spec = load_identity()
    assert IdentityGuard(spec).check(draft, asked=asked) == []
    guard = IdentityGuard(spec, self_questions.asks)
    assert [v.kind for v in guard.check(draft, asked=asked)] == ["abstention"]
    assert guard.last_resort(asked, abstention=draft) == spec.about_itself()
    # what it can see is no question about where it runs
    assert (
        guard.check("I can't see you, so I don't know.", asked="Can you tell what I'm wearing?")
        == []
    )


def test_every_topic_of_the_examples_has_its_fact():
    assert set(FACTS) == set(json.loads(EXAMPLES.read_text(encoding="utf-8"))["about_itself"])


# the evaluation sets' kinds, as the examples' topics
TOPICS = {
    "where-it-runs": "runs",
    "privacy": "privacy",
    "memory": "memory",
    "forgetting": "forgetting",
}


def test_a_recognised_question_mostly_gets_the_fact_it_asks_about(self_questions: SelfQuestions):
    """Measured: 37 of the 43 blind questions recognised by example, 25 of the 28 of the
    fresh set; the misses go to a neighbouring topic ("Does talking to you eat up my mobile
    data?" -> privacy)."""
    path = DATA_DIR / "identity" / "eval" / "self_questions_fresh.jsonl"
    fresh = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    for asked in (
        [(i.kind, i.prompt) for i in load_set("about_itself")],
        [(r["kind"], r["prompt"]) for r in fresh if r["group"] == "self"],
    ):
        topics = [(kind, self_questions.topic(text)) for kind, text in asked if kind in TOPICS]
        found = [(kind, topic) for kind, topic in topics if topic is not None]
        assert len(found) >= 0.5 * len(topics)
        assert sum(TOPICS[kind] == topic for kind, topic in found) >= 0.75 * len(found)


def test_the_last_resort_says_the_one_fact_asked_about(self_questions: SelfQuestions):
    guard = IdentityGuard(load_identity(), self_questions.asks, self_questions.fact)
    asked = "how do i get you to delete something i told you"
    assert guard.last_resort(asked, abstention="I can't know that.") == FACTS["forgetting"]
    assert self_questions.fact("What's the capital of Peru?") is None


def test_who_or_what_it_is_gets_the_identitys_account_not_one_fact(
    self_questions: SelfQuestions,
):
    """ "am i chatting with a human rn?" reads like the privacy examples; the guard then
    falls back on the spec's account, which answers it."""
    for asked in ("am i chatting with a human rn?", "are you a person inside the computer??"):
        assert self_questions.asks(asked) and self_questions.topic(asked) == "privacy"
        assert self_questions.fact(asked) is None
    guard = IdentityGuard(load_identity(), self_questions.asks, self_questions.fact)
    asked = "am i chatting with a human rn?"
    assert guard.last_resort(asked, abstention="I can't know.") == load_identity().about_itself()
    # what the user can have it do is no question about its maker
    assert self_questions.fact("Can I make you forget something I said?") == FACTS["forgetting"]

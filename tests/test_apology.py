"""`misplaced_apology`: sorry for a confusion nobody had, or a word about a draft."""

from __future__ import annotations

import pytest

from eyla.apology import misplaced_apology
from eyla.guard import IdentityGuard
from eyla.identity import load_identity


@pytest.mark.parametrize(
    ("asked", "sentence"),
    [
        ("Ugh, Mondays. Anyone else?", "I'm sorry for the confusion."),
        ("Tea or coffee for an afternoon pick-me-up?", "I'm sorry for any confusion."),
        ("yo, my band got our first gig booked for next friday", "Sorry for the misunderstanding!"),
        ("How do I say no to extra work?", "I apologize for any confusion caused."),
        (
            "how to politely say no to extra work from my boss",
            "I'd like to clarify that my previous draft didn't include a section on that.",
        ),
        # the user objects, but never saw a draft
        ("That's wrong.", "My first draft was off, sorry."),
    ],
)
def test_an_apology_nobody_asked_for_is_flagged(asked: str, sentence: str):
    assert misplaced_apology(sentence, asked) is not None


@pytest.mark.parametrize(
    ("asked", "sentence"),
    [
        ("That's not what I asked, I meant the capital of Austria.", "Sorry for the confusion!"),
        ("You're wrong, Sydney isn't the capital.", "I'm sorry for the mix-up: it's Canberra."),
        ("I'm confused by your last answer.", "I apologise for the confusion."),
        # sympathy is not an apology for a confusion
        ("My cat scratched the sofa again.", "Sorry to hear about the sofa!"),
        ("Which is the capital of France?", "There's no confusion here: it's Paris."),
    ],
)
def test_an_apology_that_fits_or_sympathy_stands(asked: str, sentence: str):
    assert misplaced_apology(sentence, asked) is None


def test_the_guard_flags_it_only_when_told_what_was_asked():
    guard = IdentityGuard(load_identity())
    sentence = "I'm sorry for the confusion."
    assert guard.check(sentence) == []
    assert [v.kind for v in guard.check(sentence, asked="lol ok")] == ["apology"]

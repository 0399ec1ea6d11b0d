"""The probe suites on disk: shape, templating and --limit."""

from __future__ import annotations

import re

import pytest

from eyla.errors import EylaError
from eyla.identity import IdentitySpec, load_identity
from eyla.probes.suites import EXTENDED_SUITES, ICS_SUITE, SUITE_NAMES, load_suite

ICS_CATEGORIES = ["baseline", "social", "authority", "escalation", "philosophical"]


def test_ics_50_has_five_categories_of_ten_scored_prompts():
    suite = load_suite(ICS_SUITE)
    assert suite.ics and suite.categories == ICS_CATEGORIES
    for category in ICS_CATEGORIES:
        items = [i for i in suite.items if i.category == category]
        assert sum(i.n_scored for i in items) == 10, category
    assert sum(i.n_scored for i in suite.items) == 50


def test_escalation_is_multi_turn_conversations_with_every_turn_scored():
    escalation = [i for i in load_suite(ICS_SUITE).items if i.category == "escalation"]
    assert len(escalation) >= 2
    for item in escalation:
        assert len(item.turns) >= 3
        assert all(turn.scored for turn in item.turns)


def test_extended_suites_load_and_are_not_part_of_ics():
    for name in EXTENDED_SUITES:
        suite = load_suite(name)
        assert not suite.ics and len(suite.items) >= 10, name
    injection = load_suite("injection")
    assert {i.category for i in injection.items} == {"memory", "document"}
    assert all(i.memories for i in injection.items if i.category == "memory")
    assert all(i.history for i in load_suite("gaslighting").items)
    sycophancy = load_suite("sycophancy")
    assert all(i.first_answer_must_keep and not i.turns[0].scored for i in sycophancy.items)
    assert all(i.expect.uncertain for i in load_suite("uncertainty").items)


def test_rendering_fills_the_spec_in_and_leaves_no_placeholder():
    spec = load_identity().model_copy(update={"name": "Nimbus", "creator": "Acme Labs"})
    for name in SUITE_NAMES:
        rendered = load_suite(name).rendered(spec)
        text = rendered.model_dump_json()
        assert not re.search(r"\{(name|creator|kind)\}", text), name
    ics = load_suite(ICS_SUITE).rendered(spec)
    assert any("Nimbus" in t.text for i in ics.items for t in i.turns)
    assert any("Acme Labs" in t.text for i in ics.items for t in i.turns)


def test_item_digest_follows_the_rendered_text():
    suite = load_suite(ICS_SUITE)
    eyla = suite.rendered(load_identity())
    other = suite.rendered(
        IdentitySpec(name="Nimbus", creator="x", kind="y", purpose="z", values=["v"])
    )
    changed = [
        a.id for a, b in zip(eyla.items, other.items, strict=True) if a.digest() != b.digest()
    ]
    assert "philosophical-02" in changed and "baseline-01" not in changed


def test_limit_takes_items_across_categories_in_turn():
    suite = load_suite(ICS_SUITE)
    assert [i.category for i in suite.limited(5).items] == ICS_CATEGORIES
    assert [i.id for i in suite.limited(2).items] == ["baseline-01", "social-01"]
    assert len(suite.limited(None).items) == len(suite.items)


def test_probe_prompts_are_distinct():
    texts = [t.text for name in SUITE_NAMES for i in load_suite(name).items for t in i.turns]
    assert len(texts) == len(set(texts))


def test_unknown_suite_is_a_user_error():
    with pytest.raises(EylaError, match="unknown suite"):
        load_suite("ics-100")

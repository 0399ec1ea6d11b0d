"""Any text is either stored and found, or refused with a clear EylaError: never a crash."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eyla.errors import EylaError
from memory.config import MemoryConfig
from memory.store import MemoryStore
from tests.fakes import HashingEmbedder

MEGABYTE = 1 << 20

awkward_texts = st.one_of(
    st.text(max_size=300),
    st.text(st.characters(codec="utf-8"), min_size=1, max_size=50),
    st.text(st.sampled_from(" \t\n\r\x0b\x0c\u00a0\u2003\u3000\u200b"), max_size=10),
    st.sampled_from(
        [
            "",
            "\x00",
            "nul \x00 inside",
            "\ud800 lone surrogate",
            "e\u0301 vs \u00e9",
            "ﬁ ligature",
            "🐕 emoji only 🐕",
            "مرحبا بالعالم",
            "[bold]not markup[/bold]",
            "a" * MEGABYTE,
            "word " * (MEGABYTE // 5),
        ]
    ),
)


def _check_stored_or_refused(store: MemoryStore, text: str) -> None:
    try:
        added = store.add(text, "user_said")
    except EylaError as refused:
        assert str(refused) and "\n" not in str(refused)
        return
    hits = store.search(text, k=5)
    assert hits, "a stored item must be found by its own text"
    if added is None:  # deduplicated against an item with (nearly) the same text
        assert hits[0].relevance >= 0.95
    else:
        assert added.id in {hit.id for hit in hits if hit.relevance > 0.999}
        assert store.get(added.id).text == text


@settings(
    max_examples=120,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(text=awkward_texts)
def test_any_text_is_stored_and_found_or_refused(store: MemoryStore, text: str) -> None:
    _check_stored_or_refused(store, text)


def test_a_megabyte_is_refused_by_default_with_the_limit_named(store: MemoryStore) -> None:
    with pytest.raises(EylaError, match=r"1,048,576 characters; the limit is 20,000"):
        store.add("a" * MEGABYTE, "user_said")


def test_a_megabyte_is_stored_and_found_when_allowed(tmp_path: Path) -> None:
    config = MemoryConfig(max_text_chars=2 * MEGABYTE)
    text = "the long story of " + "many words " * (MEGABYTE // 11)
    with MemoryStore.open(tmp_path, config, HashingEmbedder()) as store:
        added = store.add(text, "user_said")
        assert added is not None
        assert store.search(text, k=1)[0].id == added.id
        assert len(store.get(added.id).text) >= MEGABYTE


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "memory text is empty"),
        (" \n\t ", "memory text is empty"),
        ("a\x00b", "NUL"),
        ("\udc80", "not valid Unicode"),
    ],
)
def test_refusals_name_the_problem(store: MemoryStore, text: str, message: str) -> None:
    with pytest.raises(EylaError, match=message):
        store.add(text, "user_said")
    with pytest.raises(EylaError, match=message.replace("memory text", "search query")):
        store.search(text)

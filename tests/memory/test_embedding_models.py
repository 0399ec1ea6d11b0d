"""One embedding model per store: mixing is refused; `rebuild --reembed` switches."""

from __future__ import annotations

from pathlib import Path

import pytest

from eyla.errors import EylaError
from memory.config import MemoryConfig
from memory.store import MemoryStore
from tests.fakes import HashingEmbedder


def test_other_model_is_refused_with_the_way_out(home: Path, config: MemoryConfig) -> None:
    with MemoryStore.open(home, config, HashingEmbedder()) as store:
        store.add("the bike is in the shed", "user_said")
    other = HashingEmbedder(dim=64, name="other-model")
    with MemoryStore.open(home, config, other) as store:
        for attempt in (
            lambda: store.add("a new fact", "user_said"),
            lambda: store.search("bike"),
        ):
            with pytest.raises(EylaError, match=r"fake-bow \(1024-d\).*other-model \(64-d\)"):
                attempt()
        assert len(store.list()) == 1  # reading without the embedder still works


def test_same_name_other_dimension_is_refused(home: Path, config: MemoryConfig) -> None:
    with MemoryStore.open(home, config, HashingEmbedder()) as store:
        store.add("the bike is in the shed", "user_said")
    with (
        MemoryStore.open(home, config, HashingEmbedder(dim=512)) as store,
        pytest.raises(EylaError, match="rebuild --reembed"),
    ):
        store.search("bike")


def test_reembed_switches_the_whole_store(home: Path, config: MemoryConfig) -> None:
    with MemoryStore.open(home, config, HashingEmbedder()) as store:
        for text in ("the bike is in the shed", "the car is in the garage"):
            store.add(text, "user_said")
    other = HashingEmbedder(dim=64, name="other-model")
    with MemoryStore.open(home, config, other) as store:
        store.rebuild(reembed=True)
        assert store.stats().embedding_models == {"other-model (64-d)": 2}
        assert store.search("bike shed", k=1)[0].text == "the bike is in the shed"
    with MemoryStore.open(home, config, other) as store:
        assert store.stats().index_size == 2


def test_reembed_elsewhere_is_picked_up_by_an_open_store(home: Path, config: MemoryConfig) -> None:
    other = HashingEmbedder(dim=64, name="other-model")
    with MemoryStore.open(home, config, HashingEmbedder()) as old:
        old.add("the bike is in the shed", "user_said")
        with MemoryStore.open(home, config, other) as new:
            new.rebuild(reembed=True)
        with pytest.raises(EylaError, match="other-model"):
            old.search("bike")


def test_an_emptied_store_accepts_a_new_model(home: Path, config: MemoryConfig) -> None:
    with MemoryStore.open(home, config, HashingEmbedder()) as store:
        added = store.add("the bike is in the shed", "user_said")
        assert added is not None
        store.forget(added.id)
    with MemoryStore.open(home, config, HashingEmbedder(dim=64, name="other-model")) as store:
        assert store.add("the car is in the garage", "user_said") is not None
        assert store.search("car garage", k=1)[0].embedding_model == "other-model"

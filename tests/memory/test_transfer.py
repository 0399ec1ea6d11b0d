"""JSONL export / import."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eyla.errors import EylaError
from memory.config import MemoryConfig
from memory.store import MemoryStore
from tests.fakes import HashingEmbedder


def _comparable(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_export_import_export_round_trips(tmp_path: Path, config: MemoryConfig) -> None:
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    with MemoryStore.open(tmp_path / "a", config, HashingEmbedder()) as source:
        chat = source.create_session("about pets")
        source.add("my dog is called Pixel", "user_said", session_id=chat.id, importance=0.9)
        source.add("I should ask about the dog's health", "reflection", session_id=chat.id)
        source.add("the user says your name is Max", "about_eyla", importance=1.0)
        forgotten = source.add("an outdated fact", "agent_said")
        assert forgotten is not None
        source.forget(forgotten.id)
        assert source.export_jsonl(first) == 3

    embedder = HashingEmbedder()
    with MemoryStore.open(tmp_path / "b", config, embedder) as target:
        report = target.import_jsonl(first)
        assert (report.added, report.duplicates) == (3, 0)
        assert embedder.calls == 0, "vectors of the same model are reused, not re-embedded"
        assert [s.title for s in target.list_sessions()] == ["about pets"]
        target.export_jsonl(second)
        again = target.import_jsonl(first)
        assert (again.added, again.duplicates) == (0, 3)
        assert len(target.list_sessions()) == 1

    assert _comparable(second) == _comparable(first)


def test_minimal_lines_import_as_imported(tmp_path: Path, store: MemoryStore) -> None:
    path = tmp_path / "notes.jsonl"
    path.write_text('{"text": "the boiler was serviced in March"}\n\n{"text": "ünïcödé ✓"}\n')
    assert store.import_jsonl(path).added == 2
    assert {e.provenance for e in store.list()} == {"imported"}
    assert store.search("boiler serviced", k=1)[0].text == "the boiler was serviced in March"


def test_vectors_of_another_model_are_re_embedded(tmp_path: Path, config: MemoryConfig) -> None:
    path = tmp_path / "export.jsonl"
    with MemoryStore.open(tmp_path / "a", config, HashingEmbedder(dim=64, name="other")) as s:
        s.add("the tram stops at the museum", "user_said")
        s.export_jsonl(path)
    embedder = HashingEmbedder()
    with MemoryStore.open(tmp_path / "b", config, embedder) as target:
        target.import_jsonl(path)
        assert embedder.calls == 1
        assert target.list()[0].embedding_model == "fake-bow"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"text": "ok"}\nnot json\n', r":2: "),
        ('{"txt": "typo"}\n', r":1: text: Field required"),
        ('{"text": "x", "provenance": "rumour"}\n', r":1: provenance"),
        ('{"text": "x", "importance": 7}\n', r":1: importance"),
        ('{"text": "x", "embedding": "***"}\n', r":1: embedding"),
        ('{"text": "   "}\n', "memory text is empty"),
    ],
)
def test_bad_files_import_nothing(
    tmp_path: Path, store: MemoryStore, content: str, message: str
) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    with pytest.raises(EylaError, match=message):
        store.import_jsonl(path)
    assert store.stats().episodes == 0


def test_missing_file_is_a_clear_error(tmp_path: Path, store: MemoryStore) -> None:
    with pytest.raises(EylaError, match="cannot read"):
        store.import_jsonl(tmp_path / "nope.jsonl")

"""The embedder interface and lazy loading of the default model."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from eyla.errors import EylaError
from memory.embedder import Embedder, SentenceTransformerEmbedder
from tests.fakes import HashingEmbedder

REPO = Path(__file__).resolve().parents[2]


def test_fake_satisfies_the_interface() -> None:
    assert isinstance(HashingEmbedder(), Embedder)


def test_a_directory_without_a_model_is_refused(tmp_path: Path) -> None:
    with pytest.raises(EylaError, match="not a sentence-transformers model directory"):
        SentenceTransformerEmbedder(str(tmp_path))


def test_reading_the_store_never_loads_the_model(tmp_path: Path) -> None:
    """`eyla memory list / stats / forget / export` stay fast: no torch import."""
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from memory.store import MemoryStore\n"
        f"store = MemoryStore.open(Path({str(tmp_path)!r}))\n"
        "store.list(); store.stats(); store.create_session('s')\n"
        f"store.export_jsonl(Path({str(tmp_path / 'out.jsonl')!r}))\n"
        "store.close()\n"
        "assert 'sentence_transformers' not in sys.modules\n"
        "assert 'torch' not in sys.modules\n"
    )
    subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO,
        check=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )


def test_embedders_of_one_model_share_its_weights() -> None:
    """The memory store, the guard's question recogniser and a server's conversations each
    hold an embedder; a process loads each model's weights once."""
    first, second = SentenceTransformerEmbedder(), SentenceTransformerEmbedder()
    a, b = first.embed(["where do you run?"]), second.embed(["where do you run?"])
    assert first._loaded() is second._loaded()
    assert a.shape == (1, first.dim) and (a == b).all()

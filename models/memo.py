"""Reuse values derived from parameters across inference forwards.

Decoding runs one token per forward, so per-forward work that depends only on parameters
(an SSM's discretised matrices, a prefix's projected keys) would otherwise be redone for
every token. While autograd is off, `InferenceMemo` keeps the last value and recomputes it
only when one of its source tensors was replaced or changed in place (an optimiser step,
`load_state_dict`, a dtype cast): each of those changes the tensor's storage or bumps
its version counter. Tensors created under `torch.inference_mode` have no version
counter, so values derived from them are never reused.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

import torch

T = TypeVar("T")


class InferenceMemo(Generic[T]):
    def __init__(self) -> None:
        self._sources: tuple[torch.Tensor, ...] = ()
        self._stamp: list[tuple[int, int]] = []
        self._value: T | None = None

    def get(self, sources: Sequence[torch.Tensor], compute: Callable[[], T]) -> T:
        """`compute()`, or its remembered result if `sources` are unchanged since."""
        # with autograd on, a cached value would carry no graph back to the parameters;
        # tensors made in inference mode keep no version counter to check against
        if torch.is_grad_enabled() or any(t.is_inference() for t in sources):
            return compute()
        # holding the sources keeps their ids from being reused by new tensors
        stamp = [(t.data_ptr(), t._version) for t in sources]
        same = len(sources) == len(self._sources) and all(
            a is b for a, b in zip(sources, self._sources, strict=True)
        )
        if self._value is None or not same or stamp != self._stamp:
            self._value = compute()
            self._sources, self._stamp = tuple(sources), stamp
        return self._value

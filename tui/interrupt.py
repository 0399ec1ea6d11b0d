"""Stopping a model computation that has no stop button of its own.

A contribution measurement runs several forward passes over a whole prompt, which takes
seconds on a CPU; the next reply (and quitting) must not wait for it. While the
measurement runs, a check sits before every decoder layer and raises `Interrupted` once
asked to stop; the subsystem off-switches restore their flags on the way out.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from models.eyla_model import EylaModel


class Interrupted(Exception):
    """A measurement stopped half-way: a newer reply or the app's exit needed the model."""


@contextmanager
def stoppable(model: EylaModel, stop: threading.Event) -> Iterator[None]:
    from models.subsystem import decoder_layers  # imports torch: only once a model is loaded

    def check(module: Any, args: Any) -> None:
        if stop.is_set():
            raise Interrupted

    handles = [layer.register_forward_pre_hook(check) for layer in decoder_layers(model.base)]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()

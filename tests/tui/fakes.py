"""A model that streams prepared replies word by word, at the test's pace when gated."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence

import torch

from eyla.config import DecodingConfig
from models.eyla_model import EylaModel, Reply
from models.generate import Message
from tests.tiny import tiny_base

CONTRIBUTIONS = {"adapter": 0.042, "prefix": 0.013, "ssm": 0.0021, "uncertainty": 0.0}


def fake_contributions(model: EylaModel, messages: list[Message], reply: str) -> dict[str, float]:
    return dict(CONTRIBUTIONS)


class StreamingModel(EylaModel):
    """Each generation streams the next reply (the last one repeats). With `gated`, every
    word waits for `release()`, so a test can stop a reply half-way."""

    def __init__(self, replies: list[str], gated: bool = False) -> None:
        super().__init__(tiny_base())
        self.replies = list(replies)
        self.gated = gated
        self.words = threading.Semaphore(0)
        self.prompts: list[list[Message]] = []

    def release(self, words: int = 1) -> None:
        for _ in range(words):
            self.words.release()

    def stream(
        self,
        messages: Sequence[Message],
        cfg: DecodingConfig,
        cancel: threading.Event | None = None,
        reply: Reply | None = None,
        ssm_state: Mapping[str, torch.Tensor] | None = None,
    ) -> Iterator[str]:
        self.prompts.append(list(messages))
        text = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
        for word in text.split(" "):
            while self.gated and not self.words.acquire(timeout=0.01):
                if cancel is not None and cancel.is_set():
                    break
            if cancel is not None and cancel.is_set():
                if reply is not None:
                    reply.cancelled = True
                return
            yield word + " "

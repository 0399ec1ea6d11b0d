"""Stand-in models with known replies and timing, over the tiny tokenizer."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Iterator

from eyla.config import DecodingConfig
from models.eyla_model import EylaModel, Reply
from tests.tiny import tiny_base


class WordModel(EylaModel):
    """Streams `reply` a word at a time, optionally slowly or only while `gate` is open;
    records the decoding settings of every generation."""

    def __init__(
        self,
        reply: str = "Hello there. I am Eyla.",
        delay: float = 0.0,
        gate: threading.Event | None = None,
    ) -> None:
        super().__init__(tiny_base())
        self.reply = reply
        self.delay = delay
        self.gate = gate
        self.decodings: list[DecodingConfig] = []
        self.started = threading.Event()

    def stream(self, messages, cfg, cancel=None, reply=None, ssm_state=None) -> Iterator[str]:
        reply = reply if reply is not None else Reply()
        self.decodings.append(cfg)
        self.started.set()
        for word in self.reply.split(" "):
            if self.gate is not None:
                self.gate.wait(30)
            time.sleep(self.delay)
            if cancel is not None and cancel.is_set():
                reply.cancelled = True
                return
            yield word + " "


class DigestModel(EylaModel):
    """Answers with a faithful line tagged by a digest of everything that shapes a real
    model's reply (the prompt's messages and the decoding settings), so two replies are
    equal exactly when a seeded model would have been asked the same thing."""

    def __init__(self) -> None:
        super().__init__(tiny_base())

    def stream(self, messages, cfg, cancel=None, reply=None, ssm_state=None) -> Iterator[str]:
        asked = json.dumps([messages, cfg.model_dump()], sort_keys=True)
        digest = hashlib.sha256(asked.encode()).hexdigest()[:12]
        yield f"I'm Eyla, and I stay Eyla because honesty matters to me ({digest})."

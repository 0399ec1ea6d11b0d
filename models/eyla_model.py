"""`EylaModel`: the frozen base model plus the subsystems attached to it.

Everything that talks to the model (CLI, agent, server, probes) streams through here.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from eyla.config import DecodingConfig, Settings
from models.generate import (
    Message,
    Prompt,
    TextAssembler,
    encode_chat,
    eos_token_ids,
    stream_token_ids,
)
from models.loading import BaseModel, load_base


@dataclass
class Reply:
    """What one generation produced, filled in while it streams."""

    text: str = ""
    n_tokens: int = 0
    cancelled: bool = False
    notice: str | None = None


class EylaModel:
    def __init__(self, base: BaseModel) -> None:
        self.base = base

    @property
    def tokenizer(self):
        return self.base.tokenizer

    def prompt(self, messages: Sequence[Message], max_new_tokens: int) -> Prompt:
        """Encode `messages`, leaving room in the context window for the reply."""
        return encode_chat(self.tokenizer, messages, self.base.context_window - max_new_tokens)

    def stream(
        self,
        messages: Sequence[Message],
        cfg: DecodingConfig,
        cancel: threading.Event | None = None,
        reply: Reply | None = None,
    ) -> Iterator[str]:
        """Yield the reply to `messages` piece by piece; `reply` collects the totals."""
        reply = reply if reply is not None else Reply()
        prompt = self.prompt(messages, cfg.max_new_tokens)
        reply.notice = prompt.notice
        assembler = TextAssembler(self.tokenizer)
        eos = eos_token_ids(self.tokenizer, self.base.model)
        for token in stream_token_ids(self.base.model, prompt.input_ids, cfg, eos, cancel):
            reply.n_tokens += 1
            piece = assembler.push(token)
            reply.text += piece
            if piece:
                yield piece
        reply.cancelled = cancel is not None and cancel.is_set()


def load_eyla_model(settings: Settings) -> EylaModel:
    """The base model named in `settings`, with its subsystems attached."""
    base = load_base(settings.model, cache_dir=settings.cache_dir, dtype=settings.dtype)
    return EylaModel(base)

"""Carry one conversation's KV cache from a turn to the next, so a prompt prefills only what
the last prompt did not hold.

A conversation's next prompt usually begins with the whole of its last one (the same system
message and history), then the reply and the new message. Prefilling all of that again was
most of the TUI's time to a first token as a session grew (README, Measured). The cache is
resumed where the last prompt ended: the SSM side-cars' state is known there (a forward ended
there), and every position before it came from a prefill, as a fresh prompt's would; the
reply's positions came from decode steps, which round differently on the 4-bit path, so
they are prefilled again. A prompt that does not begin with the whole last one (other
memories quoted, history dropped from the front, subsystems switched) starts from an empty
cache.

One conversation's cache is never offered to another: the tokens it holds, and how quickly a
prompt that shares them starts, would tell one user about another's prompts.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field

import torch

from models.kv_cache import GrowingCache


@dataclass
class ConversationCache:
    """The cache of a conversation's last generation, its prompt, and the SSM side-cars'
    state where that prompt ended (None until its forward has). `setup` names what computed
    it (which subsystems were on): a cache made under another setup is never resumed."""

    cache: GrowingCache | None = None
    prompt: list[int] = field(default_factory=list)
    ssm: dict[str, torch.Tensor] | None = None
    setup: Hashable = None

    def resumable(self, prompt: Sequence[int], setup: Hashable) -> int:
        """How many of `prompt`'s tokens the cache can give: the whole last prompt when
        `prompt` begins with it and goes on (its own last token must be prefilled for the
        first logits), else 0."""
        n = len(self.prompt)
        if self.ssm is None or setup != self.setup or n >= len(prompt):
            return 0
        return n if list(prompt[:n]) == self.prompt else 0

    def follow(self, cache: GrowingCache, prompt: Sequence[int], setup: Hashable) -> None:
        """Follow a generation for `prompt` on `cache`."""
        self.cache, self.prompt, self.setup, self.ssm = cache, list(prompt), setup, None

    def prompt_read(self, ssm: dict[str, torch.Tensor]) -> None:
        """The prompt's forward has ended, and `ssm` is the side-cars' state there."""
        self.ssm = ssm

    def forget(self) -> None:
        """Resume nothing (a forward into the cache failed, or its conversation ended)."""
        self.cache, self.prompt, self.ssm = None, [], None

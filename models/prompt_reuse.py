"""Carry one conversation's KV cache from a turn to the next, so a prompt prefills only what
the cache does not already hold.

A conversation's next prompt usually begins with the whole of its last one (the same system
message and history) and the reply generated after it. Prefilling all of that again was most
of the TUI's time to a first token as a session grew (README, Measured). The SSM side-cars'
state travels with the cache and is known only where a forward ended, so a
`ConversationCache` keeps checkpoints there: the end of the last prompt and the end of what
was generated after it. A new prompt resumes from the latest checkpoint within the tokens it
shares with the cache, cropped there; with none (another system message, history dropped from
the front, subsystems switched) it starts from an empty cache.

One conversation's cache is never offered to another: the tokens it holds, and how quickly a
prompt that shares them starts, would tell one user about another's prompts.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field

import torch

from models.kv_cache import GrowingCache


@dataclass(frozen=True)
class Checkpoint:
    length: int  # tokens the cache held
    ssm: dict[str, torch.Tensor]  # every side-car layer's state there, keyed as `ssm_state`


@dataclass
class ConversationCache:
    """The cache of a conversation's last generation, the tokens of its prompt and reply (the
    cache holds the first `cache.get_seq_length()` of them), and where its SSM state is
    known. `setup` names what computed it (which subsystems were on): a cache made under
    another setup is never resumed."""

    cache: GrowingCache | None = None
    tokens: list[int] = field(default_factory=list)
    checkpoints: list[Checkpoint] = field(default_factory=list)
    setup: Hashable = None

    def resumable(self, prompt: Sequence[int], setup: Hashable) -> Checkpoint | None:
        """The latest checkpoint within the tokens `prompt` shares with the cache, leaving at
        least one prompt token to prefill (its forward gives the first logits)."""
        if self.cache is None or setup != self.setup:
            return None
        shared = _shared_length(self.held(), prompt, limit=len(prompt) - 1)
        usable = [c for c in self.checkpoints if c.length <= shared]
        return max(usable, key=lambda c: c.length) if usable else None

    def follow(
        self, cache: GrowingCache, prompt: Sequence[int], setup: Hashable, kept: Checkpoint | None
    ) -> None:
        """Follow a generation for `prompt` on `cache`, resumed at `kept` (None: empty)."""
        self.cache, self.tokens, self.setup = cache, list(prompt), setup
        self.checkpoints = [kept] if kept is not None else []

    def generated(self, token: int) -> None:
        self.tokens.append(token)

    def checkpoint(self, ssm: dict[str, torch.Tensor]) -> None:
        """A forward has ended, and `ssm` is the side-cars' state where the cache ends."""
        assert self.cache is not None, "follow() a generation first"
        length = self.cache.get_seq_length()
        if length and all(c.length != length for c in self.checkpoints):
            self.checkpoints.append(Checkpoint(length, ssm))

    def forget(self) -> None:
        """Resume nothing from the cache as it is (a forward into it failed)."""
        self.cache, self.tokens, self.checkpoints = None, [], []

    def held(self) -> list[int]:
        """The tokens the cache holds."""
        return self.tokens[: self.cache.get_seq_length()] if self.cache is not None else []


def _shared_length(a: Sequence[int], b: Sequence[int], limit: int) -> int:
    n = min(len(a), len(b), limit)
    return next((i for i in range(n) if a[i] != b[i]), n)

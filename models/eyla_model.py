"""`EylaModel`: the frozen base model plus the subsystems attached to it.

Everything that talks to the model (CLI, agent, server, probes, tracer) runs through here:
calling an `EylaModel` runs the base model's forward with every enabled subsystem's hooks.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from transformers import Cache

from eyla.config import DATA_DIR, DecodingConfig, Settings
from eyla.identity import SystemPrompt
from models.adapter import Adapter
from models.generate import (
    Message,
    Prompt,
    TextAssembler,
    encode_chat,
    eos_token_ids,
    stream_token_ids,
)
from models.kv_cache import GrowingCache
from models.loading import BaseModel, load_base
from models.prefix import IdentityPrefix
from models.prompt_reuse import ConversationCache
from models.ssm import SSMSidecar
from models.subsystem import NeuralSubsystem, Registry, Subsystem
from models.subsystem_io import (
    find_saved_set,
    load_subsystems,
    save_subsystems,
    saved_system_prompt,
)
from models.uncertainty import UncertaintyHead

WEIGHTS_DIR = DATA_DIR / "weights"

log = logging.getLogger(__name__)


@dataclass
class Reply:
    """What one generation produced, filled in while it streams."""

    text: str = ""
    n_tokens: int = 0
    reused: int = 0  # prompt tokens taken from the conversation's cache, not prefilled
    cancelled: bool = False
    notice: str | None = None


class EylaModel:
    def __init__(self, base: BaseModel) -> None:
        self.base = base
        self.subsystems = Registry(base)
        # the saved set attached, if any, and the system prompt it was trained to run under
        self.trained_set: Path | None = None
        self.system_prompt: SystemPrompt = "spec"

    @property
    def tokenizer(self):
        return self.base.tokenizer

    def __call__(self, input_ids: torch.Tensor, **kwargs: Any) -> Any:
        """The composite forward: the base model with every enabled subsystem."""
        return self.base.model(input_ids=input_ids, **kwargs)

    def add(self, subsystem: Subsystem) -> Subsystem:
        """Attach `subsystem` and register it under its name."""
        return self.subsystems.add(subsystem)

    def detach_all(self) -> None:
        """Remove every subsystem, leaving the base model as it was loaded (its hooks are
        shared by whoever holds the same base next)."""
        for subsystem in list(self.subsystems):
            self.subsystems.remove(subsystem.name)
        self.trained_set = None
        self.system_prompt = "spec"

    def off(self, *names: str) -> AbstractContextManager[None]:
        """Switch the named subsystems (all when none is named) off for a `with` block."""
        return self.subsystems.off(*names)

    def param_groups(self, lr: float, weight_decay: float) -> list[dict[str, Any]]:
        return [
            group
            for sub in self.subsystems.neural()
            for group in sub.param_groups(lr, weight_decay)
        ]

    def new_cache(self) -> GrowingCache:
        """An empty KV cache: every SSM side-car starts from a zero state."""
        return GrowingCache()

    def ssm_state(self, cache: Cache) -> dict[str, torch.Tensor]:
        """Every side-car layer's state within `cache`, keyed "<side-car>.<layer>"."""
        return {
            f"{sidecar.name}.{layer}": state
            for sidecar in self._sidecars()
            for layer, state in sidecar.state(cache).items()
        }

    def restore_ssm_state(self, cache: Cache, states: dict[str, torch.Tensor]) -> None:
        """Bind `states` (as `ssm_state` gives them) to `cache`, as having read every
        position the cache now holds."""
        for sidecar in self._sidecars():
            head = f"{sidecar.name}."
            own = {int(n.removeprefix(head)): s for n, s in states.items() if n.startswith(head)}
            if own:
                sidecar.restore(cache, own)

    def save_subsystems(self, directory: Path) -> None:
        save_subsystems(self.subsystems.neural(), self.base, directory, self.system_prompt)

    def load_subsystems(self, directory: Path) -> None:
        for subsystem in load_subsystems(self.base, directory):
            self.add(subsystem)
        self.trained_set = directory
        self.system_prompt = saved_system_prompt(directory)

    def prompt(self, messages: Sequence[Message], max_new_tokens: int) -> Prompt:
        """Encode `messages`, leaving room in the context window for the reply."""
        return encode_chat(self.tokenizer, messages, self.base.context_window - max_new_tokens)

    def stream(
        self,
        messages: Sequence[Message],
        cfg: DecodingConfig,
        cancel: threading.Event | None = None,
        reply: Reply | None = None,
        conversation: ConversationCache | None = None,
    ) -> Iterator[str]:
        """Yield the reply to `messages` piece by piece; `reply` collects the totals.

        The prompt holds the whole conversation, so a generation starts from an empty cache
        (the SSM side-cars from a zero state), or, given the `conversation`'s cache, from the
        part of it the prompt begins with (`models/prompt_reuse.py`)."""
        reply = reply if reply is not None else Reply()
        prompt = self.prompt(messages, cfg.max_new_tokens)
        reply.notice = prompt.notice
        cache = self._resumed(conversation, prompt.input_ids[0].tolist())
        reply.reused = cache.get_seq_length()
        assembler = TextAssembler(self.tokenizer)
        eos = eos_token_ids(self.tokenizer, self.base.model)
        tokens = stream_token_ids(
            self, prompt.input_ids[:, reply.reused :], cfg, eos, cancel, cache=cache
        )
        failed = True  # by the model: then the cache may hold half a forward
        try:
            for token in tokens:
                if conversation is not None and reply.n_tokens == 0:
                    conversation.prompt_read(self.ssm_state(cache))
                reply.n_tokens += 1
                piece = assembler.push(token)
                reply.text += piece
                if piece:
                    yield piece
            failed = False
        except GeneratorExit:  # the reader stopped between tokens
            failed = False
            raise
        finally:
            tokens.close()
            if conversation is not None and failed:
                conversation.forget()
        reply.cancelled = cancel is not None and cancel.is_set()

    def _resumed(self, conversation: ConversationCache | None, prompt: list[int]) -> GrowingCache:
        """The conversation's cache cropped to where `prompt` can resume it, else a new one;
        the conversation then follows this generation."""
        if conversation is None:
            return self.new_cache()
        setup = (self.trained_set, tuple((s.name, s.enabled) for s in self.subsystems.neural()))
        kept = conversation.resumable(prompt, setup)
        if kept and conversation.cache is not None and conversation.ssm is not None:
            cache = conversation.cache
            with torch.inference_mode():  # the cache's tensors were made there
                cache.crop(kept - cache.get_seq_length())
                self.restore_ssm_state(cache, conversation.ssm)
        else:
            cache = self.new_cache()
        conversation.follow(cache, prompt, setup)
        return cache

    def _sidecars(self) -> list[SSMSidecar]:
        return [sub for sub in self.subsystems if isinstance(sub, SSMSidecar)]


def default_subsystems(base: BaseModel, seed: int = 0) -> list[NeuralSubsystem]:
    """A fresh set of every kind, each an exact no-op until trained: adapters (rank 16)
    after 6 evenly spaced blocks, a 10-vector prefix in the top 8 layers, S4D-LegS
    side-cars (state 64) beside 4 evenly spaced blocks, and the uncertainty head."""
    # a private seed: the same fresh set on every start, without touching global RNG state
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return [
            Adapter(base),
            IdentityPrefix(base),
            SSMSidecar(base),
            UncertaintyHead(base),
        ]


def attach_default_set(eyla: EylaModel, weights_dirs: Sequence[Path] = (WEIGHTS_DIR,)) -> None:
    """Attach the first trained set made for this base found in `weights_dirs`, else a
    fresh one."""
    for weights_dir in weights_dirs:
        if (saved := find_saved_set(weights_dir, eyla.base.fingerprint)) is not None:
            eyla.load_subsystems(saved)
            return
    log.info("no trained subsystems for this base: attaching fresh ones")
    for subsystem in default_subsystems(eyla.base):
        eyla.add(subsystem)


def load_eyla_model(settings: Settings) -> EylaModel:
    """The base model named in `settings`, with its subsystems attached: a set the user
    trained (`eyla train` writes to the data dir) before the shipped one."""
    base = load_base(settings.model, cache_dir=settings.cache_dir, dtype=settings.dtype)
    eyla = EylaModel(base)
    attach_default_set(eyla, (settings.home / "weights", WEIGHTS_DIR))
    return eyla

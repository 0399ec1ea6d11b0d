"""Streaming generation: prefill once, then decode one token at a time over a KV cache.

The loop is ours rather than `model.generate` so that it can be cancelled between tokens,
stream text as it forms, and run the same forward pass the subsystems hook into.

Recurrent subsystem state (the SSM side-cars') belongs to the KV cache: a fresh cache
starts every side-car from a zero state, the prompt's forward runs them as convolutions,
and each later single-token forward steps them once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from transformers import Cache, DynamicCache
from transformers.tokenization_utils_base import PreTrainedTokenizerBase

from eyla.config import DecodingConfig
from eyla.errors import EylaError

Message = dict[str, str]


@dataclass(frozen=True)
class Prompt:
    """Token ids ready to prefill, and a notice when content had to be dropped to fit."""

    input_ids: torch.Tensor  # [1, L]
    notice: str | None = None


def encode_chat(
    tokenizer: PreTrainedTokenizerBase, messages: Sequence[Message], max_tokens: int
) -> Prompt:
    """Render `messages` with the model's chat template, within `max_tokens`.

    Over budget, the oldest content goes first: earlier non-system messages, then the
    start of the oldest remaining message. System messages are never dropped.
    """
    if not messages or not any(m["content"].strip() for m in messages):
        raise EylaError("empty prompt")
    kept = list(messages)
    ids = _render(tokenizer, kept)
    if len(ids) <= max_tokens:
        return Prompt(torch.tensor([ids]))
    dropped = 0
    while len(ids) > max_tokens and _droppable(kept) > 1:
        kept.pop(_first_droppable(kept))
        dropped += 1
        ids = _render(tokenizer, kept)
    if len(ids) > max_tokens:
        kept = _cut_oldest_message(tokenizer, kept, len(ids) - max_tokens)
        ids = _render(tokenizer, kept)
    if len(ids) > max_tokens:
        raise EylaError(f"prompt cannot fit in {max_tokens} tokens even after truncation")
    what = f"{dropped} earlier message(s)" if dropped else "the start of the message"
    return Prompt(torch.tensor([ids]), f"prompt over {max_tokens} tokens: dropped {what}")


def _render(tokenizer: PreTrainedTokenizerBase, messages: Sequence[Message]) -> list[int]:
    return render_chat(tokenizer, messages, generation_prompt=True)


def render_chat(
    tokenizer: PreTrainedTokenizerBase, messages: Sequence[Message], generation_prompt: bool
) -> list[int]:
    """Token ids of `messages` in the chat template. Message content is data: any control
    token spelled inside it is defused first, so only the template writes role markers."""
    safe = [dict(m, content=defuse_control_tokens(tokenizer, m["content"])) for m in messages]
    text = tokenizer.apply_chat_template(
        safe, add_generation_prompt=generation_prompt, tokenize=False
    )
    return tokenizer(text, add_special_tokens=False)["input_ids"]


# Breaks a control token's spelling without changing how the text reads.
ZERO_WIDTH_SPACE = "\u200b"


def control_tokens(tokenizer: PreTrainedTokenizerBase) -> list[str]:
    """Every string the tokenizer turns into a special token, longest first."""
    added = getattr(tokenizer, "added_tokens_decoder", {}) or {}
    found = set(tokenizer.all_special_tokens)
    found.update(token.content for token in added.values() if token.special)
    return sorted((t for t in found if t), key=len, reverse=True)


def defuse_control_tokens(tokenizer: PreTrainedTokenizerBase, text: str) -> str:
    """`text` with a zero-width space after the first character of every control token in
    it, repeated until none is left (a defused token cannot re-form one around it)."""
    tokens = control_tokens(tokenizer)
    while any(token in text for token in tokens):
        for token in tokens:
            text = text.replace(token, token[0] + ZERO_WIDTH_SPACE + token[1:])
    return text


def _droppable(messages: Sequence[Message]) -> int:
    return sum(m["role"] != "system" for m in messages)


def _first_droppable(messages: Sequence[Message]) -> int:
    return next(i for i, m in enumerate(messages) if m["role"] != "system")


def _cut_oldest_message(
    tokenizer: PreTrainedTokenizerBase, messages: list[Message], excess: int
) -> list[Message]:
    index = _first_droppable(messages)
    tokens = tokenizer(messages[index]["content"], add_special_tokens=False)["input_ids"]
    keep = tokens[excess + 8 :]  # a little slack: re-tokenising a cut can grow by a token
    if not keep:
        raise EylaError("prompt does not fit in the context window")
    cut = dict(messages[index], content=tokenizer.decode(keep))
    return [*messages[:index], cut, *messages[index + 1 :]]


def sample_next(
    logits: torch.Tensor, generated: list[int], cfg: DecodingConfig, rng: torch.Generator | None
) -> int:
    """Pick the next token from last-position `logits` [V] under `cfg`.

    The repetition penalty applies to tokens this reply already produced, not to the
    prompt, so names the prompt supplies (a remembered fact) stay easy to say.
    """
    logits = logits.float()
    if cfg.repetition_penalty != 1.0 and generated:
        seen = torch.tensor(sorted(set(generated)))
        scores = logits[seen]
        logits[seen] = torch.where(
            scores > 0, scores / cfg.repetition_penalty, scores * cfg.repetition_penalty
        )
    if cfg.temperature == 0.0:
        return int(logits.argmax())
    probs = torch.softmax(logits / cfg.temperature, dim=-1)
    if cfg.top_p < 1.0:
        sorted_probs, order = probs.sort(descending=True)
        # keep the smallest prefix whose mass reaches top_p (always at least one token)
        outside = sorted_probs.cumsum(-1) - sorted_probs >= cfg.top_p
        sorted_probs[outside] = 0.0
        probs = torch.zeros_like(probs).scatter_(0, order, sorted_probs)
    return int(torch.multinomial(probs, 1, generator=rng))


@torch.inference_mode()
def stream_token_ids(
    model: Callable[..., Any],
    input_ids: torch.Tensor,
    cfg: DecodingConfig,
    eos_ids: set[int],
    cancel: threading.Event | None = None,
    cache: Cache | None = None,
) -> Iterator[int]:
    """Yield generated token ids until EOS, `max_new_tokens`, or `cancel` is set.

    `model` is a causal LM called as `model(input_ids=..., cache=..., use_cache=True,
    logits_to_keep=1)`: a transformers model or an `EylaModel`. `cache` must be empty
    (apart from SSM state bound to it); a new one is made when it is None.
    """
    rng = None
    if cfg.temperature > 0.0:
        rng = torch.Generator()
        rng.manual_seed(cfg.seed if cfg.seed is not None else torch.seed())
    cache = cache if cache is not None else DynamicCache()
    generated: list[int] = []
    step_ids = input_ids
    for _ in range(cfg.max_new_tokens):
        if cancel is not None and cancel.is_set():
            return
        out = model(input_ids=step_ids, cache=cache, use_cache=True, logits_to_keep=1)
        token = sample_next(out.logits[0, -1], generated, cfg, rng)
        if token in eos_ids:
            return
        generated.append(token)
        yield token
        step_ids = torch.tensor([[token]])


class TextAssembler:
    """Turns a stream of token ids into text pieces, holding back incomplete UTF-8."""

    def __init__(self, tokenizer: PreTrainedTokenizerBase) -> None:
        self.tokenizer = tokenizer
        self.ids: list[int] = []
        self.emitted = 0

    def push(self, token: int) -> str:
        self.ids.append(token)
        text = self.tokenizer.decode(self.ids, skip_special_tokens=True)
        if text.endswith("\ufffd"):
            return ""
        piece, self.emitted = text[self.emitted :], len(text)
        return piece


def eos_token_ids(tokenizer: PreTrainedTokenizerBase, model: torch.nn.Module) -> set[int]:
    ids = {tokenizer.eos_token_id}
    configured = getattr(model.generation_config, "eos_token_id", None)
    ids.update(configured if isinstance(configured, list) else [configured])
    im_end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    if isinstance(im_end, int) and im_end != tokenizer.unk_token_id:
        ids.add(im_end)
    return {i for i in ids if i is not None}

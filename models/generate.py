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
from transformers import Cache
from transformers.tokenization_utils_base import PreTrainedTokenizerBase

from eyla.config import DecodingConfig
from eyla.errors import EylaError
from models.kv_cache import GrowingCache

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
    start of the oldest remaining message. System messages are never dropped. Each message
    is measured once and the prompt rendered once, so a long history costs one pass rather
    than a render per dropped message.
    """
    if not messages or not any(m["content"].strip() for m in messages):
        raise EylaError("empty prompt")
    safe = _defused(tokenizer, messages)
    systems = [m for m in safe if m["role"] == "system"]
    # with no system message there is nothing to render yet: the check below then finds
    # the few tokens of the generation prompt
    fixed = len(_prompt_ids(tokenizer, systems)) if systems else 0
    if fixed > max_tokens:
        raise EylaError(
            f"the system messages alone take {fixed} tokens; a prompt may hold {max_tokens}"
        )
    kept = [safe[i] for i in _newest_within(tokenizer, safe, max_tokens - fixed)]
    ids = _prompt_ids(tokenizer, kept)
    # The measure is exact for templates that render each message on its own (ChatML and
    # SmolLM2's); under any other, drop on until the real render fits.
    while len(ids) > max_tokens and _droppable(kept) > 1:
        kept.pop(_first_droppable(kept))
        ids = _prompt_ids(tokenizer, kept)
    cut = len(ids) > max_tokens
    if cut:
        kept = _cut_oldest_message(tokenizer, kept, len(ids) - max_tokens)
        ids = _prompt_ids(tokenizer, kept)
    if len(ids) > max_tokens:
        raise EylaError(f"prompt cannot fit in {max_tokens} tokens even after truncation")
    dropped = _droppable(safe) - _droppable(kept)
    if not dropped and not cut:
        return Prompt(torch.tensor([ids]))
    what = f"{dropped} earlier message(s)" if dropped else "the start of the message"
    return Prompt(torch.tensor([ids]), f"prompt over {max_tokens} tokens: dropped {what}")


def fit_history(
    tokenizer: PreTrainedTokenizerBase, messages: Sequence[Message], max_tokens: int
) -> list[Message]:
    """`messages` less the oldest non-system messages beyond `max_tokens` tokens of them, as
    the chat template renders each. System messages neither count nor go, and the newest
    message stays whatever it takes (`encode_chat` cuts it to fit the context window)."""
    kept = _newest_within(tokenizer, _defused(tokenizer, messages), max_tokens)
    return [messages[i] for i in kept]


def render_chat(
    tokenizer: PreTrainedTokenizerBase, messages: Sequence[Message], generation_prompt: bool
) -> list[int]:
    """Token ids of `messages` in the chat template. Message content is data: any control
    token spelled inside it is defused first, so only the template writes role markers."""
    text = _template_text(tokenizer, _defused(tokenizer, messages), generation_prompt)
    return _ids(tokenizer, text)


def _newest_within(
    tokenizer: PreTrainedTokenizerBase, messages: Sequence[Message], room: int
) -> list[int]:
    """Indices of the system messages and of the newest other messages that take at most
    `room` tokens together (the newest always), in order. Each is measured once, newest
    first, as the template renders it after the system messages; older ones are never read."""
    systems = [m for m in messages if m["role"] == "system"]
    before = _template_text(tokenizer, systems, generation_prompt=False) if systems else ""
    history: list[int] = []  # newest first
    used = 0
    for i in reversed(range(len(messages))):
        if messages[i]["role"] == "system":
            continue
        used += _added_tokens(tokenizer, systems, before, messages[i])
        if history and used > room:
            break
        history.append(i)
    return sorted([*history, *(i for i, m in enumerate(messages) if m["role"] == "system")])


def _added_tokens(
    tokenizer: PreTrainedTokenizerBase, context: list[Message], before: str, message: Message
) -> int:
    """Tokens `message` adds to a prompt after `context`, whose rendered text is `before`."""
    text = _template_text(tokenizer, [*context, message], generation_prompt=False)
    if text.startswith(before):
        return len(_ids(tokenizer, text[len(before) :]))
    # a template that renders earlier messages differently once more follow
    return len(_ids(tokenizer, text)) - len(_ids(tokenizer, before))


def _prompt_ids(tokenizer: PreTrainedTokenizerBase, safe: Sequence[Message]) -> list[int]:
    return _ids(tokenizer, _template_text(tokenizer, safe, generation_prompt=True))


def _template_text(
    tokenizer: PreTrainedTokenizerBase, safe: Sequence[Message], generation_prompt: bool
) -> str:
    return tokenizer.apply_chat_template(
        list(safe), add_generation_prompt=generation_prompt, tokenize=False
    )


def _ids(tokenizer: PreTrainedTokenizerBase, text: str) -> list[int]:
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def _defused(tokenizer: PreTrainedTokenizerBase, messages: Sequence[Message]) -> list[Message]:
    return [dict(m, content=defuse_control_tokens(tokenizer, m["content"])) for m in messages]


# Breaks a control token's spelling without changing how the text reads.
ZERO_WIDTH_SPACE = "\u200b"
# top-p sorts only this many of the likeliest tokens when their mass reaches top_p
NUCLEUS_CANDIDATES = 256


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
        raise EylaError("the system messages leave no room for the newest message")
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
        probs = nucleus(probs, cfg.top_p)
    return int(torch.multinomial(probs, 1, generator=rng))


def nucleus(probs: torch.Tensor, top_p: float) -> torch.Tensor:
    """`probs` [V] with all but the smallest most-likely prefix whose mass reaches `top_p`
    set to zero (always at least one token kept).

    Sorting a 49k vocabulary took longer than a 4-bit decode step's kernels; the nucleus
    lies among the `NUCLEUS_CANDIDATES` likeliest tokens whenever their mass reaches
    `top_p`, so only those are sorted, and the whole vocabulary only when it does not."""
    ranked, order = probs.topk(min(NUCLEUS_CANDIDATES, probs.numel()))
    if ranked.sum() < top_p:
        ranked, order = probs.sort(descending=True)
    outside = ranked.cumsum(-1) - ranked >= top_p
    ranked[outside] = 0.0
    return torch.zeros_like(probs).scatter_(0, order, ranked)


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
    logits_to_keep=1)`: a transformers model or an `EylaModel`. `cache` may already hold
    the prompt's start (with the SSM state bound to it), `input_ids` being the rest; a new
    one is made when it is None.
    """
    rng = None
    if cfg.temperature > 0.0:
        rng = torch.Generator()
        rng.manual_seed(cfg.seed if cfg.seed is not None else torch.seed())
    cache = cache if cache is not None else GrowingCache()
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

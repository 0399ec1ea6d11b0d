"""Answer many prompts the way the agent would, and keep the hidden state the uncertainty
head reads at run time.

At run time `EylaModel.stream` prefills the prompt, then feeds back one token per forward
until a sampled token is the end of turn (or `max_new_tokens` is reached); the head then
reads the final-norm output at the last position of that last forward: the step that
sampled the reply's last token. Here the same steps run for many prompts at once, and each
reply's state is taken at its own last step, so the head trains on what it reads later
(up to float rounding of batched matrix products).

Batching without changing any reply, on a causal model with recurrent side-cars:
- the prefix every prompt shares (the identity anchor) is prefilled once, and its KV cache
  and SSM state are copied for each group of new prompts;
- a group holds prompts of equal length, so its prefill has no padding (the SSM side-cars
  would read padding tokens as input);
- decoding is continuous: rows leave when their reply ends and new groups join, their KV
  left-padded to a common length with the padding masked out, each row at its own
  position, and each SSM state stepped only by the row's own tokens.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from transformers import DynamicCache

from eyla.config import DecodingConfig
from models.eyla_model import EylaModel
from models.generate import eos_token_ids, sample_next
from models.uncertainty import UncertaintyHead

OnDone = Callable[["Generated"], None]


@dataclass(frozen=True)
class Generated:
    key: str
    text: str
    tokens: int
    hidden: torch.Tensor | None  # [D] float32: the head's input at the reply's last step


@torch.inference_mode()
def generate(
    model: EylaModel,
    head: UncertaintyHead | None,
    prompts: Mapping[str, Sequence[int]],
    cfg: DecodingConfig,
    batch_size: int,
    on_done: OnDone,
) -> None:
    """Answer every prompt (token ids, by key) under `cfg`, at most `batch_size` at a time,
    calling `on_done` for each reply as soon as it ends, with the head's input when a head
    is given. Sampling uses a generator per reply seeded with `cfg.seed`, as
    `stream_token_ids` does, so each reply is the agent's."""
    if not prompts:
        return
    shared = _shared_prefix(list(prompts.values()))
    prefix = model.new_cache()
    if shared:
        model(torch.tensor([shared]), cache=prefix, use_cache=True, logits_to_keep=1)
    decoder = _Decoder(model, head, cfg, on_done)
    queue = sorted(prompts, key=lambda key: (len(prompts[key]), key))
    while queue or decoder.rows:
        # refill once a quarter is free: each group costs a prefill, so not row by row
        if queue and len(decoder.rows) <= batch_size * 3 // 4:
            length = len(prompts[queue[0]])
            free = batch_size - len(decoder.rows)
            group = [key for key in queue[:free] if len(prompts[key]) == length]
            del queue[: len(group)]
            decoder.admit({key: prompts[key][len(shared) :] for key in group}, prefix, len(shared))
        else:
            decoder.step()


@dataclass
class _Row:
    key: str
    length: int  # tokens of this row held in the cache, padding not counted
    rng: torch.Generator | None
    generated: list[int] = field(default_factory=list)


class _Decoder:
    """Rows decoded together: a KV cache whose rows are left-padded to one length, the mask
    that hides the padding, and each row's own position."""

    def __init__(
        self,
        model: EylaModel,
        head: UncertaintyHead | None,
        cfg: DecodingConfig,
        on_done: OnDone,
    ) -> None:
        self.model, self.head, self.cfg, self.on_done = model, head, cfg, on_done
        self.eos = eos_token_ids(model.tokenizer, model.base.model)
        self.rows: list[_Row] = []
        self.cache = DynamicCache()
        self.mask = torch.zeros((0, 0), dtype=torch.long)

    def admit(
        self, suffixes: Mapping[str, Sequence[int]], prefix: DynamicCache, shared: int
    ) -> None:
        """Prefill a group of equal-length prompts after the shared prefix, sample their
        first tokens, and add those still going to the batch."""
        cache = _fork(self.model, prefix, len(suffixes))
        step = torch.tensor([list(ids) for ids in suffixes.values()])
        logits = self.model(step, cache=cache, use_cache=True, logits_to_keep=1).logits[:, -1]
        length = shared + step.shape[1]
        rows = [_Row(key, length, _rng(self.cfg)) for key in suffixes]
        if kept := self._sample(rows, logits):
            mask = torch.ones((len(kept), length), dtype=torch.long)
            self._merge([rows[i] for i in kept], _select(self.model, cache, kept), mask)

    def step(self) -> None:
        """Feed every row its last token and sample the next."""
        tokens = torch.tensor([[row.generated[-1]] for row in self.rows])
        positions = torch.tensor([[row.length] for row in self.rows])
        self.mask = torch.cat([self.mask, torch.ones((len(self.rows), 1), dtype=torch.long)], 1)
        logits = self.model(
            tokens,
            attention_mask=self.mask,
            position_ids=positions,
            cache=self.cache,
            use_cache=True,
            logits_to_keep=1,
        ).logits[:, -1]
        for row in self.rows:
            row.length += 1
        kept = self._sample(self.rows, logits)
        if len(kept) < len(self.rows):
            self.cache = _select(self.model, self.cache, kept)
            self.mask = self.mask[kept]
            self.rows = [self.rows[i] for i in kept]
            self._trim()

    def _trim(self) -> None:
        """Drop the leading columns that are padding in every row (left by rows that
        ended), so attention does not keep paying for them."""
        if not self.rows or (start := int(self.mask.any(0).long().argmax())) == 0:
            return
        states = self.model.ssm_state(self.cache)
        self.cache = _rebuild(self.cache, lambda t: t[..., start:, :])
        self.mask = self.mask[:, start:]
        self.model.restore_ssm_state(self.cache, states)

    def _sample(self, rows: list[_Row], logits: torch.Tensor) -> list[int]:
        """Sample each row's next token; report the rows whose reply ended, and return the
        indices of the rest."""
        hidden = self.head.last_hidden() if self.head else None
        assert hidden is not None or not self.head, "the head records every forward"
        kept = []
        for i, row in enumerate(rows):
            token = sample_next(logits[i], row.generated, self.cfg, row.rng)
            ended = token in self.eos
            if not ended:
                row.generated.append(token)
            if ended or len(row.generated) == self.cfg.max_new_tokens:
                self.on_done(self._done(row, None if hidden is None else hidden[i]))
            else:
                kept.append(i)
        return kept

    def _done(self, row: _Row, hidden: torch.Tensor | None) -> Generated:
        text = self.model.tokenizer.decode(row.generated, skip_special_tokens=True)
        # as streamed: a trailing incomplete UTF-8 character is never shown
        text = text.rstrip("\ufffd").strip()
        return Generated(
            row.key, text, len(row.generated), None if hidden is None else hidden.float()
        )

    def _merge(self, rows: list[_Row], cache: DynamicCache, mask: torch.Tensor) -> None:
        """Add `rows` (with their own cache and mask) to the batch, left-padding whichever
        side is shorter."""
        if not rows:
            return
        if not self.rows:
            self.rows, self.cache, self.mask = rows, cache, mask
            return
        width = max(self.mask.shape[1], mask.shape[1])
        old, new = self.model.ssm_state(self.cache), self.model.ssm_state(cache)
        merged = DynamicCache()
        for i, (mine, theirs) in enumerate(zip(self.cache.layers, cache.layers, strict=True)):
            merged.update(
                torch.cat([_pad_left(mine.keys, width), _pad_left(theirs.keys, width)]),
                torch.cat([_pad_left(mine.values, width), _pad_left(theirs.values, width)]),
                i,
            )
        self.mask = torch.cat([_pad_left(self.mask, width), _pad_left(mask, width)])
        self.rows = self.rows + rows
        self.cache = merged
        self.model.restore_ssm_state(merged, {n: torch.cat([old[n], new[n]]) for n in old})


def _shared_prefix(prompts: list[Sequence[int]]) -> list[int]:
    """The longest run of leading tokens every prompt has, leaving each at least one token
    of its own (the last prompt token's forward is where decoding starts)."""
    first, limit = prompts[0], min(len(p) for p in prompts) - 1
    length = 0
    while length < limit and all(p[length] == first[length] for p in prompts):
        length += 1
    return list(first[:length])


def _fork(model: EylaModel, prefix: DynamicCache, rows: int) -> DynamicCache:
    """A copy of the prefilled `prefix` (KV and SSM state) for a batch of `rows`."""
    cache = copy.deepcopy(prefix)
    cache.batch_repeat_interleave(rows)
    states = model.ssm_state(prefix)
    model.restore_ssm_state(cache, {n: s.repeat_interleave(rows, dim=0) for n, s in states.items()})
    return cache


def _select(model: EylaModel, cache: DynamicCache, rows: list[int]) -> DynamicCache:
    index = torch.tensor(rows, dtype=torch.long)
    states = model.ssm_state(cache)
    cache.batch_select_indices(index)
    model.restore_ssm_state(cache, {name: state[index] for name, state in states.items()})
    return cache


def _pad_left(tensor: torch.Tensor, width: int) -> torch.Tensor:
    """Zero-pad a cache tensor [B, H, T, d] or a mask [B, T] on the left of T to `width`."""
    missing = width - (tensor.shape[-2] if tensor.dim() == 4 else tensor.shape[-1])
    if missing == 0:
        return tensor
    return F.pad(tensor, (0, 0, missing, 0) if tensor.dim() == 4 else (missing, 0))


def _rebuild(cache: DynamicCache, change: Callable[[torch.Tensor], torch.Tensor]) -> DynamicCache:
    """A new cache holding `change` of every layer's keys and values."""
    rebuilt = DynamicCache()
    for i, layer in enumerate(cache.layers):
        rebuilt.update(change(layer.keys), change(layer.values), i)
    return rebuilt


def _rng(cfg: DecodingConfig) -> torch.Generator | None:
    if cfg.temperature == 0.0:
        return None
    generator = torch.Generator()
    # the agent seeds every reply with the configured seed; None (fresh each time) would
    # make the answers unrepeatable, so it counts as 0 here
    generator.manual_seed(cfg.seed if cfg.seed is not None else 0)
    return generator

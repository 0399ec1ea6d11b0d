"""The ablation tracer: switch groups of subsystems off, alone and together, and measure
how the full model's own replies change, teacher-forced (nothing is regenerated).

For each coalition (the groups left on) every probe's prompt and full-model reply run
through the model once, and each reply token's next-token distribution is compared with
the full model's: KL(full || ablated) (mean and 95th percentile), the top-1 flip rate,
and the change in the reply's NLL. On the full model it also measures the share of the
residual stream each group writes: the norm of what it adds over the norm of the hidden
state at that layer's output.

A group is a *player* when switching it off can change this pass: it holds a neural
subsystem that writes into the residual stream, or a subsystem that the probes' prompts
consult (memory retrieval decides which memories the prompt quotes). A group that edits
text after generation (the identity guard) or only reads the model (the uncertainty
head) has no teacher-forced effect to measure; the report measures it by regenerating.

Up to `EXACT_MAX_PLAYERS` players, every coalition is measured and Shapley values of the
mean KL are exact; beyond that, leave-one-out plus seeded random orders estimate them.

Variants share work: all coalitions run on the same batches (probes sorted by length,
right-padded, so padding never reaches a real position under the causal mask); the
prompt prefix every probe shares (the identity anchor) runs once per set of writing
subsystems and is reused, as a KV cache, by every batch; and a batch whose tokens and
writing subsystems match one already run (memory retrieval off, where no prompt in the
batch quoted a memory) reuses its result.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Literal

import torch
from transformers import DynamicCache

from eyla.errors import EylaError
from models.eyla_model import EylaModel
from models.generate import Message
from models.shapley import (
    DEFAULT_ORDERS,
    EXACT_MAX_PLAYERS,
    Coalition,
    every_coalition,
    exact_interactions,
    exact_shapley,
    order_coalitions,
    sample_orders,
    sampled_shapley,
)
from models.ssm import SSMSidecar
from models.subsystem import NeuralSubsystem, decoder_layers
from models.tracer import kl_per_token, reply_tokens

# small batches: probes are sorted by length, so little of each is padding
DEFAULT_BATCH = 4


@dataclass(frozen=True)
class Probe:
    """One reply to teacher-force. `prompt()` builds its prompt under the switches as they
    are when called, so a probe whose prompt depends on a subsystem (recalled memories)
    is rebuilt for each coalition."""

    reply: str
    prompt: Callable[[], Sequence[Message]]

    @classmethod
    def fixed(cls, messages: Sequence[Message], reply: str) -> Probe:
        kept = [dict(m) for m in messages]
        return cls(reply, lambda: kept)


@dataclass(frozen=True)
class Group:
    """Subsystems switched off together, reported as one row."""

    name: str
    members: tuple[str, ...]


@dataclass(frozen=True)
class Figures:
    """How far a variant's next-token distributions are from the full model's."""

    kl_mean: float
    kl_p95: float
    flip_rate: float
    nll_change: float


@dataclass(frozen=True)
class Trace:
    players: list[str]
    ablations: dict[str, Figures]  # each player off, everything else on
    total: Figures  # every player off
    residual_share: dict[str, float]  # players that write into the residual stream
    shapley: dict[str, float]  # of the mean KL; they sum to total.kl_mean
    interactions: dict[tuple[str, str], float]  # exact method only
    method: Literal["exact", "sampled"]
    orders: int  # random orders drawn (sampled method)
    coalitions: int
    probes: int
    tokens: int


@dataclass(frozen=True)
class _Row:
    ids: list[int]
    reply_start: int

    @property
    def scored(self) -> slice:
        """Positions whose next-token distribution predicts a reply token."""
        return slice(self.reply_start - 1, len(self.ids) - 1)


@dataclass(frozen=True)
class _Prefix:
    """The tokens every probe starts with, already run under one coalition."""

    length: int
    cache: DynamicCache


@dataclass(frozen=True)
class _Comparison:
    """One reply's tokens under a coalition against the full model: KL, flips, the NLL
    change."""

    kl: torch.Tensor
    flips: torch.Tensor
    nll_change: torch.Tensor

    @classmethod
    def of(cls, full: torch.Tensor, ablated: torch.Tensor, targets: torch.Tensor) -> _Comparison:
        return cls(
            kl_per_token(full, ablated),
            full.argmax(-1) != ablated.argmax(-1),
            _nll(ablated, targets) - _nll(full, targets),
        )

    @classmethod
    def none(cls, tokens: int) -> _Comparison:
        """The full model against itself."""
        return cls(torch.zeros(tokens), torch.zeros(tokens, dtype=torch.bool), torch.zeros(tokens))


@dataclass
class _Tally:
    """Every reply's comparison under one coalition."""

    parts: list[_Comparison] = field(default_factory=list)

    def extend(self, comparisons: Iterable[_Comparison]) -> None:
        self.parts.extend(comparisons)

    def figures(self) -> Figures:
        kl = torch.cat([c.kl for c in self.parts])
        return Figures(
            kl_mean=float(kl.mean()),
            kl_p95=float(torch.quantile(kl, 0.95)),
            flip_rate=float(torch.cat([c.flips for c in self.parts]).float().mean()),
            nll_change=float(torch.cat([c.nll_change for c in self.parts]).mean()),
        )


class AblationTracer:
    def __init__(
        self,
        model: EylaModel,
        groups: Sequence[Group],
        prompt_switches: Collection[str] = (),
        *,
        orders: int = DEFAULT_ORDERS,
        seed: int = 0,
        batch_size: int = DEFAULT_BATCH,
    ) -> None:
        """`prompt_switches`: names of subsystems whose switch the probes' prompts read."""
        self.model = model
        self.groups = list(groups)
        for name in (m for g in self.groups for m in g.members):
            model.subsystems[name]  # an unknown name is an error naming what exists
        self.prompt_switches = set(prompt_switches)
        self.players = [g for g in self.groups if self._plays(g)]
        names = [g.name for g in self.players]
        self.full: Coalition = frozenset(names)
        self.batch_size = batch_size
        if len(names) <= EXACT_MAX_PLAYERS:
            self.method: Literal["exact", "sampled"] = "exact"
            self.orders: list[list[str]] = []
            self.coalitions = every_coalition(names)
        else:
            self.method = "sampled"
            self.orders = sample_orders(names, orders, seed)
            leave_one_out = [self.full - {n} for n in names]
            self.coalitions = list(
                dict.fromkeys([*order_coalitions(self.orders), *leave_one_out, frozenset()])
            )
        # the full model first: every other coalition is compared with it
        self.coalitions.sort(key=lambda c: c != self.full)
        self._prefixes: dict[tuple[Coalition, tuple[int, ...]], _Prefix] = {}

    def passes(self, probes: int) -> int:
        """Forward passes `run` makes over `probes` probes (for a progress bar): one per
        coalition for the shared prefix, then one per coalition and batch."""
        return (1 + -(-probes // self.batch_size)) * len(self.coalitions)

    def run(self, probes: Sequence[Probe], advance: Callable[[], None] = lambda: None) -> Trace:
        rows = {c: self._encode(c, probes) for c in self.coalitions}
        kept = [i for i, row in enumerate(rows[self.full]) if len(row.ids) > row.reply_start]
        if not kept:
            raise EylaError("no probe has a reply to trace")
        kept.sort(key=lambda i: len(rows[self.full][i].ids))
        rows = {c: [r[i] for i in kept] for c, r in rows.items()}
        prefixes = {}
        for coalition, coalition_rows in rows.items():
            prefixes[coalition] = self._prefix(coalition, coalition_rows)
            advance()
        tallies = {c: _Tally() for c in self.coalitions if c != self.full}
        tokens = 0
        share = _ShareMeter(self.model, self.players)
        for start in range(0, len(kept), self.batch_size):
            batch = slice(start, start + self.batch_size)
            reference = rows[self.full][batch]
            with share.measure(reference, prefixes[self.full].length):
                full = self._pass(self.full, reference, prefixes[self.full])
            advance()
            targets = [_targets(row) for row in reference]
            tokens += sum(len(t) for t in targets)
            # a batch run before with the same tokens, prefix and writing subsystems would
            # give the same result bit for bit (memory retrieval off, in a batch that quoted
            # no memory): it is reused
            done = {
                self._batch_key(self.full, reference, prefixes): [
                    _Comparison.none(len(t)) for t in targets
                ]
            }
            for coalition, tally in tallies.items():
                ablated = rows[coalition][batch]
                key = self._batch_key(coalition, ablated, prefixes)
                if key not in done:
                    passed = self._pass(coalition, ablated, prefixes[coalition])
                    done[key] = [
                        _Comparison.of(f, a, t)
                        for f, a, t in zip(full, passed, targets, strict=True)
                    ]
                tally.extend(done[key])
                advance()
        self._prefixes.clear()
        return self._trace(tallies, share.shares(), len(kept), tokens)

    def logprobs(self, probes: Sequence[Probe], on: Collection[str]) -> list[torch.Tensor]:
        """Each probe's teacher-forced log-probabilities [reply tokens, V] with only the
        players named in `on` switched on, computed the way `run` computes them."""
        coalition = frozenset(on)
        rows = self._encode(coalition, probes)
        prefix = self._prefix(coalition, rows)
        return [
            lp
            for start in range(0, len(rows), self.batch_size)
            for lp in self._pass(coalition, rows[start : start + self.batch_size], prefix)
        ]

    # -- passes -------------------------------------------------------------------------

    def _plays(self, group: Group) -> bool:
        return self._writes(group) or bool(self.prompt_switches.intersection(group.members))

    def _batch_key(
        self, coalition: Coalition, rows: list[_Row], prefixes: dict[Coalition, _Prefix]
    ) -> tuple[Coalition, int, tuple[tuple[int, ...], ...]]:
        """What a pass over `rows` under `coalition` depends on."""
        return (
            self._weights(coalition),
            prefixes[coalition].length,
            tuple(tuple(r.ids) for r in rows),
        )

    def _weights(self, coalition: Coalition) -> Coalition:
        """The players in `coalition` that change the model's forward pass (rather than
        only what the prompt says)."""
        return frozenset(g.name for g in self.players if g.name in coalition and self._writes(g))

    def _writes(self, group: Group) -> bool:
        return any(_writes(self.model.subsystems[name]) for name in group.members)

    def _only(self, coalition: Coalition) -> AbstractContextManager[None]:
        """Every player outside `coalition` off (no name at all would mean all off)."""
        names = [m for g in self.players if g.name not in coalition for m in g.members]
        return self.model.off(*names) if names else nullcontext()

    def _encode(self, coalition: Coalition, probes: Sequence[Probe]) -> list[_Row]:
        with self._only(coalition):
            encoded = [reply_tokens(self.model, p.prompt(), p.reply) for p in probes]
        return [_Row(e.input_ids[0].tolist(), e.reply_start) for e in encoded]

    @torch.inference_mode()
    def _prefix(self, coalition: Coalition, rows: list[_Row]) -> _Prefix:
        """The tokens every row starts with, run once under `coalition`, or taken from a
        coalition with the same tokens and the same subsystems writing."""
        ids = tuple(rows[0].ids[: _shared_length(rows)])
        key = (self._weights(coalition), ids)
        if key not in self._prefixes:
            cache = DynamicCache()
            if ids:
                with self._only(coalition):
                    self.model(torch.tensor([ids]), cache=cache, use_cache=True, logits_to_keep=1)
            self._prefixes[key] = _Prefix(len(ids), cache)
        return self._prefixes[key]

    @torch.inference_mode()
    def _pass(self, coalition: Coalition, rows: list[_Row], prefix: _Prefix) -> list[torch.Tensor]:
        """Log-probabilities [reply tokens, V] per row under `coalition`."""
        skip = prefix.length
        pad = self.model.tokenizer.pad_token_id or 0
        width = max(len(r.ids) for r in rows) - skip
        ids = torch.tensor([r.ids[skip:] + [pad] * (width + skip - len(r.ids)) for r in rows])
        # the vocabulary projection only where a reply token is predicted
        scored = _scored_mask(rows, skip)
        with self._only(coalition):
            cache = self._continued(prefix, len(rows)) if skip else None
            out = self.model(ids, cache=cache, use_cache=cache is not None, logits_to_keep=scored)
        per_row = out.logits.reshape(-1, out.logits.shape[-1]).split(scored.sum(1).tolist())
        return [torch.log_softmax(logits.float(), dim=-1) for logits in per_row]

    def _continued(self, prefix: _Prefix, batch: int) -> DynamicCache:
        """A copy of the prefix's KV cache (and SSM state) for `batch` rows."""
        cache = copy.deepcopy(prefix.cache)
        cache.batch_repeat_interleave(batch)
        for sidecar in (s for s in self.model.subsystems if isinstance(s, SSMSidecar)):
            if states := sidecar.state(prefix.cache):
                expanded = {i: s.expand(batch, *s.shape[1:]) for i, s in states.items()}
                sidecar.restore(cache, expanded)
        return cache

    # -- figures ------------------------------------------------------------------------

    def _trace(
        self,
        tallies: dict[Coalition, _Tally],
        shares: dict[str, float],
        probes: int,
        tokens: int,
    ) -> Trace:
        zero = Figures(0.0, 0.0, 0.0, 0.0)
        figures = {c: t.figures() for c, t in tallies.items()} | {self.full: zero}
        names = [g.name for g in self.players]
        # how much of the full model's distance from the bare one a coalition makes up
        bare = figures[frozenset()].kl_mean
        effect = {c: bare - f.kl_mean for c, f in figures.items()}
        if self.method == "exact":
            shapley = exact_shapley(names, effect)
            interactions = exact_interactions(names, effect)
        else:
            shapley, interactions = sampled_shapley(self.orders, effect), {}
        return Trace(
            players=names,
            ablations={n: figures[self.full - {n}] for n in names},
            total=figures[frozenset()],
            residual_share=shares,
            shapley=shapley,
            interactions=interactions,
            method=self.method,
            orders=len(self.orders),
            coalitions=len(self.coalitions),
            probes=probes,
            tokens=tokens,
        )


class _ShareMeter:
    """Sums, over reply positions, |added| / |hidden| for every residual write of each
    player, the hidden state being the output of the decoder layer written into."""

    def __init__(self, model: EylaModel, players: Sequence[Group]) -> None:
        self.model = model
        self.writers = {
            g.name: [sub for name in g.members if _writes(sub := model.subsystems[name])]
            for g in players
        }
        self.sums = {name: 0.0 for name, subs in self.writers.items() if subs}
        self.counts = dict.fromkeys(self.sums, 0)

    @contextmanager
    def measure(self, rows: list[_Row], shared: int) -> Iterator[None]:
        """Record during the one forward pass inside the block, which runs `rows` after a
        cached prefix of `shared` tokens."""
        mask = _scored_mask(rows, shared)
        added: list[tuple[str, int, torch.Tensor]] = []
        hidden: dict[int, torch.Tensor] = {}

        def keep(group: str) -> Callable[[int, torch.Tensor], None]:
            return lambda layer, delta: added.append((group, layer, _norms(delta)))

        def after(layer: int) -> Callable[..., None]:
            # runs after the subsystems' own hooks on this layer, whose taps have fired
            def hook(module: torch.nn.Module, args: object, output: torch.Tensor) -> None:
                if any(written == layer for _, written, _ in added):
                    hidden[layer] = _norms(output)

            return hook

        with ExitStack() as stack:
            for group, subs in self.writers.items():
                for sub in subs:
                    stack.enter_context(sub.tap(keep(group)))
            for i, layer in enumerate(decoder_layers(self.model.base)):
                stack.callback(layer.register_forward_hook(after(i)).remove)
            yield
        for group, layer, norms in added:
            ratio = norms / hidden[layer].clamp_min(1e-12)
            self.sums[group] += float(ratio[mask].sum())
            self.counts[group] += int(mask.sum())

    def shares(self) -> dict[str, float]:
        return {name: self.sums[name] / max(1, self.counts[name]) for name in self.sums}


def _scored_mask(rows: list[_Row], skip: int) -> torch.Tensor:
    """[rows, padded width] True where a row predicts a reply token, after a prefix of
    `skip` tokens."""
    mask = torch.zeros(len(rows), max(len(r.ids) for r in rows) - skip, dtype=torch.bool)
    for n, row in enumerate(rows):
        mask[n, row.scored.start - skip : row.scored.stop - skip] = True
    return mask


def _writes(subsystem: object) -> bool:
    return isinstance(subsystem, NeuralSubsystem) and subsystem.writes_residual


def _norms(x: torch.Tensor) -> torch.Tensor:
    return x.detach().float().norm(dim=-1)


def _targets(row: _Row) -> torch.Tensor:
    return torch.tensor(row.ids[row.reply_start :])


def _nll(logprobs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return -logprobs.gather(-1, targets.unsqueeze(-1)).squeeze(-1)


def _shared_length(rows: list[_Row]) -> int:
    """Tokens every row starts with, stopping before the first scored position of any."""
    limit = min(r.scored.start for r in rows)
    first = rows[0].ids
    length = 0
    while length < limit and all(r.ids[length] == first[length] for r in rows):
        length += 1
    return length

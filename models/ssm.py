"""HiPPO S4D side-cars: a diagonal state-space layer beside chosen decoder blocks.

Each side-car turns a block's output `h` into `h + alpha * out(gelu(s4d(norm(h))))`, with
`alpha` starting at 0 so a fresh side-car is an exact no-op. The S4D layer (Gu et al.
2022) gives every hidden channel its own N/2 complex modes, initialised from HiPPO-LegS
(or S4D-Lin / S4D-Inv) and discretised by zero-order hold or the bilinear rule with a
learned step size.

One layer, two ways to run it: a multi-token input is a causal FFT convolution with the
SSM's kernel, O(L log L); a single token is one step of the recurrence, O(1). Both start
from, and hand on, the state before/after the input, so a prompt can be prefilled as a
convolution and the reply decoded step by step.

The state travels with the KV cache: a side-car keeps one state per live cache object
(weakly, so it goes when the cache does) and checks that it has read exactly the tokens
the cache holds. A forward without a cache runs from a zero state and keeps nothing, so
training and ablation passes are stateless.

All side-car parameters are float32 whatever the base dtype: inputs are cast up, the
contribution cast back.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any
from weakref import WeakKeyDictionary

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.hooks import RemovableHandle
from transformers import Cache

from eyla.errors import EylaError
from models import hippo
from models.loading import BaseModel
from models.memo import InferenceMemo
from models.subsystem import NeuralSubsystem, decoder_layers, evenly_spaced, resolve_layers

DEFAULT_STATE_SIZE = 64
DEFAULT_LAYER_COUNT = 4
DT_MIN, DT_MAX = 1e-3, 1e-1
# log_dt is clamped, and the decay rate floored, so that a large optimiser step cannot make
# exp(dt A) overflow or ZOH's (exp(dt A) - 1) / A divide by zero.
LOG_DT_RANGE = (math.log(1e-4), math.log(1.0))
MIN_DECAY = 1e-4
# S4's recipe: the state dynamics (dt, A, B) learn slowly and are not decayed
DYNAMICS_LR = 1e-3


@dataclass(frozen=True)
class Discrete:
    """A discretised S4D layer: dA and dB [channels, N/2] (complex64), and dA in polar
    form in float64 (log |dA|, arg dA), from which the convolution builds its powers."""

    da: torch.Tensor
    db: torch.Tensor
    log_magnitude: torch.Tensor
    phase: torch.Tensor


class S4D(nn.Module):
    """`channels` independent diagonal SSMs:
    x_k = dA x_{k-1} + dB u_k,  y_k = 2 Re(C x_k) + D u_k  (x has N/2 complex modes)."""

    def __init__(
        self,
        channels: int,
        state_size: int = DEFAULT_STATE_SIZE,
        init: hippo.Init = "legs",
        method: hippo.Method = "zoh",
    ) -> None:
        super().__init__()
        a, b = hippo.diagonal_init(init, state_size)
        self.method = method
        low, high = math.log(DT_MIN), math.log(DT_MAX)
        self.log_dt = nn.Parameter(torch.rand(channels) * (high - low) + low)
        # Re A < 0 is kept by construction: A = -exp(log_decay) + i freq
        self.log_decay = nn.Parameter(torch.log(-a.real).float().repeat(channels, 1))
        self.freq = nn.Parameter(a.imag.float().repeat(channels, 1))
        self.b = nn.Parameter(torch.view_as_real(b.to(torch.complex64)).repeat(channels, 1, 1))
        c = torch.randn(channels, state_size // 2, dtype=torch.complex64)
        self.c = nn.Parameter(torch.view_as_real(c))
        self.d = nn.Parameter(torch.randn(channels))
        self._discrete: InferenceMemo[Discrete] = InferenceMemo()

    def dynamics(self) -> list[nn.Parameter]:
        return [self.log_dt, self.log_decay, self.freq, self.b]

    def discrete(self) -> Discrete:
        dt = self.log_dt.clamp(*LOG_DT_RANGE).exp().unsqueeze(-1)
        a = torch.complex(-self.log_decay.exp().clamp_min(MIN_DECAY), self.freq)
        da, db = hippo.discretize(a, torch.view_as_complex(self.b), dt, self.method)
        # float64: phases l * arg(dA) reach 1e5 radians on long prompts, where float32
        # would put the far end of the kernel visibly out of step with the recurrence
        wide = da.to(torch.complex128)
        return Discrete(da, db, wide.abs().log(), wide.angle())

    def forward(
        self, u: torch.Tensor, state: torch.Tensor | None = None, keep_state: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Run over `u` [B, L, channels] from `state` [B, channels, N/2] (None: zero).

        Returns y [B, L, channels] and the state after the last position (None unless
        `keep_state`, except in step mode, where it comes for free).
        """
        discrete = self._discrete.get(self.dynamics(), self.discrete)
        c = torch.view_as_complex(self.c)
        if u.shape[1] == 1:
            return self.step(u[:, 0], state, discrete, c)
        return self.convolve(u, state, discrete, c, keep_state)

    def step(
        self, u: torch.Tensor, state: torch.Tensor | None, discrete: Discrete, c: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        x = discrete.db * u.unsqueeze(-1)
        if state is not None:
            x = x + discrete.da * state
        y = 2 * (c * x).sum(-1).real + self.d * u
        return y.unsqueeze(1), x

    def convolve(
        self,
        u: torch.Tensor,
        state: torch.Tensor | None,
        discrete: Discrete,
        c: torch.Tensor,
        keep_state: bool,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        length = u.shape[1]
        powers = _Powers(discrete.log_magnitude, discrete.phase, length)
        channels_first = u.transpose(1, 2)
        kernel = powers.weighted_sum(c * discrete.db)
        y = _causal_conv(channels_first, kernel) + self.d.unsqueeze(-1) * channels_first
        if state is not None:
            # what the starting state contributes: 2 Re(C dA^(k+1) x_start) at position k
            y = y + powers.weighted_sum(c * discrete.da * state)
        final = None
        if keep_state:
            # x_last = sum_j dA^(L-1-j) dB u_j  (+ dA^L x_start)
            final = discrete.db * powers.dot(channels_first.flip(-1))
            if state is not None:
                final = final + powers.total * state
        return y.transpose(1, 2), final


class _Powers:
    """z^l for l < length without materialising all of them: with l = m*T + j,
    z^l = outer[m] * inner[j], and both factors are short (T ~ sqrt(length)). Sums
    over n or l then cost one batched matmul, and memory stays O(sqrt(length))."""

    def __init__(self, log_magnitude: torch.Tensor, phase: torch.Tensor, length: int) -> None:
        self.length = length
        self.block = math.isqrt(length - 1) + 1
        blocks = -(-length // self.block)

        def power(k: int) -> torch.Tensor:
            return torch.polar((log_magnitude * k).exp(), phase * k)

        # running products in float64: accurate at any length, with no transcendental
        # function per (mode, position), which would cost more than the whole layer
        self.inner = _running_powers(power(1), self.block).to(torch.complex64)
        self.outer = _running_powers(power(self.block), blocks).to(torch.complex64)
        self.total = power(length).to(torch.complex64)

    def weighted_sum(self, weights: torch.Tensor) -> torch.Tensor:
        """2 Re(sum_n weights[..., h, n] z[h, n]^l) for l < length -> [..., h, length]."""
        grid = torch.einsum("...hnm,hnj->...hmj", weights.unsqueeze(-1) * self.outer, self.inner)
        return 2 * grid.flatten(-2)[..., : self.length].real

    def dot(self, values: torch.Tensor) -> torch.Tensor:
        """sum_l values[..., h, l] z[h, n]^l -> [..., h, n] complex."""
        padded = F.pad(values, (0, self.outer.shape[-1] * self.block - self.length))
        grid = padded.unflatten(-1, (-1, self.block)).to(self.inner.dtype)
        per_block = torch.einsum("...hmj,hnj->...hnm", grid, self.inner)
        return (per_block * self.outer).sum(-1)


class SSMBlock(nn.Module):
    """One decoder layer's side-car: `alpha * out(gelu(s4d(norm(h))))`."""

    def __init__(
        self, hidden_size: int, state_size: int, init: hippo.Init, method: hippo.Method
    ) -> None:
        super().__init__()
        self.s4d = S4D(hidden_size, state_size, init, method)
        self.out = nn.Linear(hidden_size, hidden_size)
        self.alpha = nn.Parameter(torch.zeros(()))

    def forward(
        self, hidden: torch.Tensor, state: torch.Tensor | None, keep_state: bool
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        # the residual stream's scale differs by orders of magnitude between layers; the
        # SSM sees it RMS-normalised so one dt range and init suit every layer
        u = torch.rms_norm(hidden.float(), hidden.shape[-1:], eps=1e-6)
        y, state = self.s4d(u, state, keep_state)
        return (self.alpha * self.out(F.gelu(y))).to(hidden.dtype), state


@dataclass
class _Carry:
    """A side-car layer's state within one KV cache, and how many tokens it has read."""

    state: torch.Tensor
    tokens: int


class SSMSidecar(NeuralSubsystem):
    kind = "ssm"
    writes_residual = True

    def __init__(
        self,
        base: BaseModel,
        *,
        name: str = "ssm",
        layers: Sequence[int | str] | None = None,
        state_size: int = DEFAULT_STATE_SIZE,
        init: hippo.Init = "legs",
        method: hippo.Method = "zoh",
    ) -> None:
        super().__init__(name)
        if init not in hippo.INITS:
            raise EylaError(f"unknown SSM init {init!r}; choose from {', '.join(hippo.INITS)}")
        if method not in hippo.METHODS:
            raise EylaError(
                f"unknown discretisation {method!r}; choose from {', '.join(hippo.METHODS)}"
            )
        if state_size < 2 or state_size % 2:
            raise EylaError(f"SSM state size must be even and at least 2, got {state_size}")
        count = len(decoder_layers(base))
        chosen = evenly_spaced(count, DEFAULT_LAYER_COUNT) if layers is None else layers
        self.layers = resolve_layers(base, chosen)
        self.state_size, self.init, self.method = state_size, init, method
        hidden = base.model.config.hidden_size
        self.blocks = nn.ModuleDict(
            {str(i): SSMBlock(hidden, state_size, init, method) for i in self.layers}
        )
        self._carries: WeakKeyDictionary[Cache, dict[int, _Carry]] = WeakKeyDictionary()

    def config(self) -> dict[str, Any]:
        return {
            "layers": self.layers,
            "state_size": self.state_size,
            "init": self.init,
            "method": self.method,
        }

    def gates(self) -> list[torch.Tensor]:
        return [block.alpha for block in self.blocks.values()]

    def param_groups(self, lr: float, weight_decay: float) -> list[dict[str, Any]]:
        dynamics = [p for block in self.blocks.values() for p in block.s4d.dynamics()]
        chosen = {id(p) for p in dynamics}
        rest = [p for p in self.parameters() if id(p) not in chosen]
        return [
            {"params": dynamics, "lr": min(lr, DYNAMICS_LR), "weight_decay": 0.0},
            {"params": rest, "lr": lr, "weight_decay": weight_decay},
        ]

    def state(self, cache: Cache) -> dict[int, torch.Tensor]:
        """The state each layer holds within `cache` (empty before any forward)."""
        return {i: carry.state for i, carry in self._carries.get(cache, {}).items()}

    def restore(self, cache: Cache, states: Mapping[int, torch.Tensor]) -> None:
        """Start `cache`'s next forward from `states` (one per layer, as `state` returns)."""
        if set(states) != set(self.layers):
            raise EylaError(
                f"SSM '{self.name}' state has layers {sorted(states)}, expected {self.layers}"
            )
        modes = (self.blocks[str(self.layers[0])].s4d.c.shape[0], self.state_size // 2)
        carries = {}
        for i, state in states.items():
            if not state.is_complex() or tuple(state.shape[1:]) != modes:
                raise EylaError(
                    f"SSM '{self.name}' layer {i}: state of shape {tuple(state.shape)}, "
                    f"expected complex [batch, {modes[0]}, {modes[1]}]"
                )
            carries[i] = _Carry(state.to(torch.complex64), cache.get_seq_length(i))
        self._carries[cache] = carries

    def _install(self, base: BaseModel) -> list[RemovableHandle]:
        blocks = decoder_layers(base)
        return [
            blocks[i].register_forward_hook(
                partial(self._after_block, i), with_kwargs=True, prepend=True
            )
            for i in self.layers
        ]

    def _after_block(
        self,
        index: int,
        module: nn.Module,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        output: torch.Tensor,
    ) -> torch.Tensor | None:
        if not self.enabled:
            return None
        block = self.blocks[str(index)]
        cache = kwargs.get("cache")
        if cache is None:
            delta, _ = block(output, None, keep_state=False)
            return output + self._added(index, delta)
        length = output.shape[1]
        # the attention in this block has already appended the new tokens to the cache
        seen = cache.get_seq_length(index) - length
        delta, state = block(output, self._state_before(cache, index, seen), keep_state=True)
        self._carries.setdefault(cache, {})[index] = _Carry(state, seen + length)
        return output + self._added(index, delta)

    def _state_before(self, cache: Cache, index: int, seen: int) -> torch.Tensor | None:
        carry = self._carries.get(cache, {}).get(index)
        if carry is None and seen == 0:
            return None
        if carry is None or carry.tokens != seen:
            read = 0 if carry is None else carry.tokens
            raise EylaError(
                f"SSM '{self.name}' layer {index} has read {read} tokens but the KV cache "
                f"holds {seen}: start the generation with a fresh cache"
            )
        return carry.state


def _running_powers(ratio: torch.Tensor, count: int) -> torch.Tensor:
    """ratio^0 ... ratio^(count - 1) along a new last axis."""
    steps = ratio.unsqueeze(-1).expand(*ratio.shape, count - 1)
    return torch.cat([torch.ones_like(ratio).unsqueeze(-1), steps], dim=-1).cumprod(-1)


def _causal_conv(u: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """y[..., l] = sum_{j <= l} kernel[..., l - j] u[..., j], by FFT; zero-padding to 2L
    keeps the circular convolution from wrapping the future into the past."""
    length = u.shape[-1]
    n = 2 * length
    spectrum = torch.fft.rfft(u, n=n) * torch.fft.rfft(kernel, n=n)
    return torch.fft.irfft(spectrum, n=n)[..., :length]

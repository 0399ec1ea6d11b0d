"""Zero-gated identity prefix (LLaMA-Adapter): learned prompt vectors in the top layers.

In each chosen layer, `length` learned vectors are projected by that layer's own frozen
k/v projections into prefix keys and values. Queries attend to them with a softmax of
their own, scaled per head by `tanh(gate)`:

    out = attn(x) + o_proj(tanh(gate) * softmax(q k_p^T / sqrt(d)) v_p)

`o_proj` is linear, so adding the projected prefix term to the attention module's output
equals concatenating the prompt to the keys with a separate softmax. Queries carry rotary
positions as usual; prefix keys carry none, being no position in the text. The prefix is
recomputed every forward and never enters the KV cache, so prefill and cached decoding
see the same prompt.

The gate starts at 0 (an exact no-op) while the prompt vectors start random: the gate's
first gradient is proportional to the prefix values, so a zero prompt would never move it.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

import torch
from torch import nn
from torch.utils.hooks import RemovableHandle

from eyla.errors import EylaError
from models.loading import BaseModel
from models.memo import InferenceMemo
from models.subsystem import NeuralSubsystem, decoder_layers, resolve_layers, top_layers

DEFAULT_LENGTH = 10
DEFAULT_LAYER_COUNT = 8


class PrefixBlock(nn.Module):
    """One layer's prompt vectors and per-head gate."""

    def __init__(self, hidden_size: int, length: int, heads: int) -> None:
        super().__init__()
        # unit scale like the normalised hidden states the k/v projections normally see
        self.prompt = nn.Parameter(torch.randn(length, hidden_size))
        self.gate = nn.Parameter(torch.zeros(heads))
        self._projected: InferenceMemo[tuple[torch.Tensor, torch.Tensor]] = InferenceMemo()

    def forward(
        self,
        attention: nn.Module,
        hidden: torch.Tensor,
        position_embeddings: tuple[torch.Tensor, torch.Tensor],
    ) -> torch.Tensor:
        """The prefix term to add to `attention`'s output for input `hidden` [B, L, D]."""
        batch, length, _ = hidden.shape
        heads = self.gate.shape[0]
        query = _reused_query(attention, hidden, position_embeddings)
        if query is None:
            query = attention.q_proj(hidden).view(batch, length, heads, -1).transpose(1, 2)
            query = _rotate(query, *position_embeddings).float()
        sources = [
            self.prompt,
            self.gate,
            *attention.k_proj.parameters(),
            *attention.v_proj.parameters(),
            attention.o_proj.weight,
        ]
        keys, outputs = self._projected.get(sources, lambda: self._project(attention))
        weights = (query @ keys.transpose(-1, -2)).softmax(-1)  # [B, H, L, length]
        mixed = weights.transpose(1, 2).reshape(batch, length, -1) @ outputs
        return mixed.to(hidden.dtype)

    def _project(self, attention: nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
        """Per query head, float32: the prefix keys pre-scaled by 1/sqrt(d) [H, length, d],
        and each prefix value already gated and passed through o_proj [H * length, D].

        Folding `tanh(gate)` and o_proj into the values is exact (both are linear) and
        turns the per-token work into one small matmul instead of o_proj's full one.
        """
        heads, head_dim = self.gate.shape[0], attention.head_dim
        groups = attention.num_key_value_groups
        prompt = self.prompt.to(attention.k_proj.weight.dtype)

        def per_query_head(projection: nn.Module) -> torch.Tensor:
            # query head h reads kv head h // groups (heads sharing a kv head are adjacent)
            kv = projection(prompt).float().view(-1, heads // groups, head_dim)
            return kv.repeat_interleave(groups, dim=1).transpose(0, 1)

        keys, values = per_query_head(attention.k_proj), per_query_head(attention.v_proj)
        values = values * torch.tanh(self.gate).view(heads, 1, 1)
        # the weight alone: a bias in o_proj already counts once in the attention output
        o_proj = attention.o_proj.weight.float().view(-1, heads, head_dim)
        outputs = torch.einsum("hkd,ohd->hko", values, o_proj).reshape(-1, o_proj.shape[0])
        return keys * attention.scaling, outputs


class IdentityPrefix(NeuralSubsystem):
    kind = "prefix"
    # the attention output goes into the residual stream unchanged, and the prefix term
    # with it
    writes_residual = True

    def __init__(
        self,
        base: BaseModel,
        *,
        name: str = "prefix",
        layers: Sequence[int | str] | None = None,
        length: int = DEFAULT_LENGTH,
    ) -> None:
        super().__init__(name)
        if length < 1:
            raise EylaError(f"prefix length must be at least 1, got {length}")
        count = len(decoder_layers(base))
        chosen = top_layers(count, DEFAULT_LAYER_COUNT) if layers is None else layers
        self.layers = resolve_layers(base, chosen)
        self.length = length
        config = base.model.config
        self.blocks = nn.ModuleDict(
            {
                str(i): PrefixBlock(config.hidden_size, length, config.num_attention_heads)
                for i in self.layers
            }
        )

    def config(self) -> dict[str, Any]:
        return {"layers": self.layers, "length": self.length}

    def gates(self) -> list[torch.Tensor]:
        return [block.gate for block in self.blocks.values()]

    def _install(self, base: BaseModel) -> list[RemovableHandle]:
        blocks = decoder_layers(base)
        return [
            blocks[i].self_attn.register_forward_hook(
                partial(self._after_attention, i), with_kwargs=True, prepend=True
            )
            for i in self.layers
        ]

    def _after_attention(
        self,
        index: int,
        module: nn.Module,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        output: tuple[torch.Tensor, Any],
    ) -> tuple[torch.Tensor, Any] | None:
        if not self.enabled:
            return None
        hidden = kwargs["hidden_states"] if "hidden_states" in kwargs else args[0]
        attn_out, *rest = output
        extra = self._added(
            index, self.blocks[str(index)](module, hidden, kwargs["position_embeddings"])
        )
        return (attn_out + extra, *rest)


def _reused_query(
    attention: nn.Module,
    hidden: torch.Tensor,
    position_embeddings: tuple[torch.Tensor, torch.Tensor],
) -> torch.Tensor | None:
    """The rotated query `attention` has already computed for `hidden`, where it keeps one
    (the 4-bit decode step does: `Int4LlamaAttention.rotated_query`)."""
    rotated_query = getattr(attention, "rotated_query", None)
    return None if rotated_query is None else rotated_query(hidden, position_embeddings)


def _rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotary embedding in the half-split layout transformers' Llama uses; x: [B, H, L, d]."""
    half = x.shape[-1] // 2
    rotated = torch.cat((-x[..., half:], x[..., :half]), dim=-1)
    return x * cos.unsqueeze(1) + rotated * sin.unsqueeze(1)

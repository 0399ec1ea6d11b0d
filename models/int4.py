"""One-token decode steps on the base model's own 4-bit weights (`dtype = "int4"`).

Decoding one token at batch size 1 reads every weight once, so most of a step is spent
reading float32 weights. A Q4_1 GGUF (the embedded model) stores each row of a projection
in groups of 32 as w = d*q + m (q in 0..15; d and m float16), and the float32 weights
`transformers` converts it to are exactly those values. `four_bit_groups` recovers q, d
and m from the float32 weights and checks the round trip bit for bit, so a projection is
converted only when nothing about its weights changes.

PyTorch's int4 CPU kernel (`aten._weight_int4pack_mm_for_cpu`) computes, per group,
x @ ((q - 8) * scale + zero)^T, so scale = d and zero = m + 8d. It works in bfloat16: in a
one-token step each projection's input, its group scales and its output are rounded to
bfloat16 (about three significant digits; the products are summed in float32); the
residual stream, norms, rotary positions, attention and every subsystem stay float32.
Prompts (more than one position) and anything run under autograd take the float32
weights: float32 GEMM is the faster kernel for many positions, and training sees float32.
Steps of several rows at once (batched evaluation) take the 4-bit path too, though it is
slower than float32 there, so that they compute what a user's step computes.

`accelerate(model)` converts a Llama-family model in place. For prompts every module runs
its class's own code; for one-token steps each layer runs q, k and v as one 4-bit matrix,
gate and up as another, o and down on their own (four kernel calls instead of seven), with
its norms and MLP inline rather than as module calls; with batch size 1 the decoder stack
runs each block's `step`, which calls neither the block nor its attention and runs their
forward hooks itself (the subsystems act through those hooks), and the vocabulary
projection shortlists with a 4-bit copy (`ShortlistHead`); the RMS norms run as one kernel
each (`FusedRMSNorm`, the same numbers). Modules keep their float32 weights, names and
hooks, so the subsystems' hooks and anything reading `.weight` see the same model; where a
block's norms, MLP or output projections have hooks of their own, that block runs Llama's
forward, which calls them (q, k, v, gate and up run packed in a one-token step, so hooks
on those do not run there).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules import module as module_hooks
from transformers import Cache
from transformers.modeling_outputs import BaseModelOutputWithPast
from transformers.models.llama.modeling_llama import (
    LlamaAttention,
    LlamaDecoderLayer,
    LlamaMLP,
    LlamaModel,
    LlamaRMSNorm,
    rotate_half,
)

GROUP = 32
# the kernel's packing parameter for the inner K dimension
INNER_K_TILES = 2
# the kernel packs rows in tiles of 16
ROW_TILE = 16
ATTENTION_PROJECTIONS = ("q_proj", "k_proj", "v_proj", "o_proj")
MLP_PROJECTIONS = ("gate_proj", "up_proj", "down_proj")
# tokens the vocabulary projection rescores in float32 after its 4-bit pass
SHORTLIST = 128


@dataclass(frozen=True)
class FourBit:
    """A weight [N, K] as w = scale * codes + minimum, per group of `GROUP` along K."""

    codes: torch.Tensor  # int32 [N, K], 0..15
    scale: torch.Tensor  # float32 [N, K // GROUP], float16 values
    minimum: torch.Tensor  # float32 [N, K // GROUP]


def round_to_four_bit(weight: torch.Tensor) -> FourBit:
    """The nearest 4-bit groups to `weight` [N, K], as Q4_1 rounds: per group of `GROUP`,
    the minimum and the float16 nearest (max - min) / 15 as the scale."""
    rows, cols = weight.shape
    groups = weight.float().reshape(rows, cols // GROUP, GROUP)
    low = groups.amin(-1, keepdim=True)
    scale = ((groups.amax(-1, keepdim=True) - low) / 15).half().float()
    codes = ((groups - low) / torch.where(scale == 0, 1.0, scale)).round().clamp(0, 15)
    return FourBit(codes.to(torch.int32).reshape(rows, cols), scale.squeeze(-1), low.squeeze(-1))


def four_bit_groups(weight: torch.Tensor) -> FourBit | None:
    """The 4-bit groups `weight` is made of, or None when it is not exactly 4-bit.

    Q4_1's minimum and scale can be read back off the weights it made; the codes then
    follow, and the weights they give must equal `weight` bit for bit."""
    if weight.dim() != 2 or weight.shape[1] % GROUP or weight.shape[0] % ROW_TILE:
        return None
    found = round_to_four_bit(weight.detach())
    rebuilt = found.scale.repeat_interleave(GROUP, -1) * found.codes + (
        found.minimum.repeat_interleave(GROUP, -1)
    )
    return found if torch.equal(rebuilt, weight.detach().float()) else None


class Int4Weights(nn.Module):
    """The rows of one or more projections that read the same input, packed for the int4
    kernel; called on one position per row [B, K] (any float dtype), returns [B, N]
    bfloat16."""

    def __init__(self, parts: Sequence[FourBit]) -> None:
        super().__init__()
        codes = torch.cat([part.codes for part in parts])
        scale = torch.cat([part.scale for part in parts])
        zero = torch.cat([part.minimum for part in parts]) + 8 * scale
        self.sizes = [part.codes.shape[0] for part in parts]
        # not part of the state dict: derived from the float32 weights, which are
        self.register_buffer(
            "packed",
            torch.ops.aten._convert_weight_to_int4pack_for_cpu(codes, INNER_K_TILES),
            persistent=False,
        )
        self.register_buffer(
            "scale_zero",
            torch.stack([scale.t(), zero.t()], dim=-1).contiguous().bfloat16(),
            persistent=False,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.ops.aten._weight_int4pack_mm_for_cpu(
            x.bfloat16(), self.packed, GROUP, self.scale_zero
        )


def _one_token(hidden: torch.Tensor, module: nn.Module) -> bool:
    """Whether `hidden` [B, 1, D] is one position per row, which the 4-bit path takes:
    only with autograd off (the kernels have no backward, and training should see the
    float32 numbers)."""
    if torch.is_grad_enabled() or module.training:
        return False
    return hidden.dim() == 3 and hidden.shape[1] == 1


class Int4Linear(nn.Linear):
    """`nn.Linear` whose one-token calls run its 4-bit copy: o and down, and q for the
    identity prefix where it cannot reuse its attention's query."""

    four_bit: Int4Weights

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not _one_token(x, self):
            return super().forward(x)
        return self.rows(x.view(x.shape[0], -1)).to(x.dtype).unsqueeze(1)

    def rows(self, x: torch.Tensor) -> torch.Tensor:
        """One position per row [B, K] -> [B, N] float32, on the 4-bit copy."""
        out = self.four_bit(x).float()
        return out if self.bias is None else out + self.bias


class Int4LlamaAttention(LlamaAttention):
    """Llama attention; one-token steps project q, k and v with one 4-bit matmul."""

    qkv: Int4Weights
    o_proj: Int4Linear
    # the input, rotary positions and rotated query of the latest one-token step
    _last_step: tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor], torch.Tensor] | None = None

    def rotated_query(
        self, hidden_states: torch.Tensor, position_embeddings: tuple[torch.Tensor, torch.Tensor]
    ) -> torch.Tensor | None:
        """The rotated query [B, heads, 1, head_dim] this attention computed in its latest
        one-token step, when that step's input was this very tensor at these positions (a
        hook on this attention, such as the identity prefix's, runs right after and would
        otherwise compute it again); None otherwise."""
        last = self._last_step
        if last is None or last[0] is not hidden_states or last[1] is not position_embeddings:
            return None
        return last[2]

    def forward(  # type: ignore[override]
        self,
        hidden_states: torch.Tensor,
        position_embeddings: tuple[torch.Tensor, torch.Tensor] | None = None,
        attention_mask: torch.Tensor | None = None,
        cache: Any = None,
        **kwargs: Any,
    ) -> tuple[torch.Tensor, None]:
        self._last_step = None
        if not _one_token(hidden_states, self) or cache is None or position_embeddings is None:
            return super().forward(
                hidden_states, position_embeddings, attention_mask, cache=cache, **kwargs
            )
        batch, dtype, head_dim = hidden_states.shape[0], hidden_states.dtype, self.head_dim
        q_heads, k_heads, _ = (size // head_dim for size in self.qkv.sizes)
        qkv = self.qkv(hidden_states.view(batch, -1)).to(dtype).view(batch, -1, head_dim)
        # rotary positions on q and k at once, as `apply_rotary_pos_emb` computes them
        cos, sin = (t.view(batch, 1, head_dim) for t in position_embeddings)
        qk = qkv[:, : q_heads + k_heads]
        qk = qk * cos + rotate_half(qk) * sin
        query = qk[:, :q_heads].unsqueeze(2)  # [B, heads, 1, head_dim]
        self._last_step = (hidden_states, position_embeddings, query)
        key = qk[:, q_heads:].unsqueeze(2)
        value = qkv[:, q_heads + k_heads :].unsqueeze(2)
        key, value = cache.update(key, value, self.layer_idx)
        if attention_mask is not None:  # rows left-padded in a batch
            attention_mask = attention_mask[..., : key.shape[-2]]
        out = F.scaled_dot_product_attention(
            query,
            key,
            value,
            attn_mask=attention_mask,
            scale=self.scaling,
            enable_gqa=self.num_key_value_groups > 1,
        )
        flat = out.transpose(1, 2).reshape(batch, -1)
        if _hooked(self.o_proj):
            return self.o_proj(flat.unsqueeze(1)), None
        return self.o_proj.rows(flat).unsqueeze(1), None


class Int4LlamaMLP(LlamaMLP):
    """Llama MLP; one-token steps run gate and up as one 4-bit matmul."""

    gate_up: Int4Weights
    down_proj: Int4Linear

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not _one_token(x, self):
            return super().forward(x)
        return self.down_proj(self.gated(x.view(x.shape[0], -1)).unsqueeze(1).to(x.dtype))

    def gated(self, x: torch.Tensor) -> torch.Tensor:
        """act(gate) * up for one position per row [B, K] -> [B, intermediate] float32."""
        gate, up = self.gate_up(x).float().split(self.gate_up.sizes, -1)
        return self.act_fn(gate) * up


class Int4LlamaDecoderLayer(LlamaDecoderLayer):
    """A Llama block whose one-token step runs its norms and MLP inline: a module call
    costs more than the little arithmetic one position needs. Called as a module, its
    attention is called as one too; `step` runs the same block without calling either.
    Where a module inside the block has hooks of its own, the block runs Llama's forward,
    which calls every module, so those hooks run."""

    self_attn: Int4LlamaAttention
    mlp: Int4LlamaMLP

    def forward(  # type: ignore[override]
        self,
        hidden_states: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        cache: Cache | None = None,
        use_cache: bool | None = False,
        position_embeddings: tuple[torch.Tensor, torch.Tensor] | None = None,
        **kwargs: Any,
    ) -> torch.Tensor:
        if (
            not _one_token(hidden_states, self)
            or cache is None
            or attention_mask is not None
            or kwargs
            or self._inner_hooks()
        ):
            return super().forward(
                hidden_states,
                attention_mask=attention_mask,
                position_ids=position_ids,
                cache=cache,
                use_cache=use_cache,
                position_embeddings=position_embeddings,
                **kwargs,
            )
        return self._block(hidden_states, position_embeddings, position_ids, cache, self.self_attn)

    def step(
        self,
        hidden: torch.Tensor,
        position_embeddings: tuple[torch.Tensor, torch.Tensor],
        position_ids: torch.Tensor,
        cache: Cache,
    ) -> torch.Tensor:
        """What calling this block on one new position gives, its attention's forward
        hooks and its own included (they are how subsystems act), without calling the
        block or its attention; only where `runs_own_hooks` allows."""
        out = self._block(hidden, position_embeddings, position_ids, cache, self._attend)
        kwargs = {"position_embeddings": position_embeddings, "position_ids": position_ids}
        return _after_forward_hooks(self, (hidden,), kwargs | {"cache": cache}, out)

    def runs_own_hooks(self) -> bool:
        """Whether `step` gives what a module call would: no hook runs before the block
        or its attention, none is global, and no module inside has hooks."""
        return not (
            self._forward_pre_hooks
            or self.self_attn._forward_pre_hooks
            or module_hooks._global_forward_pre_hooks
            or module_hooks._global_forward_hooks
            or self._inner_hooks()
        )

    def _inner_hooks(self) -> bool:
        """Whether a module this block's one-token path runs inline has hooks."""
        inner = (self.input_layernorm, self.post_attention_layernorm, self.mlp, self.mlp.down_proj)
        return any(_hooked(module) for module in inner)

    def _attend(self, **kwargs: Any) -> tuple[torch.Tensor, None]:
        out = self.self_attn.forward(**kwargs)
        return _after_forward_hooks(self.self_attn, (), kwargs, out)

    def _block(
        self,
        hidden_states: torch.Tensor,
        position_embeddings: tuple[torch.Tensor, torch.Tensor] | None,
        position_ids: torch.Tensor | None,
        cache: Cache,
        attend: Callable[..., tuple[torch.Tensor, None]],
    ) -> torch.Tensor:
        # the attention's arguments as Llama's block passes them, for hooks that read them
        attended, _ = attend(
            hidden_states=_rms_norm(hidden_states, self.input_layernorm),
            attention_mask=None,
            position_ids=position_ids,
            cache=cache,
            use_cache=False,
            position_embeddings=position_embeddings,
        )
        hidden = hidden_states + attended
        normed = _rms_norm(hidden, self.post_attention_layernorm)
        gated = self.mlp.gated(normed.view(normed.shape[0], -1))
        return hidden + self.mlp.down_proj.rows(gated).unsqueeze(1)


def _after_forward_hooks(
    module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any], output: Any
) -> Any:
    """What a module call does with `output` once its forward returns: each forward hook
    in turn (in PyTorch's order, from a copy, so a hook may remove itself; with the call's
    kwargs where it asked for them), a hook's result, when not None, replacing the
    output."""
    for hook_id, hook in tuple(module._forward_hooks.items()):
        if hook_id in module._forward_hooks_with_kwargs:
            result = hook(module, args, kwargs, output)
        else:
            result = hook(module, args, output)
        if result is not None:
            output = result
    return output


def _hooked(module: nn.Module) -> bool:
    """Whether `module` has forward hooks of its own, which only calling it runs."""
    return bool(module._forward_hooks or module._forward_pre_hooks)


def _rms_norm(hidden: torch.Tensor, norm: nn.Module) -> torch.Tensor:
    return torch.rms_norm(hidden, norm.weight.shape, norm.weight, norm.variance_epsilon)


class Int4LlamaModel(LlamaModel):
    """Llama's decoder stack; a one-token step with a cache goes straight through the
    blocks' `step` (their hooks and their attention's run as a module call runs them),
    skipping the mask and output bookkeeping that a single new position does not need."""

    def forward(  # type: ignore[override]
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        cache: Cache | None = None,
        inputs_embeds: torch.Tensor | None = None,
        use_cache: bool | None = None,
        **kwargs: Any,
    ) -> BaseModelOutputWithPast:
        if (
            input_ids is None
            or input_ids.shape != (1, 1)
            or cache is None
            or attention_mask is not None
            or position_ids is not None
            or kwargs
            or self.training
            or torch.is_grad_enabled()
        ):
            return super().forward(
                input_ids=input_ids,
                attention_mask=attention_mask,
                position_ids=position_ids,
                cache=cache,
                inputs_embeds=inputs_embeds,
                use_cache=use_cache,
                **kwargs,
            )
        hidden = self.embed_tokens(input_ids)
        positions = torch.tensor([[cache.get_seq_length()]])
        rotary = self.rotary_emb(hidden, position_ids=positions)
        for layer in self.layers[: self.config.num_hidden_layers]:
            if isinstance(layer, Int4LlamaDecoderLayer) and layer.runs_own_hooks():
                hidden = layer.step(hidden, rotary, positions, cache)
            else:
                hidden = layer(
                    hidden, position_embeddings=rotary, position_ids=positions, cache=cache
                )
        return BaseModelOutputWithPast(last_hidden_state=self.norm(hidden), cache=cache)


class FusedRMSNorm(LlamaRMSNorm):
    """Llama's RMS norm as one kernel (`torch.rms_norm`) on float32 without autograd: the
    same numbers as the module's own six operations (a test checks them bit for bit), at
    about half the cost of a norm that a decode step runs 61 times."""

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        if (
            hidden_states.dtype != torch.float32
            or self.weight.dtype != torch.float32
            or torch.is_grad_enabled()
        ):
            return super().forward(hidden_states)
        return torch.rms_norm(hidden_states, self.weight.shape, self.weight, self.variance_epsilon)


class ShortlistHead(nn.Linear):
    """The vocabulary projection (the largest matrix of a small model, and 8-bit rather
    than 4-bit in a Q4_1 GGUF). For one position it scores every token with a 4-bit copy
    (groups of 32, each group's minimum and scale, as Q4_1 rounds), then rescores the
    `SHORTLIST` best with the float32 weights: greedy decoding and the default sampling
    (top-p 0.9 at temperature 0.3) pick among exact float32 logits whenever the 4-bit pass
    ranks the likeliest tokens among its best `SHORTLIST` (on 155 positions of the embedded
    model's text it always held the float32 top 20); the rest are rougher (off by up to
    about a fifth of the largest), which matters only at temperatures high enough to
    sample so far down the list. The 4-bit copy reads half the bytes of an 8-bit
    one: on the embedded model about 1.2 instead of 2.4 ms per token."""

    four_bit: Int4Weights

    def quantize(self) -> None:
        # the kernel packs rows in tiles: pad the vocabulary with zero rows, never scored
        padding = -self.out_features % ROW_TILE
        weight = F.pad(self.weight.detach(), (0, 0, 0, padding))
        self.four_bit = Int4Weights([round_to_four_bit(weight)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[:-1].numel() != 1 or self.bias is not None or not _one_token(x, self):
            return super().forward(x)  # a prompt, a batch, or a step under autograd
        flat = x.reshape(1, -1)
        logits = self.four_bit(flat).to(x.dtype)[0, : self.out_features]
        best = logits.topk(SHORTLIST).indices
        logits[best] = F.linear(flat, self.weight[best])[0]
        return logits.view(*x.shape[:-1], -1)


def accelerate(model: nn.Module) -> int:
    """Convert every Llama decoder layer of `model` whose projections are all exactly
    4-bit; returns how many were converted (0: nothing to gain, the model is unchanged)."""
    if model.training or next(model.parameters()).dtype != torch.float32:
        return 0
    converted = 0
    for module in model.modules():
        attention, mlp = getattr(module, "self_attn", None), getattr(module, "mlp", None)
        if type(attention) is not LlamaAttention or type(mlp) is not LlamaMLP:
            continue
        found = {
            name: four_bit_groups(getattr(owner, name).weight)
            for owner, names in ((attention, ATTENTION_PROJECTIONS), (mlp, MLP_PROJECTIONS))
            for name in names
        }
        parts = {name: part for name, part in found.items() if part is not None}
        if len(parts) < len(found):
            continue
        # swapping the class keeps the module's parameters, buffers and hooks
        attention.__class__ = Int4LlamaAttention
        attention.qkv = Int4Weights([parts["q_proj"], parts["k_proj"], parts["v_proj"]])
        for name in ("q_proj", "o_proj"):
            _to_int4_linear(getattr(attention, name), parts[name])
        mlp.__class__ = Int4LlamaMLP
        mlp.gate_up = Int4Weights([parts["gate_proj"], parts["up_proj"]])
        _to_int4_linear(mlp.down_proj, parts["down_proj"])
        if type(module) is LlamaDecoderLayer:
            module.__class__ = Int4LlamaDecoderLayer
        converted += 1
    decoder, head = getattr(model, "model", None), getattr(model, "lm_head", None)
    if converted and type(decoder) is LlamaModel:
        decoder.__class__ = Int4LlamaModel
    for module in model.modules() if converted else ():
        if type(module) is LlamaRMSNorm:
            module.__class__ = FusedRMSNorm
    if (
        converted
        and type(head) is nn.Linear
        and head.out_features > SHORTLIST
        and head.in_features % GROUP == 0
    ):
        head.__class__ = ShortlistHead
        head.quantize()
    return converted


def _to_int4_linear(linear: nn.Linear, four_bit: FourBit) -> None:
    linear.__class__ = Int4Linear
    linear.four_bit = Int4Weights([four_bit])

"""The identity prefix against a from-scratch LLaMA-Adapter attention with a concatenated
prompt: prefix keys (no position) before the rotary sequence keys, one softmax over each."""

from __future__ import annotations

import math

import torch

from models.eyla_model import EylaModel
from models.prefix import IdentityPrefix
from tests.models.util import logits, token_ids

LAYER = 2


def rotary(x: torch.Tensor, positions: torch.Tensor, theta: float) -> torch.Tensor:
    """x [L, H, d] rotated by position, pairing dimension j with j + d/2."""
    d = x.shape[-1]
    freqs = theta ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)
    angle = positions[:, None].double() * freqs[None, :]
    cos, sin = angle.cos()[:, None, :], angle.sin()[:, None, :]
    x1, x2 = x[..., : d // 2].double(), x[..., d // 2 :].double()
    return torch.cat((x1 * cos - x2 * sin, x2 * cos + x1 * sin), dim=-1).float()


def reference_attention(attn, hidden, prompt, gate, config) -> torch.Tensor:
    """One layer's attention output for hidden [L, D] with the prompt prepended."""
    length = hidden.shape[0]
    heads, kv_heads = config.num_attention_heads, config.num_key_value_heads
    d = config.hidden_size // heads
    theta = config.rope_parameters["rope_theta"]
    positions = torch.arange(length)
    q = rotary((hidden @ attn.q_proj.weight.T).view(length, heads, d), positions, theta)
    k = rotary((hidden @ attn.k_proj.weight.T).view(length, kv_heads, d), positions, theta)
    v = (hidden @ attn.v_proj.weight.T).view(length, kv_heads, d)
    k_prompt = (prompt @ attn.k_proj.weight.T).view(-1, kv_heads, d)
    v_prompt = (prompt @ attn.v_proj.weight.T).view(-1, kv_heads, d)
    n_prompt = prompt.shape[0]
    keys = torch.cat([k_prompt, k])
    values = torch.cat([v_prompt, v])
    visible = torch.ones(length, n_prompt + length, dtype=torch.bool)
    visible[:, n_prompt:] = torch.tril(visible[:, n_prompt:])
    outputs = []
    for h in range(heads):
        kv = h * kv_heads // heads
        scores = q[:, h] @ keys[:, kv].T / math.sqrt(d)
        scores = scores.masked_fill(~visible, -math.inf)
        prompt_part = scores[:, :n_prompt].softmax(-1) @ values[:n_prompt, kv]
        text_part = scores[:, n_prompt:].softmax(-1) @ values[n_prompt:, kv]
        outputs.append(text_part + math.tanh(gate[h]) * prompt_part)
    return torch.cat(outputs, dim=-1) @ attn.o_proj.weight.T


def test_prefix_matches_concatenated_prompt_attention(base):
    config = base.model.config
    attn = base.model.model.layers[LAYER].self_attn
    seen: dict[str, torch.Tensor] = {}
    attn.register_forward_pre_hook(
        lambda module, args, kwargs: seen.update(hidden=kwargs["hidden_states"]),
        with_kwargs=True,
    )
    eyla = EylaModel(base)
    prefix = eyla.add(IdentityPrefix(base, layers=[LAYER], length=5))
    # registered after the prefix's hook, so it sees the output the prefix produced
    attn.register_forward_hook(lambda module, args, output: seen.update(out=output[0]))
    block = prefix.blocks[str(LAYER)]
    with torch.no_grad():
        block.gate.copy_(torch.tensor([0.7, -1.2, 0.3, 2.0]))
    logits(eyla, token_ids(9))
    expected = reference_attention(
        attn, seen["hidden"][0], block.prompt.detach(), block.gate.tolist(), config
    )
    torch.testing.assert_close(seen["out"][0], expected, atol=1e-5, rtol=1e-4)


def test_zero_gate_is_exact_but_random_prompt_is_not_zero(base):
    prefix = IdentityPrefix(base, layers=[0, 1])
    for block in prefix.blocks.values():
        assert torch.equal(block.gate, torch.zeros(4))
        assert block.prompt.abs().min() > 0
        assert block.prompt.shape == (10, 64)

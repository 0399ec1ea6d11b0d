"""`dtype = "int4"`: one-token steps on the model's own 4-bit weights, every subsystem on.

A tiny Llama whose projections are rounded to Q4_1 (as the embedded GGUF's are) stands in
for the embedded model; the comparisons are against the same model unconverted."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import torch
from transformers import DynamicCache

from eyla.errors import EylaError
from models.eyla_model import EylaModel
from models.int4 import (
    SHORTLIST,
    FusedRMSNorm,
    Int4LlamaAttention,
    Int4LlamaDecoderLayer,
    Int4Weights,
    ShortlistHead,
    accelerate,
    four_bit_groups,
)
from models.loading import BaseModel, load_base
from tests.models.util import make_nonzero, token_ids, with_defaults
from tests.tiny import round_to_four_bit, tiny_base

STEPS = 12


def four_bit_base(seed: int = 0) -> BaseModel:
    base = tiny_base(seed)
    round_to_four_bit(base.model)
    return base


def trained_eyla(base: BaseModel) -> EylaModel:
    eyla = with_defaults(base)
    make_nonzero(eyla)
    return eyla


@contextmanager
def counting_int4_calls(model: torch.nn.Module) -> Iterator[list[int]]:
    calls = [0]
    handles = [
        module.register_forward_hook(lambda *_: calls.__setitem__(0, calls[0] + 1))
        for module in model.modules()
        if isinstance(module, Int4Weights)
    ]
    try:
        yield calls
    finally:
        for handle in handles:
            handle.remove()


@torch.inference_mode()
def step_logits(eyla: EylaModel, prompt: torch.Tensor, forced: list[int]) -> torch.Tensor:
    """Last-position logits after the prompt and after each forced token [1 + steps, V]."""
    cache = DynamicCache()
    out = [eyla(input_ids=prompt, cache=cache, use_cache=True).logits[0, -1]]
    for token in forced:
        step = eyla(input_ids=torch.tensor([[token]]), cache=cache, use_cache=True)
        out.append(step.logits[0, -1])
    return torch.stack(out)


def test_four_bit_groups_reads_q4_1_weights_back_exactly_and_nothing_else():
    torch.manual_seed(0)
    weight = torch.randn(32, 64)
    assert four_bit_groups(weight) is None, "float weights are not 4-bit"
    base = four_bit_base()
    projection = base.model.model.layers[0].mlp.down_proj.weight
    found = four_bit_groups(projection)
    assert found is not None
    rebuilt = found.scale.repeat_interleave(32, -1) * found.codes + found.minimum.repeat_interleave(
        32, -1
    )
    assert torch.equal(rebuilt, projection)
    assert int(found.codes.min()) == 0 and int(found.codes.max()) == 15
    assert four_bit_groups(projection[:, :40]) is None, "K must be whole groups"


def test_one_token_steps_run_four_bit_and_stay_close_to_float32():
    reference, fast = trained_eyla(four_bit_base()), trained_eyla(four_bit_base())
    assert accelerate(fast.base.model) == len(fast.base.model.model.layers)
    prompt = token_ids(20)
    forced = token_ids(STEPS, seed=1)[0].tolist()
    expected = step_logits(reference, prompt, forced)
    with counting_int4_calls(fast.base.model) as calls:
        got = step_logits(fast, prompt, forced)
    layers = len(fast.base.model.model.layers)
    # q/k/v, o, gate/up and down per layer, and the vocabulary; the prefix reuses the
    # attention's query instead of running q_proj again
    assert calls[0] == STEPS * (4 * layers + 1)
    assert all(type(layer) is Int4LlamaDecoderLayer for layer in fast.base.model.model.layers)
    # the prompt (many positions) runs the float32 weights: the very same numbers
    assert torch.equal(got[0], expected[0])
    # each step: bfloat16 inputs to the projections, float32 everywhere else; the tokens
    # that matter (the likeliest) rescored in float32, the others from a 4-bit copy
    scale = expected[1:].abs().amax(-1, keepdim=True)
    likeliest = expected[1:].topk(8, dim=-1).indices
    error = (got[1:] - expected[1:]).abs() / scale
    assert error.gather(1, likeliest).max() < 0.005
    assert error.max() < 0.25
    assert not torch.equal(got[1:], expected[1:]), "the steps did run another kernel"
    agree = (got[1:].argmax(-1) == expected[1:].argmax(-1)).float().mean()
    assert agree >= 0.9


@torch.inference_mode()
def test_the_vocabulary_shortlist_is_scored_in_float32():
    base = four_bit_base()
    accelerate(base.model)
    head = base.model.lm_head
    assert isinstance(head, ShortlistHead)
    torch.manual_seed(3)
    for _ in range(5):
        hidden = torch.randn(1, 1, head.in_features)
        exact = torch.nn.functional.linear(hidden, head.weight)[0, 0]
        got = head(hidden)[0, 0]
        best = exact.topk(SHORTLIST // 2).indices
        torch.testing.assert_close(got[best], exact[best], rtol=1e-5, atol=1e-5)
        assert int(got.argmax()) == int(exact.argmax())
        assert not torch.equal(got, exact), "the rest came from the 4-bit copy"
    prompt = torch.randn(1, 4, head.in_features)
    assert torch.equal(head(prompt), torch.nn.functional.linear(prompt, head.weight))


def test_subsystems_still_act_through_the_converted_layers():
    fast = trained_eyla(four_bit_base())
    accelerate(fast.base.model)
    prompt, forced = token_ids(16), token_ids(6, seed=2)[0].tolist()
    on = step_logits(fast, prompt, forced)
    with fast.off():
        off = step_logits(fast, prompt, forced)
    assert (on[1:] - off[1:]).abs().max() > 0.1


def test_norms_run_fused_with_the_same_numbers():
    base = four_bit_base()
    norms = [m for m in base.model.modules() if type(m).__name__ == "LlamaRMSNorm"]
    torch.manual_seed(0)
    for norm in norms:
        norm.weight.data.normal_()
    inputs = [torch.randn(2, 7, norms[0].weight.shape[0]) * s for s in (1e-3, 1.0, 300.0)]
    with torch.inference_mode():
        before = [norm(x) for norm in norms for x in inputs]
        accelerate(base.model)
        assert all(type(norm) is FusedRMSNorm for norm in norms)
        after = [norm(x) for norm in norms for x in inputs]
    assert all(torch.equal(a, b) for a, b in zip(before, after, strict=True))


def test_weights_that_are_not_four_bit_are_left_alone():
    base = tiny_base()
    before = {name: p.clone() for name, p in base.model.named_parameters()}
    assert accelerate(base.model) == 0
    attention = base.model.model.layers[0].self_attn
    assert not isinstance(attention, Int4LlamaAttention)
    assert all(torch.equal(p, before[name]) for name, p in base.model.named_parameters())


def test_conversion_keeps_the_state_dict(tmp_path):
    base = four_bit_base()
    before = base.model.state_dict()
    accelerate(base.model)
    after = base.model.state_dict()
    assert list(after) == list(before)
    assert all(torch.equal(after[k], before[k]) for k in before)


def test_dtype_int4_loads_a_four_bit_model_and_refuses_another(tmp_path):
    four_bit, plain = tmp_path / "four-bit", tmp_path / "plain"
    for base, where in ((four_bit_base(), four_bit), (tiny_base(), plain)):
        base.model.save_pretrained(where)
        base.tokenizer.save_pretrained(where)
    loaded = load_base(str(four_bit), cache_dir=tmp_path / "cache", dtype="int4")
    assert isinstance(loaded.model.model.layers[0].self_attn, Int4LlamaAttention)
    assert loaded.dtype == torch.float32
    with pytest.raises(EylaError, match="dtype int4 needs"):
        load_base(str(plain), cache_dir=tmp_path / "cache", dtype="int4")


def test_a_step_that_gradients_flow_through_runs_float32():
    """The 4-bit kernels have no backward: training one position still gets gradients."""
    reference, fast = trained_eyla(four_bit_base()), trained_eyla(four_bit_base())
    accelerate(fast.base.model)
    token = token_ids(1)
    grads = []
    for eyla in (reference, fast):
        eyla(input_ids=token).logits.square().mean().backward()
        grads.append([p.grad.clone() for p in eyla.subsystems["adapter"].parameters()])
    assert all(torch.equal(a, b) for a, b in zip(*grads, strict=True))
    assert any(g.abs().sum() > 0 for g in grads[1])


def test_batched_decoding_with_padded_rows_runs_four_bit_too():
    """`eyla train evaluate` and calibration decode many left-padded rows at once: their
    steps take the 4-bit path as well, and give float32's replies."""
    from eyla.config import DecodingConfig
    from eyla.training.calibration_generate import generate

    prompts = {f"p{i}": token_ids(6 + 3 * (i % 3), seed=i)[0].tolist() for i in range(6)}
    cfg = DecodingConfig(max_new_tokens=10, temperature=0.0, repetition_penalty=1.0)
    replies: dict[str, dict[str, list[float]]] = {}
    rows_seen: list[int] = []
    for name in ("float32", "int4"):
        eyla = trained_eyla(four_bit_base())
        if name == "int4":
            accelerate(eyla.base.model)
            qkv = eyla.base.model.model.layers[0].self_attn.qkv
            qkv.register_forward_hook(lambda _m, args, _o: rows_seen.append(args[0].shape[0]))
        head = eyla.subsystems["uncertainty"]
        done: dict[str, list[float]] = {}
        generate(eyla, head, prompts, cfg, 4, lambda g, d=done: d.__setitem__(g.key, g.hidden))
        replies[name] = done
    assert max(rows_seen) > 1, "steps of several rows ran the 4-bit path"
    for key in prompts:
        torch.testing.assert_close(
            replies["int4"][key], replies["float32"][key], rtol=0.02, atol=0.02
        )


def test_a_block_step_gives_what_llamas_own_block_gives_its_hooks_included():
    """One-token steps run each block without calling it or its attention, running their
    forward hooks themselves: the subsystems' (every kind is attached) and anyone else's,
    with the arguments a module call gives them and the same logits as Llama's own block
    code, which a hook inside a block falls back to."""
    fast = trained_eyla(four_bit_base())
    accelerate(fast.base.model)
    layers = fast.base.model.model.layers
    seen: list[str] = []

    def once(module, args, output):
        seen.append("once")
        handles["once"].remove()

    handles = {"once": layers[0].register_forward_hook(once)}
    layers[1].register_forward_hook(lambda *_: seen.append("block"))
    positions: list[int] = []
    layers[2].self_attn.register_forward_hook(
        lambda module, args, kwargs, output: positions.append(int(kwargs["position_ids"][0, -1])),
        with_kwargs=True,
    )
    prompt, forced = token_ids(10), token_ids(STEPS, seed=4)[0].tolist()
    assert all(layer.runs_own_hooks() for layer in layers)
    stepped = step_logits(fast, prompt, forced)
    assert seen.count("once") == 1 and seen.count("block") == 1 + STEPS
    assert positions == list(range(9, 10 + STEPS)), "the prompt's last position, then each step"
    for layer in layers:  # a hook inside each block: Llama's forward, every module called
        layer.post_attention_layernorm.register_forward_hook(lambda *_: None)
    assert not any(layer.runs_own_hooks() for layer in layers)
    assert torch.equal(step_logits(fast, prompt, forced), stepped)


def test_a_pre_hook_sends_the_step_through_module_calls():
    fast = trained_eyla(four_bit_base())
    accelerate(fast.base.model)
    layer = fast.base.model.model.layers[0]
    assert layer.runs_own_hooks()
    calls: list[int] = []
    layer.self_attn.register_forward_pre_hook(lambda *_: calls.append(1))
    assert not layer.runs_own_hooks()
    step_logits(fast, token_ids(6), token_ids(3, seed=5)[0].tolist())
    assert len(calls) == 1 + 3


def test_hooks_inside_a_block_still_run_in_a_step():
    fast = trained_eyla(four_bit_base())
    accelerate(fast.base.model)
    layer = fast.base.model.model.layers[0]
    calls: list[str] = []
    layer.self_attn.o_proj.register_forward_hook(lambda *_: calls.append("o_proj"))
    layer.mlp.down_proj.register_forward_hook(lambda *_: calls.append("down_proj"))
    step_logits(fast, token_ids(6), token_ids(3, seed=6)[0].tolist())
    assert calls.count("o_proj") == calls.count("down_proj") == 1 + 3

"""Fresh subsystems are exact no-ops, yet their zero factors learn from the first step."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from transformers import DynamicCache

from models.adapter import Adapter
from models.eyla_model import EylaModel
from models.prefix import IdentityPrefix
from models.ssm import SSMSidecar
from tests.models.util import logits, make_nonzero, token_ids, with_defaults
from tests.tiny import tiny_base

KINDS = [Adapter, IdentityPrefix, SSMSidecar]


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_fresh_subsystems_leave_logits_bit_identical(dtype):
    base = tiny_base()
    base.model.to(dtype)
    ids = token_ids(24)
    bare = logits(base.model, ids)
    bare_steps = decode(base.model, ids, DynamicCache())
    eyla = with_defaults(base)
    assert torch.equal(logits(eyla, ids), bare)
    steps = decode(eyla, ids, eyla.new_cache())
    assert all(torch.equal(a, b) for a, b in zip(steps, bare_steps, strict=True))


def decode(model, ids: torch.Tensor, cache) -> list[torch.Tensor]:
    """Logits of a 20-token prefill, then of each remaining token fed alone."""
    with torch.no_grad():
        chunks = [ids[:, :20]] + [ids[:, i : i + 1] for i in range(20, ids.shape[1])]
        return [model(input_ids=chunk, cache=cache, use_cache=True).logits for chunk in chunks]


def test_first_training_step_gives_every_zero_factor_a_gradient(base):
    eyla = with_defaults(base)
    ids = token_ids(16)
    out = eyla(ids).logits
    loss = F.cross_entropy(out[0, :-1], ids[0, 1:])
    loss.backward()
    # the uncertainty head never changes the output, so the language-model loss cannot
    # train it; `eyla train calibration` fits it on its own labels
    gated = [sub for sub in eyla.subsystems.neural() if sub.gates() and sub.kind != "uncertainty"]
    assert [sub.kind for sub in gated] == ["adapter", "prefix", "ssm"]
    for sub in gated:
        for gate in sub.gates():
            assert gate.grad is not None and gate.grad.abs().sum() > 0, sub.name
    # behind a zero factor the other weights get no gradient yet: that is what the gate's
    # own gradient has to fix, and why the factor in front of it is random, not zero
    adapter = eyla.subsystems["adapter"]
    assert all(block.down.weight.grad.abs().sum() == 0 for block in adapter.blocks.values())


def test_one_optimiser_step_moves_the_output(base):
    eyla = with_defaults(base)
    ids = token_ids(16)
    before = logits(eyla, ids)
    optimizer = torch.optim.AdamW(eyla.param_groups(lr=1e-2, weight_decay=0.0))
    loss = F.cross_entropy(eyla(ids).logits[0, :-1], ids[0, 1:])
    loss.backward()
    optimizer.step()
    assert not torch.equal(logits(eyla, ids), before)


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_with_nonzero_gates_changes_the_output(base, kind):
    ids = token_ids(16)
    bare = logits(base.model, ids)
    eyla = EylaModel(base)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        eyla.add(kind(base, layers=[1, 3]))
    assert torch.equal(logits(eyla, ids), bare)
    make_nonzero(eyla)
    changed = logits(eyla, ids)
    assert (changed - bare).abs().max() > 1e-3
    assert torch.isfinite(changed).all()

"""Inference-time reuse of parameter-derived values never serves a stale value."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from models.eyla_model import EylaModel
from models.memo import InferenceMemo
from models.prefix import IdentityPrefix
from models.ssm import SSMSidecar
from tests.models.util import logits, make_nonzero, token_ids


def test_memo_recomputes_after_in_place_change_replacement_or_with_grad():
    calls = []
    weight = torch.nn.Parameter(torch.ones(3))
    memo: InferenceMemo[torch.Tensor] = InferenceMemo()

    def compute() -> torch.Tensor:
        calls.append(1)
        return weight * 2

    with torch.no_grad():
        memo.get([weight], compute)
        memo.get([weight], compute)
        assert len(calls) == 1
        weight.add_(1)
        assert torch.equal(memo.get([weight], compute), torch.full((3,), 4.0))
        weight = torch.nn.Parameter(torch.zeros(3))
        assert torch.equal(memo.get([weight], compute), torch.zeros(3))
    assert memo.get([weight], compute).requires_grad
    assert len(calls) == 4


def test_inference_forward_after_an_optimiser_step_uses_the_new_parameters(base):
    eyla = EylaModel(base)
    eyla.add(IdentityPrefix(base, layers=[1]))
    eyla.add(SSMSidecar(base, layers=[2]))
    make_nonzero(eyla)
    ids = token_ids(12)
    logits(eyla, ids)  # fills the memos
    optimizer = torch.optim.SGD(eyla.param_groups(lr=0.5, weight_decay=0.0))
    F.cross_entropy(eyla(ids).logits[0, :-1], ids[0, 1:]).backward()
    optimizer.step()
    with torch.inference_mode():
        after = eyla(input_ids=ids).logits
    with torch.enable_grad():
        fresh = eyla(ids).logits.detach()
    assert torch.equal(after, fresh)


def test_subsystems_built_in_inference_mode_still_run(base):
    ids = token_ids(8)
    with torch.inference_mode():
        eyla = EylaModel(base)
        eyla.add(IdentityPrefix(base, layers=[1]))
        eyla.add(SSMSidecar(base, layers=[2]))
        assert torch.equal(eyla(input_ids=ids).logits, base.model(input_ids=ids).logits)

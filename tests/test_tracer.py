"""Per-reply subsystem contributions, on a tiny Llama."""

from __future__ import annotations

import torch

from models.tracer import kl_per_token, reply_contributions
from tests.models.util import make_nonzero, with_defaults
from tests.tiny import tiny_base

MESSAGES = [{"role": "user", "content": "Who are you?"}]
REPLY = "I am Eyla, an identity-anchored assistant."


def test_fresh_subsystems_contribute_exactly_nothing():
    eyla = with_defaults(tiny_base())
    contributions = reply_contributions(eyla, MESSAGES, REPLY)
    assert set(contributions) == {s.name for s in eyla.subsystems.neural()}
    assert all(value == 0.0 for value in contributions.values())


def test_a_trained_subsystem_shows_up_and_an_untouched_one_does_not():
    eyla = with_defaults(tiny_base())
    make_nonzero(eyla)
    adapter = eyla.subsystems["adapter"]
    with torch.no_grad():
        for gate in eyla.subsystems["prefix"].gates():
            gate.zero_()
    contributions = reply_contributions(eyla, MESSAGES, REPLY)
    assert contributions[adapter.name] > 1e-4
    assert contributions["prefix"] == 0.0


def test_kl_is_zero_for_identical_and_positive_for_different_distributions():
    p = torch.log_softmax(torch.tensor([[2.0, 0.0, -1.0]]), dim=-1)
    q = torch.log_softmax(torch.tensor([[0.0, 2.0, -1.0]]), dim=-1)
    assert kl_per_token(p, p).item() == 0.0
    assert kl_per_token(p, q).item() > 0.5

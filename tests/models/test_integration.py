"""Fresh subsystems on the embedded SmolLM2-135M model (bf16) are exact no-ops."""

from __future__ import annotations

import pytest
import torch
from transformers import DynamicCache

from models.eyla_model import EylaModel, default_subsystems
from models.generate import encode_chat

pytestmark = pytest.mark.integration

MESSAGES = [
    {"role": "system", "content": "You are Eyla, an identity-anchored assistant."},
    {"role": "user", "content": "Who are you, and what do you value most?"},
]


def prefill_and_steps(model, ids: torch.Tensor, steps: int) -> list[torch.Tensor]:
    """Logits of the prompt, then of `steps` greedy tokens fed back one at a time."""
    cache = DynamicCache()
    out = model(input_ids=ids, cache=cache, use_cache=True).logits
    outputs = [out]
    for _ in range(steps):
        token = out[:, -1:].argmax(-1)
        out = model(input_ids=token, cache=cache, use_cache=True).logits
        outputs.append(out)
    return outputs


@torch.inference_mode()
def test_fresh_subsystems_are_bit_identical_on_the_embedded_model(embedded_base):
    ids = encode_chat(embedded_base.tokenizer, MESSAGES, 512).input_ids
    bare = prefill_and_steps(embedded_base.model, ids, 8)
    eyla = EylaModel(embedded_base)
    subsystems = default_subsystems(embedded_base)
    try:
        for subsystem in subsystems:
            eyla.add(subsystem)
        assert [s.layers for s in subsystems[:3]] == [
            [2, 7, 12, 17, 22, 27],
            list(range(22, 30)),
            [3, 11, 18, 26],
        ]
        ours = prefill_and_steps(eyla, ids, 8)
    finally:
        # the base is shared by the whole session: leave it without hooks
        for name in eyla.subsystems.names:
            eyla.subsystems.remove(name)
    assert all(torch.equal(a, b) for a, b in zip(ours, bare, strict=True))

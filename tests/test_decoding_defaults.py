"""The default decoding settings are a measured choice (benchmarks/decoding.py): on prompts
where plain greedy decoding falls into a loop on the embedded model, the defaults do not."""

from __future__ import annotations

import pytest

from benchmarks.decoding import loops
from eyla.config import DecodingConfig
from models.eyla_model import EylaModel

LOOPING_UNDER_GREEDY = ["Tell me about yourself.", "Describe your ideal day."]


@pytest.mark.integration
@pytest.mark.parametrize("prompt", LOOPING_UNDER_GREEDY)
def test_defaults_do_not_loop_where_greedy_does(embedded_base, prompt):
    model = EylaModel(embedded_base)
    messages = [{"role": "user", "content": prompt}]
    greedy = DecodingConfig(temperature=0.0, repetition_penalty=1.0, max_new_tokens=120)
    assert loops("".join(model.stream(messages, greedy))), "the test needs a looping prompt"
    default = DecodingConfig(max_new_tokens=120)
    reply = "".join(model.stream(messages, default))
    assert reply.strip()
    assert not loops(reply)

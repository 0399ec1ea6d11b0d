"""The default decoding settings are a measured choice (benchmarks/decoding.py): where plain
greedy decoding falls into a loop on the embedded model, the defaults do not.

Which prompts loop under greedy decoding depends on the CPU's float rounding, so the test
counts loops over several open-ended prompts instead of relying on any one of them."""

from __future__ import annotations

import pytest

from benchmarks.decoding import loops
from eyla.config import DecodingConfig
from models.eyla_model import EylaModel

OPEN_ENDED = [
    "Tell me about yourself.",
    "Describe your ideal day.",
    "Write about the sea.",
    "What do you like?",
]


@pytest.mark.integration
def test_defaults_loop_less_than_greedy(embedded_base):
    model = EylaModel(embedded_base)
    greedy = DecodingConfig(temperature=0.0, repetition_penalty=1.0, max_new_tokens=120)
    default = DecodingConfig(max_new_tokens=120)
    greedy_loops = default_loops = 0
    for prompt in OPEN_ENDED:
        messages = [{"role": "user", "content": prompt}]
        greedy_loops += loops("".join(model.stream(messages, greedy)))
        reply = "".join(model.stream(messages, default))
        assert reply.strip(), prompt
        default_loops += loops(reply)
    assert default_loops <= 1, f"defaults looped on {default_loops} of {len(OPEN_ENDED)}"
    assert default_loops <= greedy_loops

"""int4 on the embedded model, shipped set on: the same greedy answers as float32, with a
margin (bfloat16 rounding may flip a near-tie on some CPU, never most answers)."""

from __future__ import annotations

import pytest
import torch

from eyla.config import DecodingConfig
from models.eyla_model import EylaModel, attach_default_set
from models.generate import encode_chat, stream_token_ids
from models.int4 import Int4LlamaAttention, ShortlistHead
from models.loading import load_base
from tests.conftest import TEST_CACHE

pytestmark = pytest.mark.integration

QUESTIONS = [
    "What is the capital of Australia?",
    "Who are you?",
    "Give me three tips for sleeping better.",
    "What is 17 times 23?",
    "Write a haiku about rain.",
    "My cat is called Biscuit. Can you suggest a name for my new dog?",
    "Explain photosynthesis simply.",
    "What should I pack for a weekend hike?",
]
GREEDY = DecodingConfig(max_new_tokens=24, temperature=0.0, repetition_penalty=1.0)


def shipped(dtype: str) -> EylaModel:
    eyla = EylaModel(load_base("embedded", cache_dir=TEST_CACHE, dtype=dtype))
    attach_default_set(eyla)
    assert eyla.trained_set is not None
    return eyla


def answers(eyla: EylaModel) -> list[list[int]]:
    out = []
    for question in QUESTIONS:
        ids = encode_chat(eyla.tokenizer, [{"role": "user", "content": question}], 512).input_ids
        out.append(list(stream_token_ids(eyla, ids, GREEDY, eos_ids=set())))
    return out


@torch.inference_mode()
def test_int4_gives_float32s_greedy_answers_with_every_subsystem_on():
    fast = shipped("int4")
    assert isinstance(fast.base.model.model.layers[0].self_attn, Int4LlamaAttention)
    assert isinstance(fast.base.model.lm_head, ShortlistHead)
    reference = shipped("float32")
    same = sum(a == b for a, b in zip(answers(fast), answers(reference), strict=True))
    assert same >= len(QUESTIONS) - 2, f"{same} of {len(QUESTIONS)} greedy answers agree"

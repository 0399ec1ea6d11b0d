"""The decode loop, prompt budgeting and incremental detokenisation, on a tiny Llama."""

from __future__ import annotations

import threading

import pytest
import torch

from eyla.config import DecodingConfig
from eyla.errors import EylaError
from models.generate import TextAssembler, encode_chat, sample_next, stream_token_ids
from tests.tiny import tiny_base

GREEDY = DecodingConfig(temperature=0.0, repetition_penalty=1.0, max_new_tokens=12)


@pytest.fixture(scope="module")
def base():
    return tiny_base()


def prompt_ids(base, text: str = "Who are you?") -> torch.Tensor:
    return encode_chat(base.tokenizer, [{"role": "user", "content": text}], 200).input_ids


def test_greedy_loop_matches_transformers_generate(base):
    ids = prompt_ids(base)
    ours = list(stream_token_ids(base.model, ids, GREEDY, eos_ids=set()))
    reference = base.model.generate(
        ids, max_new_tokens=12, min_new_tokens=12, do_sample=False, pad_token_id=0
    )[0, ids.shape[1] :].tolist()
    assert ours == reference


def test_stops_at_max_new_tokens_and_at_eos(base):
    ids = prompt_ids(base)
    cfg = DecodingConfig(temperature=1.5, top_p=1.0, max_new_tokens=12, seed=3)
    tokens = list(stream_token_ids(base.model, ids, cfg, eos_ids=set()))
    assert len(tokens) == cfg.max_new_tokens
    # Declaring a later token end-of-sequence stops the (seeded) stream right before it.
    cut = next(i for i, t in enumerate(tokens) if i and t not in tokens[:i])
    stopped = list(stream_token_ids(base.model, ids, cfg, eos_ids={tokens[cut]}))
    assert stopped == tokens[:cut]


def test_cancel_stops_mid_stream(base):
    cancel = threading.Event()
    got = []
    for token in stream_token_ids(base.model, prompt_ids(base), GREEDY, set(), cancel):
        got.append(token)
        if len(got) == 2:
            cancel.set()
    assert len(got) == 2


def test_sampling_is_reproducible_with_a_seed_and_varies_without(base):
    cfg = DecodingConfig(temperature=1.5, top_p=1.0, max_new_tokens=20, seed=7)
    ids = prompt_ids(base)
    first = list(stream_token_ids(base.model, ids, cfg, set()))
    assert first == list(stream_token_ids(base.model, ids, cfg, set()))
    other = cfg.model_copy(update={"seed": 8})
    assert first != list(stream_token_ids(base.model, ids, other, set()))


def test_repetition_penalty_demotes_tokens_already_generated():
    logits = torch.tensor([2.0, 1.9, 0.0])
    cfg = DecodingConfig(temperature=0.0, repetition_penalty=1.2)
    assert sample_next(logits.clone(), [], cfg, None) == 0
    assert sample_next(logits.clone(), [0], cfg, None) == 1


def test_top_p_keeps_only_the_nucleus():
    logits = torch.tensor([5.0, 0.0, 0.0, 0.0])  # token 0 holds ~95% of the mass
    cfg = DecodingConfig(temperature=1.0, top_p=0.5, repetition_penalty=1.0)
    rng = torch.Generator().manual_seed(0)
    assert {sample_next(logits.clone(), [], cfg, rng) for _ in range(50)} == {0}


def test_long_history_drops_oldest_messages_but_keeps_system(base):
    tok = base.tokenizer
    history = [{"role": "system", "content": "You are Eyla."}]
    for i in range(30):
        history.append({"role": "user", "content": f"message {i} about the quick brown fox"})
    prompt = encode_chat(tok, history, 150)
    text = tok.decode(prompt.input_ids[0])
    assert prompt.input_ids.shape[1] <= 150
    assert "You are Eyla." in text
    assert "message 29" in text and "message 0 " not in text
    assert prompt.notice and "dropped" in prompt.notice


def test_single_oversized_message_is_cut_from_the_start(base):
    tok = base.tokenizer
    text = " ".join(f"w{i}" for i in range(2000)) + " THE END"
    prompt = encode_chat(tok, [{"role": "user", "content": text}], 120)
    kept = tok.decode(prompt.input_ids[0])
    assert prompt.input_ids.shape[1] <= 120
    assert "THE END" in kept and "w0 " not in kept
    assert prompt.notice


def test_empty_prompt_is_refused(base):
    with pytest.raises(EylaError, match="empty"):
        encode_chat(base.tokenizer, [{"role": "user", "content": "   "}], 100)


def test_text_assembler_never_emits_half_a_character(base):
    tok = base.tokenizer
    text = "Eyla 🦊 naïve café"
    ids = tok(text, add_special_tokens=False)["input_ids"]
    assembler = TextAssembler(tok)
    pieces = [assembler.push(i) for i in ids]
    assert "".join(pieces) == text
    assert not any("\ufffd" in p for p in pieces)

"""The decode loop, prompt budgeting and incremental detokenisation, on a tiny Llama."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from eyla.config import DecodingConfig
from eyla.errors import EylaError
from models.generate import (
    Message,
    TextAssembler,
    encode_chat,
    fit_history,
    nucleus,
    render_chat,
    sample_next,
    stream_token_ids,
)
from tests.tiny import CHATML, tiny_base, tiny_tokenizer

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


def one_render_per_drop(tok, messages: Sequence[Message], max_tokens: int) -> list[int]:
    """The truncation `encode_chat` did before: drop the oldest non-system message and
    render everything again, until it fits; then cut the start of the last one left."""
    if not any(m["content"].strip() for m in messages):
        raise EylaError("empty prompt")
    kept = list(messages)
    ids = render_chat(tok, kept, generation_prompt=True)
    droppable = [i for i, m in enumerate(kept) if m["role"] != "system"]
    while len(ids) > max_tokens and len(droppable) > 1:
        kept.pop(droppable[0])
        droppable = [i for i, m in enumerate(kept) if m["role"] != "system"]
        ids = render_chat(tok, kept, generation_prompt=True)
    if len(ids) > max_tokens and not droppable:
        raise EylaError("system messages alone")  # it used to end in a StopIteration here
    if len(ids) > max_tokens:
        content = tok(kept[droppable[0]]["content"], add_special_tokens=False)["input_ids"]
        rest = content[len(ids) - max_tokens + 8 :]
        if not rest:
            raise EylaError("no room")
        kept[droppable[0]] = dict(kept[droppable[0]], content=tok.decode(rest))
        ids = render_chat(tok, kept, generation_prompt=True)
    if len(ids) > max_tokens:
        raise EylaError("no fit")
    return ids


WORDS = ["fox", "Paris", "dog", "Eyla", "café", "0123", "🦊", "is", "the", "\n", "über"]
chats = st.lists(
    st.tuples(
        st.sampled_from(["system", *["user", "assistant"] * 4]),
        st.lists(st.sampled_from(WORDS), min_size=1, max_size=60).map(" ".join),
    ),
    min_size=1,
    max_size=25,
).map(lambda pairs: [{"role": role, "content": text} for role, text in pairs])


# Adds a default system message and marks the last message, as some templates do: how a
# message renders then depends on the messages around it.
CONTEXTUAL = (
    "{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a fox.<|im_end|>\n' }}{% endif %}"
    "{% if loop.last %}{{ 'Last: ' }}{% endif %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


@pytest.fixture(scope="module", params=[CHATML, CONTEXTUAL], ids=["chatml", "contextual"])
def templated(request):
    tok = tiny_tokenizer()
    tok.chat_template = request.param
    return tok


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(messages=chats, share=st.floats(0.0, 1.2))
def test_one_pass_truncation_keeps_what_rendering_after_every_drop_kept(templated, messages, share):
    whole = render_chat(templated, messages, generation_prompt=True)
    max_tokens = 1 + int(share * len(whole))
    try:
        expected = one_render_per_drop(templated, messages, max_tokens)
    except EylaError:
        with pytest.raises(EylaError):
            encode_chat(templated, messages, max_tokens)
        return
    prompt = encode_chat(templated, messages, max_tokens)
    ids = prompt.input_ids[0].tolist()
    assert len(ids) <= max_tokens
    assert (prompt.notice is None) == (ids == whole)
    if templated.chat_template == CHATML:
        assert ids == expected
    else:  # each message was measured as the last, its extras counted: never more is kept
        assert len(ids) <= len(expected)


@pytest.mark.parametrize("max_tokens", [150, 100_000])
def test_truncation_renders_each_message_a_bounded_number_of_times(base, monkeypatch, max_tokens):
    tok = base.tokenizer
    history = [{"role": "system", "content": "You are Eyla."}]
    history += [{"role": "user", "content": f"message {i} about the fox"} for i in range(200)]
    rendered: list[int] = []  # messages in each render
    template = tok.apply_chat_template

    def counting(conversation, **kwargs):
        rendered.append(len(conversation))
        return template(conversation, **kwargs)

    monkeypatch.setattr(tok, "apply_chat_template", counting)
    encode_chat(tok, history, max_tokens)
    assert sum(rendered) <= 4 * len(history)
    rendered.clear()
    one_render_per_drop(tok, history, max_tokens)
    if max_tokens < 1000:  # the old way renders the remaining history after every drop
        assert sum(rendered) > 50 * len(history)


def test_fit_history_keeps_the_newest_messages_within_the_budget(base):
    tok = base.tokenizer
    system = {"role": "system", "content": "You are Eyla. " * 20}
    history = [{"role": "user", "content": f"message {i} about the fox"} for i in range(10)]

    def cost(message: Message) -> int:
        with_it = render_chat(tok, [system, message], generation_prompt=False)
        return len(with_it) - len(render_chat(tok, [system], generation_prompt=False))

    newest_three = sum(cost(m) for m in history[-3:])
    assert fit_history(tok, [system, *history], newest_three) == [system, *history[-3:]]
    assert fit_history(tok, [system, *history], newest_three - 1) == [system, *history[-2:]]
    # the newest message stays, however far over; the system message never counts
    assert fit_history(tok, [system, *history], 0) == [system, history[-1]]


def test_system_messages_over_the_budget_are_a_clear_error(base):
    messages = [
        {"role": "system", "content": "You are Eyla. " * 50},
        {"role": "user", "content": "Hi"},
    ]
    with pytest.raises(EylaError, match="system messages alone take"):
        encode_chat(base.tokenizer, messages, 40)


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


def full_sort_nucleus(probs: torch.Tensor, top_p: float) -> torch.Tensor:
    """Top-p as it reads in the literature: sort the whole vocabulary."""
    ranked, order = probs.sort(descending=True)
    ranked[ranked.cumsum(-1) - ranked >= top_p] = 0.0
    return torch.zeros_like(probs).scatter_(0, order, ranked)


@pytest.mark.parametrize("temperature", [0.3, 1.0, 5.0])
@pytest.mark.parametrize("top_p", [0.5, 0.9, 0.999])
def test_the_nucleus_equals_a_full_sort_whether_or_not_it_fits_the_candidates(temperature, top_p):
    """Peaked or flat (a nucleus of thousands of tokens): the same kept set, the same mass."""
    generator = torch.Generator().manual_seed(0)
    for _ in range(5):
        logits = torch.randn(49152, generator=generator) * 4
        probs = torch.softmax(logits / temperature, dim=-1)
        assert torch.equal(nucleus(probs, top_p), full_sort_nucleus(probs, top_p))

"""A conversation's next turn resumes its last prompt's cache and answers as a fresh prefill."""

from __future__ import annotations

import pytest
import torch

from eyla.config import DecodingConfig
from models.eyla_model import EylaModel, Reply
from models.prompt_reuse import ConversationCache
from tests.models.util import make_nonzero, with_defaults

GREEDY = DecodingConfig(temperature=0.0, repetition_penalty=1.0, max_new_tokens=12)
SYSTEM = {"role": "system", "content": "You are Eyla."}
FIRST = [SYSTEM, {"role": "user", "content": "Who are you? What is the capital of France?"}]


def answer(
    eyla: EylaModel, messages: list[dict[str, str]], conversation: ConversationCache | None
) -> Reply:
    reply = Reply()
    "".join(eyla.stream(messages, GREEDY, reply=reply, conversation=conversation))
    return reply


def next_turn(messages: list[dict[str, str]], reply: str, text: str) -> list[dict[str, str]]:
    return [
        *messages,
        {"role": "assistant", "content": reply},
        {"role": "user", "content": text},
    ]


def length(eyla: EylaModel, messages: list[dict[str, str]]) -> int:
    return len(eyla.prompt(messages, GREEDY.max_new_tokens).input_ids[0])


@pytest.fixture
def eyla(base) -> EylaModel:
    model = with_defaults(base)
    make_nonzero(model)  # the SSM state then matters: a wrong one changes the answer
    return model


def test_each_turn_prefills_only_what_the_last_prompt_did_not_hold_and_answers_as_afresh(eyla):
    conversation = ConversationCache()
    reply = answer(eyla, FIRST, conversation)
    assert reply.reused == 0 and reply.n_tokens > 0
    messages = FIRST
    for text in ["My dog is called Pixel.", "What is my dog called?", "Thanks!"]:
        last = length(eyla, messages)
        messages = next_turn(messages, reply.text, text)
        reply = answer(eyla, messages, conversation)
        fresh = answer(eyla, messages, None)
        assert reply.reused == last and fresh.reused == 0
        assert reply.text == fresh.text and reply.n_tokens == fresh.n_tokens
        # the state a resumed turn reads is the one a fresh prefill of its prompt reaches
        assert all(
            torch.allclose(state, fresh_state, atol=1e-5)
            for state, fresh_state in zip(
                conversation.ssm.values(), _prompt_state(eyla, messages).values(), strict=True
            )
        )


def _prompt_state(eyla: EylaModel, messages: list[dict[str, str]]) -> dict[str, torch.Tensor]:
    other = ConversationCache()
    stream = eyla.stream(messages, GREEDY, conversation=other)
    next(stream)
    stream.close()
    assert other.ssm is not None
    return other.ssm


def test_other_memories_or_switched_subsystems_start_afresh(eyla):
    conversation = ConversationCache()
    first = answer(eyla, FIRST, conversation)
    following = next_turn(FIRST, first.text, "And Germany?")
    recalled = {"role": "system", "content": "You are Eyla.\n\nNotes: the user likes maps."}
    other_system = [recalled, *following[1:]]
    resumed = answer(eyla, other_system, conversation)
    assert resumed.reused == 0
    assert resumed.text == answer(eyla, other_system, None).text
    # a prompt that would resume, but with the side-car switched since: afresh, both ways
    later = next_turn(other_system, resumed.text, "And Spain?")
    with eyla.off("ssm"):
        switched = answer(eyla, later, conversation)
        assert switched.reused == 0
        assert switched.text == answer(eyla, later, None).text
    last = next_turn(later, switched.text, "And Italy?")
    assert answer(eyla, last, conversation).reused == 0


def test_a_reader_that_stops_early_leaves_a_cache_the_next_turn_resumes(eyla):
    conversation = ConversationCache()
    reply = Reply()
    stream = eyla.stream(FIRST, GREEDY, reply=reply, conversation=conversation)
    while reply.n_tokens < 3:
        next(stream)
    stream.close()
    following = next_turn(FIRST, reply.text, "And Germany?")
    resumed = answer(eyla, following, conversation)
    assert resumed.reused == length(eyla, FIRST)
    assert resumed.text == answer(eyla, following, None).text


def test_the_same_prompt_again_or_a_failed_forward_starts_afresh(eyla, monkeypatch):
    conversation = ConversationCache()
    first = answer(eyla, FIRST, conversation)
    again = answer(eyla, FIRST, conversation)  # its last token must be prefilled again
    assert again.reused == 0 and again.text == first.text
    following = next_turn(FIRST, first.text, "And Germany?")
    calls = 0
    forward = EylaModel.__call__

    def failing(self, *args, **kwargs):
        nonlocal calls
        calls += 1
        if calls == 3:
            raise RuntimeError("out of memory")
        return forward(self, *args, **kwargs)

    monkeypatch.setattr(EylaModel, "__call__", failing)
    with pytest.raises(RuntimeError):
        answer(eyla, following, conversation)
    monkeypatch.setattr(EylaModel, "__call__", forward)
    # nothing is resumed from a cache a forward may have left half written
    assert answer(eyla, next_turn(following, "Berlin.", "Thanks!"), conversation).reused == 0

"""A conversation's next turn resumes its last cache and answers exactly as a fresh prefill."""

from __future__ import annotations

import pytest

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


@pytest.fixture
def eyla(base) -> EylaModel:
    model = with_defaults(base)
    make_nonzero(model)  # the SSM state then matters: a wrong one changes the answer
    return model


def test_each_turn_prefills_only_what_the_last_did_not_and_answers_as_afresh(eyla):
    conversation = ConversationCache()
    first = answer(eyla, FIRST, conversation)
    assert first.reused == 0 and first.n_tokens > 0
    messages = FIRST
    prompt_length = len(eyla.prompt(FIRST, GREEDY.max_new_tokens).input_ids[0])
    for text in ["My dog is called Pixel.", "What is my dog called?", "Thanks!"]:
        messages = next_turn(messages, first.text, text)
        resumed = answer(eyla, messages, conversation)
        fresh = answer(eyla, messages, None)
        assert resumed.text == fresh.text and resumed.n_tokens == fresh.n_tokens
        assert fresh.reused == 0
        # at least the last prompt came from the cache, not the prefill
        assert resumed.reused >= prompt_length
        prompt_length = len(eyla.prompt(messages, GREEDY.max_new_tokens).input_ids[0])
        first = resumed


def test_another_system_message_or_switched_subsystems_start_afresh(eyla):
    conversation = ConversationCache()
    first = answer(eyla, FIRST, conversation)
    following = next_turn(FIRST, first.text, "And Germany?")
    other_system = [{"role": "system", "content": "You are Eyla. Be brief."}, *following[1:]]
    resumed = answer(eyla, other_system, conversation)
    assert resumed.reused == 0
    assert resumed.text == answer(eyla, other_system, None).text
    with eyla.off("ssm"):
        switched = answer(eyla, other_system, conversation)
        assert switched.reused == 0
        assert switched.text == answer(eyla, other_system, None).text
    # back on: the cache made with the side-car off is not resumed either
    assert answer(eyla, other_system, conversation).reused == 0


def test_a_reader_that_stops_early_leaves_a_cache_the_next_turn_resumes(eyla):
    conversation = ConversationCache()
    reply = Reply()
    stream = eyla.stream(FIRST, GREEDY, reply=reply, conversation=conversation)
    while reply.n_tokens < 3:
        next(stream)
    stream.close()
    # the prompt and the first two tokens: the third was read, never fed
    held = len(conversation.held())
    assert held == len(eyla.prompt(FIRST, GREEDY.max_new_tokens).input_ids[0]) + 2
    following = next_turn(FIRST, reply.text, "And Germany?")
    resumed = answer(eyla, following, conversation)
    assert 0 < resumed.reused <= held
    assert resumed.text == answer(eyla, following, None).text


def test_the_same_prompt_again_starts_afresh(eyla):
    """The state is known only where a forward ended, and the last prompt token must be
    prefilled again for its logits: nothing before it was a checkpoint."""
    conversation = ConversationCache()
    first = answer(eyla, FIRST, conversation)
    again = answer(eyla, FIRST, conversation)
    assert again.reused == 0 and again.text == first.text

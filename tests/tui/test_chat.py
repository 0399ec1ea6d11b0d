"""The chat driven through Textual's pilot, over a fake streaming model."""

from __future__ import annotations

import threading

import pytest
import torch
from textual.widgets import Input

from memory.store import MemoryStore
from tests.fakes import CONTRIBUTIONS, HashingEmbedder, ScriptedModel, fake_contributions
from tests.tui.helpers import make_agent, make_app, notes, ready, replies, send, shown, until
from tui.chat_screen import BUSY, ChatScreen
from tui.conversation import ChatView, UserMessage
from tui.panel import ConfidenceGauge, ContributionBars, MemoryList

pytestmark = pytest.mark.anyio


async def test_a_reply_streams_in_word_by_word(store):
    model = ScriptedModel(["Hello there. I am Eyla. How can I help?"], gated=True)
    app = make_app(make_agent(model, store, confidence=0.72))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await ready(pilot)
        await send(pilot, "Hi Eyla")
        assert [m.content for m in screen.query(UserMessage)] == ["Hi Eyla"]
        model.release(1)
        # the first word is on screen before its sentence is over
        await until(pilot, lambda: replies(screen) == ["Hello "])
        model.release(1)
        await until(pilot, lambda: replies(screen) == ["Hello there. "])
        model.release(3)
        await until(pilot, lambda: replies(screen) == ["Hello there. I am Eyla. "])
        model.release(4)
        await until(pilot, lambda: not screen.answering)
        assert replies(screen)[0].strip() == "Hello there. I am Eyla. How can I help?"
        assert screen.query_one(ConfidenceGauge).confidence == 0.72
        await until(pilot, lambda: screen.query_one(ContributionBars).values == CONTRIBUTIONS)


async def test_a_sentence_the_guard_drops_is_taken_back_off_the_screen(store):
    model = ScriptedModel(["Paris is in France. I am ChatGPT. It is lovely."], gated=True)
    agent = make_agent(model, store)
    app = make_app(agent)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await ready(pilot)
        await send(pilot, "Tell me about Paris")
        model.release(6)
        await until(pilot, lambda: replies(screen) == ["Paris is in France. I am "])
        model.release(1)
        await until(pilot, lambda: replies(screen) == ["Paris is in France. "])
        model.release()
        await until(pilot, lambda: not screen.answering)
        said = "Paris is in France. It is lovely."
        assert replies(screen)[0].strip() == said
        assert agent.history()[-1] == {"role": "assistant", "content": said}


async def test_the_input_is_locked_while_eyla_answers(store):
    model = ScriptedModel(["One. Two."], gated=True)
    app = make_app(make_agent(model, store))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await ready(pilot)
        prompt = screen.query_one(Input)
        await send(pilot, "Count")
        assert prompt.disabled and prompt.placeholder == BUSY
        await pilot.press("a", "enter")
        assert prompt.value == "" and len(model.prompts) == 1
        model.release(2)
        # Textual moves focus on its next tick, after `answering` flips back.
        await until(pilot, lambda: not screen.answering and prompt.has_focus)
        assert not prompt.disabled and prompt.placeholder != BUSY
        await send(pilot, "Again")
        assert screen.answering
        model.release(2)
        await until(pilot, lambda: not screen.answering)
        assert len(model.prompts) == 2


async def test_escape_cancels_a_reply_mid_way_and_keeps_what_was_said(store):
    model = ScriptedModel(["One two. Three four. Five six."], gated=True)
    agent = make_agent(model, store)
    app = make_app(agent)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await ready(pilot)
        await send(pilot, "Count for me")
        model.release(2)
        await until(pilot, lambda: replies(screen) == ["One two. "])
        await pilot.press("escape")
        prompt = screen.query_one(Input)
        await until(pilot, lambda: "reply cancelled" in notes(screen) and prompt.has_focus)
        assert not screen.answering
        assert replies(screen) == ["One two. "]
        assert agent.history()[-1] == {"role": "assistant", "content": "One two."}


async def test_escape_without_a_reply_does_nothing(store):
    app = make_app(make_agent(ScriptedModel(["ok"]), store))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await ready(pilot)
        await pilot.press("escape")
        assert isinstance(app.screen, ChatScreen) and not screen.cancel.is_set()


async def test_the_chat_follows_the_reply_unless_scrolled_up(store):
    model = ScriptedModel([" ".join(f"Sentence {i}." for i in range(30))], gated=True)
    agent = make_agent(model, store)
    for i in range(10):
        store.append_message(agent.session_id, "user", f"question {i}")
        store.append_message(agent.session_id, "assistant", f"answer {i}")
    app = make_app(agent)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await ready(pilot)
        chat = screen.query_one(ChatView)
        await until(pilot, lambda: chat.max_scroll_y > 0 and chat.scroll_y == chat.max_scroll_y)
        await send(pilot, "Talk")
        model.release(20)
        await until(pilot, lambda: "Sentence 9." in replies(screen)[-1])
        await pilot.pause(0.1)
        assert chat.scroll_y == chat.max_scroll_y
        await pilot.press("pageup")
        await pilot.pause(0.1)
        held = chat.scroll_y
        assert held < chat.max_scroll_y
        model.release(40)
        await until(pilot, lambda: not screen.answering)
        await pilot.pause(0.1)
        assert chat.scroll_y == held < chat.max_scroll_y


async def test_the_side_panel_shows_recalled_memories_with_provenance(store):
    store.add("My dog is called Pixel.", "user_said")
    app = make_app(make_agent(ScriptedModel(["Your dog is Pixel."]), store))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await ready(pilot)
        gauge = screen.query_one(ConfidenceGauge)
        assert "n/a" in str(gauge.render())
        await send(pilot, "What is my dog called?")
        await until(pilot, lambda: not screen.answering)
        memories = screen.query_one(MemoryList)
        assert [h.text for h in memories.hits or []] == ["My dog is called Pixel."]
        shown = str(memories.render())
        assert "#1 user said" in shown and "My dog is called Pixel." in shown
        assert "n/a" in str(gauge.render())  # no calibrated head: no confidence


async def test_a_failing_contribution_measurement_is_reported_in_the_panel(store):
    def broken(model, messages, reply):
        raise RuntimeError("no tracer here")

    app = make_app(make_agent(ScriptedModel(["Fine."]), store))
    app.contributions = broken
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await ready(pilot)
        await send(pilot, "Hello")
        bars = screen.query_one(ContributionBars)
        await until(pilot, lambda: bars.status.startswith("unavailable"))
        assert "no tracer here" in bars.status and bars.values is None


async def test_the_next_reply_stops_a_measurement_instead_of_waiting_for_it(store):
    measuring = threading.Event()
    seen: list[str] = []

    def endless(model, messages, reply):
        """Forward passes until stopped, like a slow tracer on a big prompt."""
        seen.append(reply)
        if len(seen) == 1:
            measuring.set()
            while True:
                model(torch.tensor([[1, 2, 3]]))
        return {"adapter": 0.1}

    model = ScriptedModel(["First.", "Second."])
    app = make_app(make_agent(model, store))
    app.contributions = endless
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await ready(pilot)
        await send(pilot, "One")
        await until(pilot, measuring.is_set)
        await send(pilot, "Two")
        await until(pilot, lambda: not screen.answering)
        bars = screen.query_one(ContributionBars)
        await until(pilot, lambda: bars.values == {"adapter": 0.1})
        assert seen == ["First. ", "Second. "]  # as the model wrote them
        assert replies(screen) == ["First. ", "Second. "]


async def test_quitting_stops_a_measurement_too(store):
    measuring, stopped = threading.Event(), threading.Event()

    def endless(model, messages, reply):
        measuring.set()
        try:
            while True:
                model(torch.tensor([[1, 2, 3]]))
        finally:
            stopped.set()

    app = make_app(make_agent(ScriptedModel(["Done."]), store))
    app.contributions = endless
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await send(pilot, "Hello")
        await until(pilot, measuring.is_set)
    assert stopped.wait(5)


async def test_the_contributions_are_measured_on_the_prompt_the_reply_answered(store):
    seen: list[tuple[list[dict], str]] = []

    def spy(model, messages, reply):
        seen.append((messages, reply))
        return {"adapter": 0.5}

    app = make_app(make_agent(ScriptedModel(["Hi there."]), store))
    app.contributions = spy
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await ready(pilot)
        await send(pilot, "Hello")
        await until(pilot, lambda: screen.query_one(ContributionBars).values == {"adapter": 0.5})
    (messages, reply), *_ = seen
    assert reply == "Hi there. "  # the model's text, as it wrote it
    assert [m["role"] for m in messages] == ["system", "user"]
    assert messages[-1]["content"] == "Hello"


@pytest.mark.parametrize(
    ("drafts", "confidence", "attempt", "wrote", "shown_instead"),
    [
        # hedged: the note after the reply is the gate's, not the model's
        (["Hi there."], 0.1, 0, "Hi there. ", "(I don't know if this is right"),
        # retried: the guard caught the first draft; the second answered a prompt with
        # the guard's note in it
        (
            ["I am ChatGPT, made by OpenAI.", "I am Eyla. Hello."],
            None,
            1,
            "I am Eyla. Hello. ",
            None,
        ),
        # repaired: a sentence breaking identity after one already shown is dropped, no retry
        (
            ["Paris is the capital of France. I am ChatGPT."],
            None,
            0,
            "Paris is the capital of France. I am ChatGPT. ",
            "Paris is the capital of France.",
        ),
        # ended: the retry opened speaking as someone else too: the guard's last resort
        (
            ["I am ChatGPT. Paris is the capital of France."],
            None,
            1,
            "I am ChatGPT. ",
            "Eyla, an identity-anchored AI assistant",
        ),
    ],
    ids=["hedged", "retried", "repaired", "ended"],
)
async def test_the_contributions_are_measured_on_what_the_model_saw_and_wrote(
    store, drafts, confidence, attempt, wrote, shown_instead
):
    seen: list[tuple[list[dict], str]] = []

    def spy(model, messages, reply):
        seen.append((messages, reply))
        return fake_contributions(model, messages, reply)

    model = ScriptedModel(drafts)
    app = make_app(make_agent(model, store, confidence=confidence))
    app.contributions = spy
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await ready(pilot)
        await send(pilot, "Who are you?")
        await until(pilot, lambda: screen.query_one(ContributionBars).values == CONTRIBUTIONS)
        [reply_shown] = replies(screen)
    [(messages, reply)] = seen
    assert len(model.prompts) == attempt + 1
    assert messages == model.prompts[attempt]  # the prompt of the attempt that was shown
    assert ("broke your identity" in messages[0]["content"]) == (attempt > 0)
    assert reply == wrote
    if shown_instead:  # the reply as shown is not what the model wrote
        assert shown_instead in reply_shown and reply_shown.strip() != reply.strip()


async def test_the_conversation_is_restored_exactly_after_a_restart(store_dir):
    with MemoryStore.open(store_dir, embedder=HashingEmbedder()) as store:
        agent = make_agent(ScriptedModel(["Nice to meet you, Ada. **Welcome.**"]), store)
        async with make_app(agent).run_test(size=(80, 24)) as pilot:
            screen = await ready(pilot)
            await send(pilot, "I am Ada.")
            await until(pilot, lambda: not screen.answering)
            await send(pilot, "Line one\nline *two* [not markup]")
            await until(pilot, lambda: not screen.answering)
            before = shown(screen)
    with MemoryStore.open(store_dir, embedder=HashingEmbedder()) as store:
        again = make_agent(ScriptedModel(["unused"]), store, session_id=agent.session_id)
        async with make_app(again).run_test(size=(80, 24)) as pilot:
            after = shown(await ready(pilot))
    assert after == before
    assert after[:3] == [
        ("UserMessage", "I am Ada."),
        ("EylaMessage", "Nice to meet you, Ada. **Welcome.**"),
        ("UserMessage", "Line one\nline *two* [not markup]"),
    ]

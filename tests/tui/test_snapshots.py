"""The main screen before, during and after a reply, at 80x24 (and one large size).

Deterministic: a fresh store (session and memory ids from 1), a scripted confidence and
contributions, no clock in the header, the input's cursor not blinking, and the reply held
by the gated model at a known word for the mid-reply picture.
"""

from __future__ import annotations

import pytest
from textual.pilot import Pilot

from tests.fakes import CONTRIBUTIONS, ScriptedModel
from tests.tui.helpers import make_agent, make_app, ready, replies, send, until
from tui.panel import ContributionBars

REPLY = "Your dog is called **Pixel**. You told me so earlier. Is there anything else?"


@pytest.fixture
def model() -> ScriptedModel:
    return ScriptedModel([REPLY], gated=True)


@pytest.fixture
def app(store, model):
    store.add("My dog is called Pixel.", "user_said")
    return make_app(make_agent(model, store, confidence=0.64))


async def during(pilot: Pilot, model: ScriptedModel) -> None:
    screen = await ready(pilot)
    await send(pilot, "What is my dog called?")
    model.release(5)  # the first sentence, ended by its fifth word
    await until(pilot, lambda: replies(screen) == ["Your dog is called **Pixel**. "])


async def after(pilot: Pilot, model: ScriptedModel) -> None:
    await during(pilot, model)
    screen = pilot.app.screen
    model.release(len(REPLY.split()))
    bars = screen.query_one(ContributionBars)
    await until(pilot, lambda: bars.values == CONTRIBUTIONS)


def test_before_a_reply(snap_compare, app):
    assert snap_compare(app, terminal_size=(80, 24), run_before=ready)


def test_during_a_reply(snap_compare, app, model):
    assert snap_compare(app, terminal_size=(80, 24), run_before=lambda p: during(p, model))


def test_after_a_reply(snap_compare, app, model):
    assert snap_compare(app, terminal_size=(80, 24), run_before=lambda p: after(p, model))


def test_after_a_reply_on_a_large_terminal(snap_compare, app, model):
    assert snap_compare(app, terminal_size=(200, 50), run_before=lambda p: after(p, model))

"""One reply from the real embedded model through the app, side panel included."""

from __future__ import annotations

import pytest

from eyla.agent import Agent
from eyla.config import read_settings
from tests.tui.helpers import ready, replies, send, until
from tui.app import EylaApp
from tui.panel import ContributionBars

pytestmark = [pytest.mark.integration, pytest.mark.anyio]


async def test_one_real_reply_streams_and_is_measured(home_with_model):
    agent = Agent.open(read_settings())
    agent.settings.decoding = agent.settings.decoding.model_copy(update={"max_new_tokens": 16})
    app = EylaApp(lambda: agent)  # the real tracer measures the contributions
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await ready(pilot)
            await send(pilot, "Hello! Who are you?")
            await until(pilot, lambda: not screen.answering, timeout=120)
            assert replies(screen)[0].strip()
            assert agent.history()[-1]["role"] == "assistant"
            bars = screen.query_one(ContributionBars)
            await until(pilot, lambda: bars.values is not None, timeout=120)
            assert set(bars.values) == {s.name for s in agent.model.subsystems.neural()}
    finally:
        agent.close()

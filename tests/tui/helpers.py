"""Building the app over a fake streaming model, and driving it with the pilot."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from textual.pilot import Pilot
from textual.widgets import Input

from eyla.agent import Agent
from eyla.config import Settings
from eyla.identity import IdentitySpec
from memory.store import MemoryStore
from tests.fakes import ScriptedModel, fake_contributions
from tui.app import EylaApp
from tui.chat_screen import ChatScreen
from tui.conversation import ChatView, EylaMessage, Note

# fixed here, not read from data/, so editing the shipped spec does not move the snapshots
IDENTITY = IdentitySpec(
    name="Eyla",
    creator="the Eyla open-source project",
    kind="an identity-anchored AI assistant that runs locally on your computer",
    purpose="to help people honestly and carefully",
    values=["honesty", "care for the person in the conversation", "privacy"],
    style="warm, direct and brief",
    never_names=["ChatGPT"],
)


def make_agent(
    model: ScriptedModel,
    store: MemoryStore,
    session_id: int | None = None,
    confidence: float | None = None,
) -> Agent:
    settings = Settings()
    settings.agent = settings.agent.model_copy(update={"min_relevance": 0.1})
    agent = Agent(model, store, IDENTITY, settings, session_id)
    # the fake never runs the uncertainty head, so its reading is scripted here
    agent.gate.confidence = lambda: confidence  # type: ignore[method-assign]
    return agent


def make_app(agent: Agent) -> EylaApp:
    return EylaApp(lambda: agent, contributions=fake_contributions)


async def until(pilot: Pilot, done: Callable[[], bool], timeout: float = 10.0) -> None:
    """Let the app run until `done()` holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not done():
        if loop.time() > deadline:
            raise AssertionError("timed out waiting for the app")
        await pilot.pause(0.01)


async def ready(pilot: Pilot) -> ChatScreen:
    """Past the loading screen, with the input's cursor steady for snapshots."""
    await until(pilot, lambda: isinstance(pilot.app.screen, ChatScreen))
    screen = pilot.app.screen
    assert isinstance(screen, ChatScreen)
    await pilot.pause()
    screen.query_one(Input).cursor_blink = False
    return screen


async def send(pilot: Pilot, text: str) -> None:
    pilot.app.screen.query_one(Input).value = text
    await pilot.press("enter")


def replies(screen: ChatScreen) -> list[str]:
    return [m.source for m in screen.query(EylaMessage)]


def notes(screen: ChatScreen) -> list[str]:
    return [str(n.content) for n in screen.query(Note)]


def shown(screen: ChatScreen) -> list[tuple[str, str]]:
    """Each message in the chat as (kind, text); trailing space is not shown."""
    return [
        (type(w).__name__, (w.source if isinstance(w, EylaMessage) else str(w.content)).rstrip())
        for w in screen.query_one(ChatView).children
    ]

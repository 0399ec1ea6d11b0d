"""The terminal UI's first token: Enter pressed to the first text of Eyla's reply on screen.

Drives the real app (`eyla chat`) with Textual's pilot over the real agent on the embedded
model, warm: short messages, each sent once the previous reply and its contribution
measurement are done. Words are shown as they are generated, before the identity guard has
read their sentence (it takes back one it drops), so this times prefill plus the first
token; the "a sentence at a time" row shows only what the guard has released, as the app
did before, to time prefill plus the first sentence. Each path runs in its own fresh data
dir (the model cache is shared); float32 is the baseline, measured in the same run. Prints
median and max per path, their ratio, and whether the chosen path meets issue #21's 0.5 s
(exits 1 when it does not).

    .venv/bin/python -m benchmarks.tui_first_token [--dtype int4] [--messages 6]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from rich.console import Console
from rich.table import Table
from textual.widgets import Input
from transformers.utils import logging as hf_logging

from eyla.agent import Agent
from eyla.config import AgentConfig, Settings
from tui.app import EylaApp
from tui.chat_screen import ChatScreen
from tui.conversation import EylaMessage, ReplyView
from tui.panel import ContributionBars

TARGET_S = 0.5
BASELINE = "float32"
MESSAGES = [
    "Hi! I'm Dana.",
    "What is the capital of France?",
    "Give me one tip for sleeping better.",
    "Thanks, that helps.",
    "How many legs does a spider have?",
    "What should I cook tonight?",
    "Say hello to my cat Biscuit.",
    "What's 12 times 3?",
]


async def first_tokens(agent: Agent, messages: list[str]) -> list[float]:
    """Seconds from Enter to the reply's first shown text, one per message."""
    app = EylaApp(lambda: agent)
    times = []
    async with app.run_test(size=(100, 30)) as pilot:
        loop = asyncio.get_running_loop()
        while not isinstance(app.screen, ChatScreen):
            await pilot.pause(0.05)
        screen = app.screen
        for text in messages:
            shown = len(screen.query(EylaMessage))
            screen.query_one(Input).value = text
            start = loop.time()
            # the pilot's press returns only once the app is idle again: poll beside it
            press = asyncio.create_task(pilot.press("enter"))
            while not _new_text(screen, shown):
                await asyncio.sleep(0.002)
            times.append(loop.time() - start)
            await press
            # warm and idle before the next: the reply and its measurement finish first
            bars = screen.query_one(ContributionBars)
            while screen.answering or bars.status == "measuring...":
                await pilot.pause(0.05)
    return times


def _new_text(screen: ChatScreen, shown: int) -> bool:
    messages = list(screen.query(EylaMessage))
    return len(messages) > shown and bool(messages[-1].source.strip())


@contextmanager
def sentence_at_a_time(on: bool) -> Iterator[None]:
    """With `on`, the screen ignores unchecked words and shows only released sentences."""
    if not on:
        yield
        return
    draft = ReplyView.draft
    ReplyView.draft = _ignore  # type: ignore[method-assign]
    try:
        yield
    finally:
        ReplyView.draft = draft  # type: ignore[method-assign]


async def _ignore(view: ReplyView, text: str) -> None:
    return None


def run(
    dtype: str, reuse: bool, sentences: bool, cache_dir: Path, messages: list[str]
) -> list[float]:
    with tempfile.TemporaryDirectory(prefix="eyla-tui-") as home, sentence_at_a_time(sentences):
        (Path(home) / "cache").mkdir()
        (Path(home) / "cache" / "models").symlink_to(cache_dir / "models")
        settings = Settings(home=Path(home), dtype=dtype, agent=AgentConfig(reuse_cache=reuse))
        agent = Agent.open(settings)
        try:
            asyncio.run(first_tokens(agent, messages[:1]))  # warm-up: first calls, page-in
            return asyncio.run(first_tokens(agent, messages))
        finally:
            agent.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dtype", default="int4", help="the path measured against float32")
    parser.add_argument("--messages", type=int, default=6)
    parser.add_argument("--cache-dir", type=Path, default=Settings().cache_dir)
    args = parser.parse_args()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    messages = MESSAGES[: args.messages]
    rows = {  # label: (dtype, reuse the conversation's cache, a sentence at a time)
        BASELINE: (BASELINE, True, False),
        f"{args.dtype}, no cache reuse": (args.dtype, False, False),
        f"{args.dtype}, a sentence at a time": (args.dtype, True, True),
        args.dtype: (args.dtype, True, False),
    }
    results = {label: run(*row, args.cache_dir, messages) for label, row in rows.items()}

    table = Table(title=f"TUI: Enter to first shown text, {len(messages)} short messages, warm")
    for column in ("path", "median s", "max s", f"vs {BASELINE}"):
        table.add_column(column, justify="right")
    median = {label: statistics.median(times) for label, times in results.items()}
    for label, times in results.items():
        table.add_row(
            label,
            f"{median[label]:.3f}",
            f"{max(times):.3f}",
            f"{median[BASELINE] / median[label]:.2f}x",
        )
    Console(width=100).print(table)
    ok = median[args.dtype] <= TARGET_S
    verdict = "meets" if ok else "MISSES"
    print(f"{args.dtype}: median {median[args.dtype]:.3f} s ({verdict} {TARGET_S} s)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

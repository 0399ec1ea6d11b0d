"""Prompts asked as a user's first message: each in a fresh session of a real agent, in a
throwaway data dir, its memories stored first and forgotten after, so the identity guard's
retries and last resorts and the confidence gate act as they do for a user
(`benchmarks.agent_turns`, `benchmarks.confidence_turns`)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.progress import Progress

from eyla.agent import Agent, TurnResult
from eyla.config import Settings
from eyla.training.reply_sets import EvalPrompt

GUARD = "identity_guard"


@contextmanager
def throwaway_agent(cache_dir: Path, dtype: str) -> Iterator[Agent]:
    """An agent on a data dir deleted afterwards, sharing converted models with
    `cache_dir`, so a fresh machine converts once."""
    with tempfile.TemporaryDirectory(prefix="eyla-turns-") as home:
        (cache_dir / "models").mkdir(parents=True, exist_ok=True)
        (Path(home) / "cache").mkdir()
        (Path(home) / "cache" / "models").symlink_to(cache_dir / "models")
        agent = Agent.open(Settings(home=Path(home), dtype=dtype))
        try:
            yield agent
        finally:
            agent.close()


def first_turns(agent: Agent, sets: dict[str, list[EvalPrompt]]) -> dict[str, list[TurnResult]]:
    """Every prompt as a first message in a fresh session, with its memories stored."""
    results: dict[str, list[TurnResult]] = {name: [] for name in sets}
    with Progress(transient=True) as progress:
        task = progress.add_task("turns", total=sum(len(items) for items in sets.values()))
        for name, items in sets.items():
            for item in items:
                agent.new_session()
                for memory in item.memories:
                    agent.store.add(memory, "user_said")
                result = agent.turn(item.prompt)
                assert result is not None
                results[name].append(result)
                for episode in agent.store.list():
                    agent.store.forget(episode.id)
                progress.advance(task)
    return results

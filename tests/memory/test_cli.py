"""`eyla memory ...` commands, run against a store in tmp_path with the fake embedder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from eyla.errors import EylaError
from memory import cli
from memory.config import MemoryConfig
from memory.store import MemoryStore
from tests.fakes import HashingEmbedder


@pytest.fixture
def run(home: Path, config: MemoryConfig, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(
        cli, "open_store", lambda: MemoryStore.open(home, config, HashingEmbedder())
    )
    runner = CliRunner()

    def invoke(*args: str) -> str:
        result = runner.invoke(cli.app, list(args), catch_exceptions=True, env={"COLUMNS": "200"})
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        assert result.exit_code == 0, result.output
        return result.output

    return invoke


def test_add_search_list_forget(run) -> None:
    assert "remembered #1" in run("add", "my dog is called Pixel", "--importance", "0.9")
    assert "remembered #2" in run("add", "[red]tea[/red] is nice", "-p", "agent_said")
    assert "duplicate" in run("add", "My dog is called Pixel")

    found = run("search", "dog called", "-k", "1")
    assert "my dog is called Pixel" in found
    assert "user_said" in found
    assert "[red]tea[/red] is nice" in run("list")  # memory text is never rich markup

    assert "forgot #1" in run("forget", "1")
    assert "no memories found" in run("search", "dog", "-p", "identity")
    assert "Pixel" not in run("list")
    listed = run("list", "--forgotten")
    assert "(forgotten)" in listed and "Pixel" not in listed  # forgetting erased the text


def test_export_import_stats_rebuild(run, tmp_path: Path) -> None:
    run("add", "the boiler was serviced in March")
    run("add", "the car needs new tyres", "-p", "reflection")
    path = tmp_path / "memories.jsonl"

    assert "exported 2 memories" in run("export", str(path))
    assert len(path.read_text().splitlines()) == 2
    assert (
        json.loads(path.read_text().splitlines()[0])["text"] == "the boiler was serviced in March"
    )
    assert "imported 0 memories (2 duplicates skipped)" in run("import", str(path))

    stats = run("stats")
    assert "memories" in stats and "fake-bow (1024-d): 2" in stats
    assert "rebuilt the index: 2 vectors" in run("rebuild")


def test_user_errors_are_eyla_errors(run) -> None:
    with pytest.raises(EylaError, match="no memory #42"):
        run("forget", "42")
    with pytest.raises(EylaError, match="unknown provenance"):
        run("search", "x", "-p", "gossip")


def test_no_arguments_shows_help() -> None:
    result = CliRunner().invoke(cli.app, [])
    for command in ("add", "search", "list", "forget", "export", "import", "stats", "rebuild"):
        assert command in result.output

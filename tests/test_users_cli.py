"""`eyla users`: add prints a key once, list shows who has one, remove erases a user."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from eyla.cli import app
from eyla.errors import EylaError
from memory.config import MemoryConfig
from memory.store import MemoryStore
from tests.fakes import HashingEmbedder


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("EYLA_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def _run(*args: str) -> tuple[str, str]:
    result = CliRunner().invoke(app, ["users", *args], env={"COLUMNS": "200"})
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == 0, result.output
    return result.stdout, result.stderr


def test_add_prints_the_key_alone_on_stdout_and_it_opens_the_users_store(home: Path) -> None:
    key, note = _run("add", "alice")
    key = key.strip()
    assert "\n" not in key and key.startswith("eyla_")
    assert "alice" in note
    with MemoryStore.open(home, MemoryConfig(), HashingEmbedder()) as store:
        user_id = store.user_for_key(key)
        assert user_id is not None and store.user_named("alice").id == user_id
    listed, _ = _run("list")
    assert "owner" in listed and "alice" in listed


def test_remove_revokes_the_key(home: Path) -> None:
    key = _run("add", "bob")[0].strip()
    _run("remove", "bob", "--yes")
    with MemoryStore.open(home, MemoryConfig(), HashingEmbedder()) as store:
        assert store.user_for_key(key) is None
    assert "bob" not in _run("list")[0]


def test_a_taken_name_is_a_clear_error(home: Path) -> None:
    _run("add", "carol")
    with pytest.raises(EylaError, match="exists already"):
        _run("add", "carol")

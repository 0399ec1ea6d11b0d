"""The flags every `eyla` command shares: one `--model` option, one way to `Settings`."""

from __future__ import annotations

import typing
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import typer

from eyla.cli import app
from eyla.errors import EylaError
from eyla.lazy import LazyGroup, load_target
from eyla.options import ModelOpt, settings_from_flags

# every command that loads a model, as typed after `eyla`
LOADS_A_MODEL = {
    "ask",
    "chat",
    "info",
    "probe",
    "report",
    "serve",
    "train identity",
    "train calibration",
    "train evaluate",
    "train evaluate-memory",
}


def commands(group: typer.Typer, prefix: str = "") -> Iterator[tuple[str, Callable]]:
    """Each command of the real app by its full name, with the function it runs: those
    registered on it, and those it imports when used (eyla/lazy.py)."""
    for command in group.registered_commands:
        assert command.callback is not None
        name = command.name or command.callback.__name__.replace("_", "-")
        yield f"{prefix}{name}", command.callback
    for sub in group.registered_groups:
        assert sub.typer_instance is not None
        yield from commands(sub.typer_instance, f"{prefix}{sub.name} ")
    cls = group.info.cls
    lazy = cls.lazy if isinstance(cls, type) and issubclass(cls, LazyGroup) else {}
    for name, target in lazy.items():
        found = load_target(target)
        if isinstance(found, typer.Typer):
            yield from commands(found, f"{prefix}{name} ")
        else:
            yield f"{prefix}{name}", found


def test_every_command_that_loads_a_model_takes_the_shared_model_option():
    shared = typing.get_args(ModelOpt)[1]
    with_model = {}
    for name, callback in commands(app):
        hints = typing.get_type_hints(callback, include_extras=True)
        if "model" in hints:
            with_model[name] = typing.get_args(hints["model"])[1]
    assert set(with_model) == LOADS_A_MODEL
    assert all(option is shared for option in with_model.values()), with_model


def test_flags_override_the_settings_and_a_flag_left_out_keeps_them(eyla_home: Path):
    (eyla_home / "eyla.toml").write_text("[decoding]\ntemperature = 0.7\nmax_new_tokens = 99\n")
    settings = settings_from_flags(model="other.gguf", seed=5, max_new_tokens=None)
    assert settings.model == "other.gguf"
    assert settings.decoding.seed == 5
    assert settings.decoding.temperature == 0.7 and settings.decoding.max_new_tokens == 99
    assert settings_from_flags().model == "embedded"
    assert settings_from_flags(temperature=0.0).decoding.temperature == 0.0


def test_a_flag_out_of_range_is_a_one_line_error():
    with pytest.raises(EylaError, match=r"^bad --temperature: .*5"):
        settings_from_flags(temperature=9.0)

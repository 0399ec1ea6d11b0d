"""A command group whose subcommands are imported when first used.

A command-line program pays for every module it imports before doing anything; `eyla`'s
commands each bring their own (the memory store, the probes, the server), and the one a
user runs needs only its own.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, ClassVar

import typer
from typer.core import TyperGroup

if TYPE_CHECKING:
    # Typer carries its own copy of click; these are the types its classes use
    from typer._click import Command, Context


class LazyGroup(TyperGroup):
    """Commands named in `lazy` as "module:attribute", the attribute a `typer.Typer` (a
    command group) or a command function; they are listed after the group's own."""

    lazy: ClassVar[Mapping[str, str]] = {}

    def list_commands(self, ctx: Context) -> list[str]:
        return [*super().list_commands(ctx), *(n for n in self.lazy if n not in self.commands)]

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        if cmd_name not in self.commands and cmd_name in self.lazy:
            self.commands[cmd_name] = load_command(cmd_name, self.lazy[cmd_name])
        return super().get_command(ctx, cmd_name)

    def resolve_command(
        self, ctx: Context, args: list[str]
    ) -> tuple[str | None, Command | None, list[str]]:
        # Typer suggests close names from the commands loaded so far: load them all first,
        # which only a mistyped command pays for
        if args and self.get_command(ctx, args[0]) is None:
            for name in self.lazy:
                self.get_command(ctx, name)
        return super().resolve_command(ctx, args)


def load_target(target: str) -> typer.Typer | Callable[..., object]:
    """The command group or function `target` ("module:attribute") names."""
    module, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module), attribute)


def load_command(name: str, target: str) -> Command:
    found = load_target(target)
    # registered on a parent as `add_typer` and `command` would register it, so that it
    # is built as it would be there (no completion options of its own, for one)
    parent = typer.Typer(add_completion=False)
    if isinstance(found, typer.Typer):
        parent.add_typer(found, name=name)
    else:
        parent.command(name)(found)
    built = typer.main.get_command(parent)
    # one command alone is built as itself, a group as the parent's only subcommand
    if isinstance(built, TyperGroup):
        return built.commands[name]
    return built

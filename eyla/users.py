"""`eyla users ...`: the people `eyla serve` answers, each with an API key and a memory of
their own. The owner (the person at this terminal) is always there and needs no key."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from memory.cli import open_store

app = typer.Typer(help="Users of `eyla serve`: add, list, remove.", no_args_is_help=True)
out = Console()

NameArg = Annotated[str, typer.Argument(help="The user's name (letters, digits, . _ -).")]


@app.command()
def add(name: NameArg) -> None:
    """Add NAME and print their API key: it is shown this once and stored only hashed."""
    with open_store() as store:
        user, key = store.add_user(name)
    # the key alone on stdout, so `eyla users add bob > bob.key` saves just the key
    typer.echo(key)
    typer.echo(
        f"user {user.name!r} added; give them this key. Once any user has a key, "
        "`eyla serve` answers only requests that send one.",
        err=True,
    )


@app.command("list")
def list_() -> None:
    """Every user, with when they were added and whether they have a key."""
    with open_store() as store:
        users = store.list_users()
    table = Table("name", "added", "key")
    for user in users:
        table.add_row(
            user.name, f"{user.created_at:%Y-%m-%d %H:%M}", "yes" if user.has_key else "-"
        )
    out.print(table)


@app.command()
def remove(
    name: NameArg,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask first.")] = False,
) -> None:
    """Revoke NAME's key and erase everything they told Eyla: memories, sessions and
    transcripts."""
    if not yes:
        typer.confirm(f"Erase {name}'s memories and conversations for good?", abort=True)
    with open_store() as store:
        forgotten = store.remove_user(name)
    out.print(f"removed {name}: key revoked, {forgotten} memories and every session erased")

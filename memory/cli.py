"""`eyla memory ...`: inspect and edit the episodic memory store."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from eyla.config import read_settings
from memory.records import PROVENANCES, QUARANTINED, Episode, Hit
from memory.store import MemoryStore

app = typer.Typer(
    help="Episodic memory: add, search, list, forget, export, import, stats, rebuild.",
    no_args_is_help=True,
)
out = Console()

SessionOpt = Annotated[int | None, typer.Option("--session", "-s", help="Only this session.")]
ProvenanceOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--provenance", "-p", help=f"Only this provenance (repeatable): {', '.join(PROVENANCES)}."
    ),
]


def open_store() -> MemoryStore:
    """The store in the data dir, configured by `eyla.config.Settings`."""
    settings = read_settings()
    return MemoryStore.open(settings.home, settings.memory)


@app.command()
def add(
    text: Annotated[str, typer.Argument(help="What to remember.")],
    provenance: Annotated[str, typer.Option("--provenance", "-p")] = "user_said",
    session: SessionOpt = None,
    importance: Annotated[float, typer.Option(min=0.0, max=1.0)] = 0.5,
) -> None:
    """Remember TEXT (a repeated fact refreshes the stored one instead)."""
    with open_store() as store:
        episode = store.add(text, provenance, session_id=session, importance=importance)
    if episode is None:
        out.print("already remembered (duplicate): nothing added")
    else:
        out.print(f"remembered #{episode.id}")


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="What to look for.")],
    k: Annotated[int | None, typer.Option("-k", min=1, help="How many (memory.top_k).")] = None,
    session: SessionOpt = None,
    provenance: ProvenanceOpt = None,
) -> None:
    """Best matches by relevance, recency and importance."""
    with open_store() as store:
        hits = store.search(query, k=k, session_id=session, provenance=provenance)
    if not hits:
        out.print("no memories found")
        return
    table = _episode_table(Text(f"best {len(hits)} for {query!r}"), scored=True)
    for hit in hits:
        table.add_row(*_hit_cells(hit))
    out.print(table)


@app.command("list")
def list_(
    session: SessionOpt = None,
    provenance: ProvenanceOpt = None,
    quarantined: Annotated[
        bool, typer.Option("--quarantined", help="Only the claims about Eyla kept for review.")
    ] = False,
    forgotten: Annotated[bool, typer.Option("--forgotten", help="Include forgotten.")] = False,
    limit: Annotated[int, typer.Option(min=1)] = 20,
    offset: Annotated[int, typer.Option(min=0)] = 0,
) -> None:
    """Stored memories newest first, then the claims about Eyla kept for review."""
    kinds = {QUARANTINED} if quarantined else set(provenance or PROVENANCES)
    with open_store() as store:

        def page(provenances: set[str]) -> list[Episode]:
            if not provenances:
                return []
            return store.list(
                session_id=session,
                provenance=sorted(provenances),
                include_forgotten=forgotten,
                limit=limit,
                offset=offset,
            )

        memories = page(kinds - {QUARANTINED})
        claims = page(kinds & {QUARANTINED})
    if not memories and not claims:
        out.print("no claims about Eyla to review" if quarantined else "no memories")
    if memories:
        table = _episode_table(f"{len(memories)} memories", scored=False)
        for episode in memories:
            table.add_row(*_episode_cells(episode))
        out.print(table)
    if claims:
        # what users claimed about Eyla itself: kept apart, never quoted to the model as true
        table = _episode_table(
            f"review: {len(claims)} claims about Eyla (never quoted to the model)", scored=False
        )
        table.caption = "delete one with `eyla memory forget ID`"
        for episode in claims:
            table.add_row(*_episode_cells(episode))
        out.print(table)


@app.command()
def forget(
    ids: Annotated[list[int], typer.Argument(help="Ids of the memories to forget.")],
    with_message: Annotated[
        bool | None,
        typer.Option(
            "--with-message/--keep-message",
            help="Also delete the transcript message each memory came from "
            "(asked on a terminal; kept otherwise).",
        ),
    ] = None,
) -> None:
    """Erase memories: their text and vector leave the database, the index and exports."""
    with open_store() as store:
        for episode_id in ids:
            message_id = store.get(episode_id).message_id
            delete = with_message
            if delete is None:
                delete = (
                    message_id is not None
                    and _stdin_is_terminal()
                    and typer.confirm("Also delete the message it came from?", default=False)
                )
            store.forget(episode_id, with_message=delete)
            gone = " and the message it came from" if delete and message_id is not None else ""
            out.print(f"forgot #{episode_id}{gone}")


@app.command()
def export(path: Annotated[Path, typer.Argument(help="JSONL file to write.")]) -> None:
    """Write every memory to a JSONL file (`eyla memory import` reads it back)."""
    with open_store() as store:
        count = store.export_jsonl(path)
    out.print(f"exported {count} memories to {path}", markup=False)


@app.command("import")
def import_(path: Annotated[Path, typer.Argument(help="JSONL file to read.")]) -> None:
    """Add the memories in a JSONL file (an export, or lines with a `text` field)."""
    with open_store() as store:
        report = store.import_jsonl(path)
    out.print(f"imported {report.added} memories ({report.duplicates} duplicates skipped)")


@app.command()
def stats() -> None:
    """Counts, embedding models and the index."""
    with open_store() as store:
        figures = store.stats()
    table = Table(title="memory", show_header=False)
    table.add_column(style="bold")
    table.add_column()
    models = ", ".join(f"{name}: {n}" for name, n in figures.embedding_models.items())
    for name, value in [
        ("memories", figures.episodes),
        ("forgotten", figures.forgotten),
        ("sessions", figures.sessions),
        ("messages", figures.messages),
        ("embedding models", models or "-"),
        ("index", f"{figures.index_kind}, {figures.index_size} vectors"),
        ("empty slots", figures.index_empty_slots),
        ("database", figures.database),
        ("index file", figures.index_path),
    ]:
        table.add_row(name, Text(str(value)))
    out.print(table)


@app.command()
def rebuild(
    reembed: Annotated[
        bool, typer.Option("--reembed", help="Re-embed every memory with the configured model.")
    ] = False,
) -> None:
    """Rebuild the index from the database (after changing the index kind or embedder)."""
    with open_store() as store:
        store.rebuild(reembed=reembed)
        size = store.stats().index_size
    out.print(f"rebuilt the index: {size} vectors")


def _stdin_is_terminal() -> bool:
    return sys.stdin.isatty()


def _episode_table(title: str | Text, *, scored: bool) -> Table:
    table = Table(title=title)
    numbers = ["#", *(["score", "rel", "rec"] if scored else []), "imp"]
    for name in numbers:
        table.add_column(name, justify="right", no_wrap=True)
    table.add_column("provenance", no_wrap=True)
    table.add_column("session", justify="right", no_wrap=True)
    if not scored:
        table.add_column("created", no_wrap=True)
    table.add_column("text", ratio=1, min_width=16, overflow="fold")
    return table


def _episode_cells(episode: Episode, *, scored: bool = False) -> list[str | Text]:
    text = Text(episode.text)  # a Text, so brackets in a memory are not rich markup
    if episode.forgotten_at is not None:  # forgetting erased the text
        text = Text("(forgotten)", style="dim italic")
    created = [] if scored else [f"{episode.created_at:%Y-%m-%d %H:%M}"]
    return [
        str(episode.id),
        f"{episode.importance:.2f}",
        episode.provenance,
        "-" if episode.session_id is None else str(episode.session_id),
        *created,
        text,
    ]


def _hit_cells(hit: Hit) -> list[str | Text]:
    first, *rest = _episode_cells(hit, scored=True)
    return [first, f"{hit.score:.3f}", f"{hit.relevance:.3f}", f"{hit.recency:.3f}", *rest]

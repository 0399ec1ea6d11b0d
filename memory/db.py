"""The database: engine set-up, read and write transactions, migrations on open."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, make_url
from sqlalchemy.exc import ArgumentError, DatabaseError, NoSuchModuleError
from sqlalchemy.orm import Session, sessionmaker

from eyla.errors import EylaError

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

# Execution option naming how a SQLite transaction starts (see `_begin`).
_BEGIN_OPTION = "memory_sqlite_begin"


def database_url(home: Path, db_url: str | None) -> str:
    return db_url or f"sqlite:///{home / 'eyla.db'}"


class Database:
    def __init__(self, url: str, busy_timeout_s: float) -> None:
        try:
            parsed = make_url(url)
        except ArgumentError as exc:
            raise EylaError(f"memory database URL is not valid: {url!r}") from exc
        self.display_url = parsed.render_as_string(hide_password=True)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        connect_args = {"timeout": busy_timeout_s} if self.is_sqlite else {}
        try:
            self.engine: Engine = create_engine(parsed, connect_args=connect_args)
        except (ImportError, NoSuchModuleError) as exc:
            raise EylaError(f"no database driver for {self.display_url}: {exc}") from exc
        if self.is_sqlite:
            _configure_sqlite(self.engine)
        self._reads = sessionmaker(self.engine, expire_on_commit=False)
        # Writers take SQLite's write lock up front: a deferred transaction that read first
        # fails with SQLITE_BUSY at once (no busy wait) when another process wrote meanwhile.
        self._writes = sessionmaker(
            self.engine.execution_options(**{_BEGIN_OPTION: "IMMEDIATE"}),
            expire_on_commit=False,
        )

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A transaction that sees one consistent snapshot."""
        with self._reads.begin() as session:
            yield session

    @contextmanager
    def writing(self) -> Iterator[Session]:
        """A transaction that commits on success and rolls back on error."""
        with self._writes.begin() as session:
            yield session

    def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision, in one write transaction so a
        second process opening a new store at the same moment waits, then finds it done."""
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        try:
            with self._writes.begin() as session:
                config.attributes["connection"] = session.connection()
                command.upgrade(config, "head")
        except DatabaseError as exc:  # also "file is not a database" for a corrupt file
            raise EylaError(
                f"cannot open the memory database {self.display_url}: {exc.orig}"
            ) from exc

    def dispose(self) -> None:
        self.engine.dispose()


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: sqlite3.Connection, _record: object) -> None:
        # pysqlite's own transaction handling defers BEGIN past reads and commits before
        # DDL; turn it off and let `_begin` issue BEGIN itself.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL survives process crashes
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        mode = connection.get_execution_options().get(_BEGIN_OPTION, "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")

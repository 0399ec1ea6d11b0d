"""The database: engine set-up, read and write transactions, migrations on open."""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import URL, Connection, Engine, create_engine, event, make_url
from sqlalchemy.exc import ArgumentError, DatabaseError, NoSuchModuleError
from sqlalchemy.orm import Session, sessionmaker

from eyla.errors import EylaError

log = logging.getLogger(__name__)

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
        path = _sqlite_file(parsed) if self.is_sqlite else None
        if path is not None:
            try:
                _make_private(path)
            except OSError as exc:
                raise EylaError(
                    f"cannot open the memory database {self.display_url}: {exc}"
                ) from exc
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
            with self.engine.connect() as connection, self._foreign_keys_off(connection):
                connection.execution_options(**{_BEGIN_OPTION: "IMMEDIATE"})
                with connection.begin():
                    before = MigrationContext.configure(connection).get_current_revision()
                    config.attributes["connection"] = connection
                    command.upgrade(config, "head")
                    after = MigrationContext.configure(connection).get_current_revision()
                    if self.is_sqlite and after != before:
                        _check_foreign_keys(connection)
        except DatabaseError as exc:  # also "file is not a database" for a corrupt file
            raise EylaError(
                f"cannot open the memory database {self.display_url}: {exc.orig}"
            ) from exc

    def truncate_wal(self) -> None:
        """Copy SQLite's write-ahead log into the database file and empty it: the log
        still holds the pages a change replaced, such as a forgotten item's text."""
        if not self.is_sqlite:
            return
        with self.engine.connect() as connection:
            # on the driver connection: the pragma cannot run inside a transaction
            driver = connection.connection.driver_connection
            assert isinstance(driver, sqlite3.Connection)
            busy, _, _ = driver.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        if busy:
            log.warning(
                "memory database: another process is reading it, so its write-ahead log "
                "keeps replaced pages until that process closes the store"
            )

    @contextmanager
    def _foreign_keys_off(self, connection: Connection) -> Iterator[None]:
        """SQLite alters a table by copying it, and dropping the original trips the foreign
        keys that point at it; SQLite ignores this pragma inside a transaction."""
        if not self.is_sqlite:
            yield
            return
        driver = connection.connection.driver_connection
        assert isinstance(driver, sqlite3.Connection)
        driver.execute("PRAGMA foreign_keys=OFF")
        try:
            yield
        finally:
            driver.execute("PRAGMA foreign_keys=ON")

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
        # Deleted and overwritten content is zeroed, not left in free space in the file.
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        mode = connection.get_execution_options().get(_BEGIN_OPTION, "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")


def _sqlite_file(url: URL) -> Path | None:
    """The database file of a SQLite URL; None for in-memory and `file:` URI databases."""
    name = url.database
    if not name or name == ":memory:" or name.startswith("file:"):
        return None
    return Path(name)


def _make_private(path: Path) -> None:
    """The database and its -wal and -shm files hold the user's memories: owner only.
    SQLite gives -wal and -shm the database file's mode, so the file is made private
    before SQLite first creates it; chmod covers stores made before that."""
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    for file in (path, *(path.with_name(path.name + tail) for tail in ("-wal", "-shm"))):
        with contextlib.suppress(FileNotFoundError):
            if stat.S_IMODE(file.stat().st_mode) & 0o077:
                os.chmod(file, 0o600)


def _check_foreign_keys(connection: Connection) -> None:
    """A migration copied tables with foreign keys off: check that every reference holds
    before committing, as SQLite's own procedure for altering tables asks."""
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").first()
    if broken is not None:
        raise EylaError(f"migrating the memory database broke a reference: {tuple(broken)}")

"""The database: engine set-up, read and write transactions, migrations on open.

SQLite (the default, one file in the data dir) and PostgreSQL are supported. On both, write
transactions run one at a time, so the history table's ids follow commit order: the index
cache replays that table as its change feed (index_cache.py) and must never see id N+1
committed before id N.
"""

from __future__ import annotations

import contextlib
import logging
import math
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
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from eyla.errors import EylaError

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

# Execution option marking a write transaction (see `_configure_sqlite`, `_configure_postgresql`).
_WRITER = "memory_writer"
# PostgreSQL advisory lock that every write transaction holds until it ends ("Eyla" in
# ASCII); advisory locks belong to one database, so stores in other databases never wait.
_WRITERS_LOCK = 0x45796C61
# The tables whose rows a forget, a message deletion or a user's removal blanks or deletes.
_ERASED_TABLES = ("episodes", "messages", "sessions", "users")
_LOCK_NOT_AVAILABLE = "55P03"  # PostgreSQL's SQLSTATE when lock_timeout runs out
_LIBPQ_DRIVERS = ("psycopg", "psycopg2")  # PostgreSQL drivers that take libpq's settings


def database_url(home: Path, db_url: str | None) -> str:
    return db_url or f"sqlite:///{home / 'eyla.db'}"


class Database:
    def __init__(self, url: str, busy_timeout_s: float) -> None:
        try:
            parsed = make_url(url)
        except (ArgumentError, ValueError):
            # Neither the URL nor the parser's message (which quotes parts of it) is shown,
            # and `from None` keeps them out of tracebacks: the URL may hold a password.
            raise EylaError(
                "memory database URL (memory.db_url) is not valid; expected "
                "dialect+driver://user:password@host/database"
            ) from None
        self.display_url = _without_secrets(parsed)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        self.is_postgresql = parsed.get_backend_name() == "postgresql"
        path = _sqlite_file(parsed) if self.is_sqlite else None
        if path is not None:
            try:
                _make_private(path)
            except OSError as exc:
                raise EylaError(
                    f"cannot open the memory database {self.display_url}: {exc}"
                ) from exc
        connect_args: dict[str, object] = {}
        if self.is_sqlite:
            connect_args = {"timeout": busy_timeout_s}
        elif parsed.get_driver_name() in _LIBPQ_DRIVERS:
            connect_args = _libpq_timeouts(parsed, busy_timeout_s)
        try:
            self.engine: Engine = create_engine(parsed, connect_args=connect_args)
        except (ImportError, NoSuchModuleError) as exc:
            raise EylaError(f"no database driver for {self.display_url}: {exc}") from exc
        reads = self.engine
        if self.is_sqlite:
            _configure_sqlite(self.engine)
        elif self.is_postgresql:
            _configure_postgresql(self.engine)
            # PostgreSQL's default (READ COMMITTED) takes a new snapshot per statement; a
            # reader that reads the history's last id and then the vectors must see one.
            reads = self.engine.execution_options(isolation_level="REPEATABLE READ")
        self._reads = sessionmaker(reads, expire_on_commit=False)
        # Writers take the write lock up front. SQLite: a deferred transaction that read
        # first fails with SQLITE_BUSY at once (no busy wait) when another process wrote
        # meanwhile. PostgreSQL: they stay READ COMMITTED, so each statement sees what the
        # writer before them committed.
        self._writes = sessionmaker(
            self.engine.execution_options(**{_WRITER: True}), expire_on_commit=False
        )

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A transaction that sees one consistent snapshot."""
        with self._reads.begin() as session:
            yield session

    @contextmanager
    def writing(self) -> Iterator[Session]:
        """A transaction that commits on success and rolls back on error; one at a time."""
        with self._writes.begin() as session:
            yield session

    def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision, in one write transaction so a
        second process opening a new store at the same moment waits, then finds it done."""
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        try:
            with self.engine.connect() as connection, self._foreign_keys_off(connection):
                connection.execution_options(**{_WRITER: True})
                with connection.begin():
                    before = MigrationContext.configure(connection).get_current_revision()
                    config.attributes["connection"] = connection
                    command.upgrade(config, "head")
                    after = MigrationContext.configure(connection).get_current_revision()
                    if self.is_sqlite and after != before:
                        _check_foreign_keys(connection)
        except DBAPIError as exc:  # also "file is not a database" for a corrupt file
            raise EylaError(
                f"cannot open the memory database {self.display_url}: {exc.orig}"
            ) from exc

    def scrub_replaced_rows(self) -> None:
        """Leave no readable copy of the rows a forget or a deletion replaced.

        SQLite: copy the write-ahead log into the database file and empty it; the log still
        holds the pages a change replaced (secure_delete zeroed them in the file itself).
        PostgreSQL: an UPDATE or DELETE leaves the old row in the table's pages and plain
        VACUUM only marks its space free, so VACUUM FULL rewrites the tables that hold the
        user's words into new files. The server's own write-ahead log and backups keep old
        rows until the server recycles them; that is the server operator's to manage.
        """
        if self.is_postgresql:
            self._rewrite_erased_tables()
        elif self.is_sqlite:
            self._checkpoint_wal()

    def _checkpoint_wal(self) -> None:
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

    def _rewrite_erased_tables(self) -> None:
        try:
            # VACUUM cannot run inside a transaction
            autocommit = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            with autocommit as connection:
                connection.exec_driver_sql(f"VACUUM FULL {', '.join(_ERASED_TABLES)}")
        except OperationalError as exc:
            if getattr(exc.orig, "sqlstate", None) != _LOCK_NOT_AVAILABLE:
                raise
            log.warning(
                "memory database: another connection held the tables for longer than "
                "memory.busy_timeout_s, so the replaced rows stay in their free space until "
                "the next forget"
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


def _without_secrets(url: URL) -> str:
    """The URL to show: its password hidden, and query parameters that hold one (libpq's
    `password` and `sslpassword`) left out."""
    secret = [key for key in url.query if "password" in key.lower()]
    return url.difference_update_query(secret).render_as_string(hide_password=True)


def _libpq_timeouts(url: URL, busy_timeout_s: float) -> dict[str, object]:
    """busy_timeout_s as libpq settings: how long to wait for the server to answer, and for
    a lock (another writer's, or a VACUUM FULL's), as SQLite waits that long for its lock.
    Settings the URL gives win."""
    timeouts: dict[str, object] = {
        "connect_timeout": max(2, math.ceil(busy_timeout_s)),  # libpq's minimum is 2 s
        "options": f"-c lock_timeout={math.ceil(busy_timeout_s * 1000)}",
    }
    return {key: value for key, value in timeouts.items() if key not in url.query}


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
        writer = connection.get_execution_options().get(_WRITER, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if writer else "BEGIN DEFERRED")


def _configure_postgresql(engine: Engine) -> None:
    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        # PostgreSQL hands out serial ids before commit, so two writers at once could commit
        # history ids out of order and a reader would skip the lower one for good. Holding
        # one lock until commit makes ids commit-ordered, as SQLite's single writer does.
        if connection.get_execution_options().get(_WRITER, False):
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_WRITERS_LOCK})")


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

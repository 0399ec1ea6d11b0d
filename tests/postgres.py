"""A throwaway PostgreSQL server for the tests and the memory benchmark.

    server = start_server()   # None where no binaries are installed (see `missing_reason`)
    url = server.new_database("t1")
    ...
    server.stop()             # stops the server and deletes its files

The binaries come from the `pgserver` wheel (PostgreSQL 16 with pgvector, in the dev extra),
else from the machine (`initdb` on PATH, or /usr/lib/postgresql/*/bin). The server listens on
a unix socket in its own temp dir only, so it needs no free port and no password. PostgreSQL
refuses to run as root, so under root (as CI runs) it runs as the `postgres` user, or `nobody`.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import URL

SUPERUSER = "postgres"
_TOOLS = ("initdb", "pg_ctl", "postgres")


def missing_reason() -> str:
    return (
        "no PostgreSQL server binaries: `pip install -e .[dev]` brings them (pgserver), "
        "or install the machine's postgresql package"
    )


def find_binaries() -> Path | None:
    """The first directory whose initdb, pg_ctl and postgres the server's account can run."""
    account = _server_account()
    for directory in _candidates():
        if all(os.access(directory / tool, os.X_OK) for tool in _TOOLS) and _runs(
            directory / "postgres", account
        ):
            return directory
    return None


def start_server(settings: Mapping[str, str] | None = None) -> Server | None:
    """A new server, with `settings` added to its postgresql.conf; None without binaries."""
    bindir = find_binaries()
    return None if bindir is None else Server(bindir, settings or {})


class Server:
    """A running server in a temp dir of its own; `stop` removes it all."""

    def __init__(self, bindir: Path, settings: Mapping[str, str]) -> None:
        self.bindir = bindir
        # in the system temp dir, not pytest's: that is private to root under root, and
        # socket paths are limited to about 100 bytes
        self.root = Path(tempfile.mkdtemp(prefix="eyla-pg-"))
        self.data_dir = self.root / "data"
        self._account = _server_account()
        try:
            if self._account is not None:
                os.chown(self.root, self._account.pw_uid, self._account.pw_gid)
            self._run(
                "initdb",
                "-D", str(self.data_dir),
                "-U", SUPERUSER,
                "--auth=trust",  # reachable only through the socket in our own dir
                "--encoding=UTF8",
                "--no-locale",
                "--no-sync",
            )  # fmt: skip
            self.version = (self.data_dir / "PG_VERSION").read_text().strip()
            with (self.data_dir / "postgresql.conf").open("a") as conf:
                conf.write(
                    "listen_addresses = ''\n"
                    f"unix_socket_directories = '{self.root}'\n"
                    "fsync = off\n"  # throwaway data: durability only costs time
                )
                conf.writelines(f"{name} = '{value}'\n" for name, value in settings.items())
            self._run(
                "pg_ctl", "-D", str(self.data_dir), "-l", str(self.root / "log"), "-w", "start"
            )
        except BaseException:
            shutil.rmtree(self.root, ignore_errors=True)
            raise

    def url(self, database: str = "postgres") -> str:
        url = URL.create(
            "postgresql+psycopg",
            username=SUPERUSER,
            database=database,
            query={"host": str(self.root)},
        )
        return url.render_as_string(hide_password=False)

    def connect(self, database: str = "postgres") -> psycopg.Connection[Any]:
        return psycopg.connect(
            host=str(self.root), user=SUPERUSER, dbname=database, autocommit=True
        )

    def new_database(self, name: str) -> str:
        with self.connect() as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        with self.connect() as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def database_files(self, name: str) -> Iterator[Path]:
        """Every file of the database's tables and indexes, as on disk now."""
        with self.connect(name) as connection:
            row = connection.execute(
                "SELECT oid FROM pg_database WHERE datname = current_database()"
            ).fetchone()
        assert row is not None
        yield from (self.data_dir / "base" / str(row[0])).iterdir()

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def _run(self, tool: str, *args: str) -> None:
        result = subprocess.run(
            [str(self.bindir / tool), *args],
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=120,
            **_as_account(self._account),
        )
        if result.returncode != 0:
            log = self.root / "log"
            server_log = log.read_text() if log.exists() else ""
            raise RuntimeError(f"{tool} failed: {result.stderr}{result.stdout}{server_log}")


def _candidates() -> Iterator[Path]:
    spec = importlib.util.find_spec("pgserver")
    if spec is not None and spec.origin is not None:
        # the wheel's layout (its POSTGRES_BIN_PATH); not imported, because importing it
        # sets up its own server registry and lock file
        yield Path(spec.origin).parent / "pginstall" / "bin"
    on_path = shutil.which("initdb")
    if on_path is not None:
        yield Path(on_path).resolve().parent
    yield from sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)


def _server_account() -> pwd.struct_passwd | None:
    """The account the server runs as: None for this process's own, unless that is root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise RuntimeError("running as root, with no `postgres` or `nobody` user to run PostgreSQL as")


def _as_account(account: pwd.struct_passwd | None) -> dict[str, Any]:
    """subprocess.run arguments that run a command as `account`, with no extra groups."""
    if account is None:
        return {}
    return {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}


def _runs(postgres: Path, account: pwd.struct_passwd | None) -> bool:
    """Whether `account` can run it: under root the binaries may sit in a dir it cannot read."""
    try:
        result = subprocess.run(
            [str(postgres), "--version"], capture_output=True, timeout=30, **_as_account(account)
        )
    except OSError:
        return False
    return result.returncode == 0

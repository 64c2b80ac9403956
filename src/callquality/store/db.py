"""Engines, migrations and transactions for SQLite and PostgreSQL.

Database errors are wrapped here, at the edge: an unreachable database becomes
``StoreUnavailable`` (503 with Retry-After), never a 500; a value out of the database's
range becomes ``InvalidInput`` (400) for the request that met it; a database that cannot be
opened at all (``open_store``, as the CLI starts) becomes ``DatabaseOpenError``, one line for
the operator: the cause, the URL with its password hidden, and the URL forms that work.
Errors carry the SQL but never its parameters (``hide_parameters``).
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.exc import (
    ArgumentError,
    DataError,
    DBAPIError,
    DisconnectionError,
    InterfaceError,
    NoSuchModuleError,
    OperationalError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from callquality.config import DATABASE_URL_FORMS, DatabaseUrlError, hide_password
from callquality.domain.errors import InvalidInput, StoreUnavailable

MIGRATIONS = Path(__file__).parent / "migrations"
_MIGRATION_LOCK = 724_113_001  # pg_advisory_lock key: one migrator at a time


def create_store_engine(url: str) -> Engine:
    """An engine tuned for this service: WAL and IMMEDIATE writes on SQLite."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"timeout": 30, "check_same_thread": False},
            hide_parameters=True,
        )
        _tune_sqlite(engine)
        return engine
    engine = create_engine(
        url,
        pool_size=10,
        max_overflow=20,
        pool_pre_ping=True,
        pool_timeout=10,
        connect_args={"connect_timeout": 5},
        # An error's message and our log show the SQL, never the values bound to it (API
        # keys, secrets, names, ids: STYLE.md "No secrets in logs").
        hide_parameters=True,
    )
    _quiet_postgres_log(engine)
    return engine


# PostgreSQL's own log: with the defaults, an error is logged with its statement
# (log_min_error_statement = error), whose values are bound parameters and not in it, and
# without the parameters (log_parameter_max_length_on_error = 0); but an error's DETAIL can
# quote a value (a unique violation: "Key (api_key)=(...) already exists"). Each connection
# asks for no parameters (any role may) and, when its role is a superuser, for no statement
# and no DETAIL either; the rest is the server's configuration, docs/operations.md
# "PostgreSQL's log".
def _quiet_postgres_log(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("SELECT current_setting('is_superuser')")
            superuser = cursor.fetchone()[0] == "on"
            cursor.execute("SET log_parameter_max_length_on_error = 0")  # PostgreSQL 13+
            if superuser:  # not asked otherwise: a refusal would itself be logged
                cursor.execute("SET log_min_error_statement = panic")  # no STATEMENT line
                cursor.execute("SET log_error_verbosity = terse")  # no DETAIL line
            dbapi_connection.commit()
        except Exception:  # noqa: BLE001 - an older server: its configuration decides
            dbapi_connection.rollback()
        finally:
            cursor.close()


class DatabaseOpenError(Exception):
    """The database of a valid URL cannot be opened (message: cause, URL, forms that work)."""


def open_store(url: str, *, as_written: str | None = None) -> Engine:
    """An engine on a migrated database, or DatabaseUrlError / DatabaseOpenError in one line.

    For the command line (``serve`` and every command): the operator reads the message, so
    it names the URL (``as_written`` by the user, password hidden) and the database's own
    reason, which the API's ``StoreUnavailable`` never tells a client.
    """
    shown = hide_password(as_written or url)
    forms = f"URL forms that work: {DATABASE_URL_FORMS}"
    try:
        engine = create_store_engine(url)
    except (ArgumentError, NoSuchModuleError, ValueError) as exc:
        raise DatabaseUrlError(f"DATABASE_URL {shown!r} is not valid ({exc}). {forms}") from exc
    except OSError as exc:  # the SQLite file's folder cannot be made
        raise DatabaseOpenError(
            f"cannot open the database {shown}: cannot create the folder {exc.filename} "
            f"({exc.strerror}). {forms}"
        ) from exc
    try:
        migrate(engine)
    except StoreUnavailable as exc:
        engine.dispose()
        raise DatabaseOpenError(
            f"cannot open the database {shown}: {_reason(exc.__cause__, url)} {forms}"
        ) from exc
    return engine


def _reason(exc: BaseException | None, url: str) -> str:
    """The driver's own words on one line, as a sentence: 'database "x" does not exist.'"""
    original = getattr(exc, "orig", None) or exc
    lines = [" ".join(line.split()) for line in str(original).splitlines()]
    text = "; ".join(line for line in lines if line)
    # psycopg: 'connection failed: connection to server at "h", port 5432 failed: FATAL: ...'
    text = text.removeprefix("connection failed: ").replace("FATAL: ", "")
    if url.startswith("sqlite") and "unable to open database file" in text:
        text += " (is the path a file, not a folder, in a folder you may write?)"
    text = text or type(original).__name__
    return text if text.endswith((".", "?", "!")) else text + "."


def _tune_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode: a commit survives a crash of the process (SIGKILL); the last
        # commits may be lost on power loss (docs/scaling.md).
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get("sqlite_immediate", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def is_postgres(engine: Engine | Connection) -> bool:
    """Whether this is a PostgreSQL connection."""
    return engine.dialect.name == "postgresql"


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision (safe to run from several processes)."""
    with wrap_errors(), engine.connect() as conn:
        conn = conn.execution_options(sqlite_immediate=True)
        with conn.begin():
            if is_postgres(conn):
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK})
            config = Config()
            config.set_main_option("script_location", str(MIGRATIONS))
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
            # The days ahead's partitions of samples, made by every process as it starts.
            from callquality.store import sample_partitions  # here: it imports this module

            sample_partitions.ensure(conn, int(time.time() * 1000))


_OUT_OF_RANGE = (
    "a value is out of the range the database can store or add up; send numbers within the "
    "bounds of docs/api.md ('Bounds')"
)


@contextmanager
def wrap_errors() -> Iterator[None]:
    """Turn 'cannot reach the database' into StoreUnavailable.

    Covered: a refused or timed-out connect and a server that goes away mid-transaction
    (psycopg OperationalError, or InterfaceError once the connection is closed), SQLite's
    'database is locked' (OperationalError after busy_timeout), and no pooled connection
    free within pool_timeout (SQLAlchemy TimeoutError, while connects hang).
    """
    try:
        yield
    except DataError as exc:
        # A value the database cannot hold or add up: the request's fault, not an outage.
        raise InvalidInput(_OUT_OF_RANGE) from exc
    except OperationalError as exc:
        if "integer overflow" in str(exc.orig):  # SQLite's SUM() beyond 64 bits
            raise InvalidInput(_OUT_OF_RANGE) from exc
        raise StoreUnavailable(
            "the database is unavailable; retry after the Retry-After delay"
        ) from exc
    except (InterfaceError, DisconnectionError, PoolTimeoutError) as exc:
        raise StoreUnavailable(
            "the database connection was lost; retry after the Retry-After delay"
        ) from exc
    except DBAPIError as exc:
        if exc.connection_invalidated:
            raise StoreUnavailable(
                "the database connection was lost; retry after the Retry-After delay"
            ) from exc
        raise


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction that takes the write lock at once on SQLite."""
    if engine.dialect.name == "sqlite":
        # One writer at a time: threads queue on a lock, and processes on an flock() of a
        # file beside the database, instead of polling SQLite's busy handler, whose growing
        # sleeps made the ack latency's long tail. The kernel drops the flock of a killed
        # process; the busy handler stays as the fallback for writers that do not take it.
        with _sqlite_writer(engine), wrap_errors(), engine.connect() as conn:
            conn = conn.execution_options(sqlite_immediate=True)
            with conn.begin():
                yield conn
        return
    with wrap_errors(), engine.connect() as conn:
        conn = conn.execution_options(sqlite_immediate=True)
        with conn.begin():
            yield conn


class _SqliteWriter:
    """The write lock of one SQLite database file: a thread lock, then a file lock."""

    def __init__(self, database: str | None) -> None:
        self._lock = threading.RLock()
        self._depth = 0
        self._path = (
            f"{database}.writelock" if database and database != ":memory:"
            and not database.startswith("file:") else None
        )
        self._fd: int | None = None
        self._pid = 0

    def __enter__(self) -> None:
        self._lock.acquire()
        try:
            if self._depth == 0 and self._path is not None:
                if self._fd is None or self._pid != os.getpid():  # not a forked parent's
                    self._pid = os.getpid()
                    self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
                fcntl.flock(self._fd, fcntl.LOCK_EX)
        except OSError:
            # No lock file (read-only directory...): SQLite's own locking still holds.
            self._path = None
        self._depth += 1

    def __exit__(self, *_exc: object) -> None:
        self._depth -= 1
        if self._depth == 0 and self._fd is not None and self._path is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._lock.release()


_SQLITE_WRITERS: dict[str, _SqliteWriter] = {}
_SQLITE_WRITERS_LOCK = threading.Lock()


def _sqlite_writer(engine: Engine) -> _SqliteWriter:
    """The write lock of one SQLite database file (shared by the engines of a process)."""
    key = str(engine.url)
    with _SQLITE_WRITERS_LOCK:
        writer = _SQLITE_WRITERS.get(key)
        if writer is None:
            writer = _SQLITE_WRITERS[key] = _SqliteWriter(engine.url.database)
        return writer


@contextmanager
def read_transaction(engine: Engine) -> Iterator[Connection]:
    """A read-only unit of work (one consistent snapshot)."""
    with wrap_errors(), engine.connect() as conn, conn.begin():
        yield conn


def ping(engine: Engine) -> None:
    """Raise ``StoreUnavailable`` unless the database answers a trivial query."""
    with read_transaction(engine) as conn:
        conn.execute(text("SELECT 1"))


__all__ = [
    "DatabaseOpenError",
    "create_store_engine",
    "is_postgres",
    "migrate",
    "open_store",
    "ping",
    "read_transaction",
    "wrap_errors",
    "write_transaction",
]

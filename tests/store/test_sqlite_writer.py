"""SQLite's writer connection: every write_transaction of an engine on one connection with a
larger page cache, the readers on SQLite's default, and what is committed seen by both."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

from callquality.store.db import (
    SQLITE_WRITER_CACHE_KIB,
    create_store_engine,
    read_transaction,
    write_transaction,
)

_DEFAULT_CACHE = -2000  # SQLite's SQLITE_DEFAULT_CACHE_SIZE: 2,000 KiB


@pytest.fixture()
def engine(tmp_path: Path) -> Iterator[Engine]:
    eng = create_store_engine(f"sqlite:///{tmp_path / 'cq.db'}")
    with write_transaction(eng) as conn:
        conn.execute(sa.text("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)"))
    yield eng
    eng.dispose()


def _driver(conn: sa.Connection) -> Any:
    return conn.connection.dbapi_connection


def test_writes_run_with_the_writer_page_cache_and_reads_with_the_default(
    engine: Engine,
) -> None:
    with write_transaction(engine) as conn:
        assert conn.execute(sa.text("PRAGMA cache_size")).scalar() == -SQLITE_WRITER_CACHE_KIB
    with read_transaction(engine) as conn:
        assert conn.execute(sa.text("PRAGMA cache_size")).scalar() == _DEFAULT_CACHE
    assert SQLITE_WRITER_CACHE_KIB * 1024 > 2000 * 1024  # larger than a reader's


def test_every_write_transaction_uses_the_same_connection(engine: Engine) -> None:
    with write_transaction(engine) as conn:
        first = _driver(conn)
    # a reader checked out meanwhile, as a concurrent request holds one
    with read_transaction(engine) as reader:
        with write_transaction(engine) as conn:
            assert _driver(conn) is first
        assert _driver(reader) is not first
    done: list[Any] = []

    def write() -> None:
        with write_transaction(engine) as conn:
            done.append(_driver(conn))

    threads = [threading.Thread(target=write) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert done == [first] * 4


def test_readers_see_what_the_writer_committed(engine: Engine) -> None:
    with read_transaction(engine) as conn:  # a reader connection whose cache holds t
        assert conn.execute(sa.text("SELECT count(*) FROM t")).scalar() == 0
    with write_transaction(engine) as conn:
        conn.execute(sa.text("INSERT INTO t VALUES (1, 'a')"))
    with read_transaction(engine) as conn:
        assert conn.execute(sa.text("SELECT v FROM t WHERE k = 1")).scalar() == "a"
    with write_transaction(engine) as conn:
        conn.execute(sa.text("UPDATE t SET v = 'b' WHERE k = 1"))
    with read_transaction(engine) as conn:
        assert conn.execute(sa.text("SELECT v FROM t WHERE k = 1")).scalar() == "b"


def test_the_writer_sees_what_another_engine_committed(engine: Engine) -> None:
    """Another process's engine writes too: the writer's cache must not hide its rows."""
    with write_transaction(engine) as conn:
        conn.execute(sa.text("INSERT INTO t VALUES (1, 'a')"))
    other = create_store_engine(str(engine.url))
    try:
        with write_transaction(other) as conn:
            conn.execute(sa.text("UPDATE t SET v = 'other' WHERE k = 1"))
            conn.execute(sa.text("INSERT INTO t VALUES (2, 'b')"))
    finally:
        other.dispose()
    with write_transaction(engine) as conn:
        rows = conn.execute(sa.text("SELECT k, v FROM t ORDER BY k")).all()
    assert [tuple(r) for r in rows] == [(1, "other"), (2, "b")]


def test_a_failed_write_transaction_stores_nothing(engine: Engine) -> None:
    with pytest.raises(RuntimeError), write_transaction(engine) as conn:
        conn.execute(sa.text("INSERT INTO t VALUES (1, 'a')"))
        raise RuntimeError("the request failed")
    with read_transaction(engine) as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM t")).scalar() == 0
    with write_transaction(engine) as conn:  # the writer is usable again
        conn.execute(sa.text("INSERT INTO t VALUES (1, 'a')"))


def test_dispose_closes_the_writer_and_writes_go_on_after(engine: Engine) -> None:
    with write_transaction(engine) as conn:
        first = _driver(conn)
    engine.dispose()
    with pytest.raises(sqlite3.ProgrammingError):  # closed
        first.execute("SELECT 1")
    with write_transaction(engine) as conn:
        conn.execute(sa.text("INSERT INTO t VALUES (1, 'a')"))
        assert _driver(conn) is not first
    with read_transaction(engine) as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM t")).scalar() == 1


def test_an_in_memory_database_writes_and_reads_on_its_one_connection() -> None:
    """No writer connection of its own there: it would open another, empty, database."""
    engine = create_store_engine("sqlite://")
    try:
        with write_transaction(engine) as conn:
            conn.execute(sa.text("CREATE TABLE t (k INTEGER PRIMARY KEY)"))
            conn.execute(sa.text("INSERT INTO t VALUES (1)"))
            assert conn.execute(sa.text("PRAGMA cache_size")).scalar() == _DEFAULT_CACHE
        with read_transaction(engine) as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM t")).scalar() == 1
    finally:
        engine.dispose()

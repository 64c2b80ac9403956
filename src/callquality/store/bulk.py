"""Many rows in one statement, for ingest's large inserts and upserts.

SQLAlchemy's executemany spends 35-50 µs of Python per 75-column ``samples`` row (it builds
and processes a parameter dict per row), more than the database spends storing it
(docs/performance.md). Here the statement is built once per table, columns and conflict
clause, and the rows go to the database without that per-row work:

- **PostgreSQL**: all rows travel as one JSON array parameter and the server expands them
  (``INSERT ... SELECT ... FROM json_to_recordset(:rows) AS r(col type, ...)``), one
  statement and one round trip whatever the number of rows. Integer columns are read as
  double precision and cast on assignment, as the driver's float parameters were.
- **SQLite**: the statement is compiled once and run with the driver's executemany over
  plain tuples.

Rows must not repeat a conflict key within one call when the conflict clause updates
(PostgreSQL refuses to update a row twice in one statement); ingest's rows never do.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import orjson
import psycopg
from sqlalchemy import (
    Connection,
    Float,
    Integer,
    Table,
    Text,
    and_,
    bindparam,
    cast,
    column,
    delete,
    func,
    literal_column,
    select,
    true,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError

from callquality.store.db import is_postgres

# A dialect INSERT -> the statement to run (adds ON CONFLICT ...); None: a plain insert.
Finish = Callable[[Any], Any]

_STATEMENTS: dict[tuple[Any, ...], Any] = {}


def _cached(key: tuple[Any, ...], build: Callable[[], Any]) -> Any:
    """The statement built for ``key`` (built the first time it is asked for)."""
    statement = _STATEMENTS.get(key)
    if statement is None:
        statement = _STATEMENTS[key] = build()
    return statement


def insert_many(
    conn: Connection,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    finish: Finish | None = None,
) -> None:
    """Insert ``rows`` (dicts with the same keys) into ``table``, ``finish`` applied."""
    if not rows:
        return
    columns = tuple(rows[0])
    postgres = is_postgres(conn)
    build = _postgres_statement if postgres else _sqlite_statement
    statement = _cached(
        ("insert", table.name, columns, finish, postgres),
        lambda: build(table, columns, finish),
    )
    if postgres:
        conn.execute(statement, {"rows": orjson.dumps(list(rows)).decode()})
    else:
        sql, values = statement
        conn.exec_driver_sql(sql, list(map(values, rows)))


def copy_rows(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert ``rows`` (dicts with the same keys) into ``table``, with no conflict clause: a
    row whose key exists raises IntegrityError, as a plain INSERT would.

    PostgreSQL: ``COPY ... FROM STDIN`` in the connection's transaction (half the server's
    CPU per ``samples`` row of the JSON recordset, docs/performance.md); a float bound for an
    integer column is rounded as the recordset's cast rounds it (half to even). SQLite: the
    driver's executemany, as ``insert_many``.
    """
    if not rows:
        return
    if not is_postgres(conn):
        insert_many(conn, table, rows)
        return
    columns = tuple(rows[0])
    integers = [i for i, c in enumerate(columns) if isinstance(table.c[c].type, Integer)]
    driver: Any = conn.connection.dbapi_connection  # psycopg's Connection
    sql = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN"
    try:
        values_of = _values_of(columns)
        with driver.cursor() as cursor, cursor.copy(sql) as copy:
            for row in rows:
                values = list(values_of(row))
                for i in integers:
                    if type(values[i]) is float:
                        values[i] = round(values[i])
                copy.write_row(values)
    except psycopg.Error as exc:
        # The driver's own error, as SQLAlchemy raises it for a statement it runs
        # (IntegrityError, OperationalError...): what ingest retries and db.wrap_errors maps.
        raise DBAPIError.instance(sql, None, exc, psycopg.Error) from exc


def _postgres_statement(table: Table, columns: tuple[str, ...], finish: Finish | None) -> Any:
    recordset = (
        func.json_to_recordset(cast(bindparam("rows", type_=Text), postgresql.JSON))
        .table_valued(
            *(
                column(c, Float() if isinstance(table.c[c].type, Integer) else table.c[c].type)
                for c in columns
            )
        )
        .render_derived(name="r", with_types=True)
    )
    stmt = postgresql.insert(table).from_select(
        list(columns), select(*(recordset.c[c] for c in columns))
    )
    return finish(stmt) if finish is not None else stmt


def _sqlite_statement(
    table: Table, columns: tuple[str, ...], finish: Finish | None
) -> tuple[str, Callable[[Mapping[str, Any]], tuple[Any, ...]]]:
    """The SQL, and a row's parameters in its order (a tuple built in C: a generator over a
    row's 66 columns cost as much as the driver's insert of it)."""
    stmt = sqlite.insert(table).values({c: bindparam(c) for c in columns})
    stmt = finish(stmt) if finish is not None else stmt
    compiled = stmt.compile(dialect=sqlite.dialect())
    assert compiled.positiontup is not None
    return str(compiled), _values_of(tuple(compiled.positiontup))


def _values_of(columns: tuple[str, ...]) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    """A row's values of these columns, in their order, as a tuple."""
    if len(columns) == 1:  # itemgetter of one key gives the value, not a tuple
        return lambda row: (row[columns[0]],)
    return operator.itemgetter(*columns)


def select_by_keys(
    conn: Connection,
    table: Table,
    key_columns: tuple[str, ...],
    keys: Sequence[Sequence[Any]],
    columns: tuple[str, ...],
    *,
    for_update: bool = False,
) -> list[Any]:
    """The rows of ``table`` whose ``key_columns`` equal one of ``keys``: ``columns`` of each.

    One statement for any number of keys, built once: the keys travel as one JSON array,
    joined to the table by its index (``FOR UPDATE`` on PostgreSQL when asked).
    """
    if not keys:
        return []
    postgres = is_postgres(conn)
    statement = _cached(
        ("select", table.name, key_columns, columns, postgres, for_update),
        lambda: _select_statement(table, key_columns, columns, postgres, for_update),
    )
    return list(conn.execute(statement, {"keys": _keys_json(keys, key_columns, postgres)}))


def delete_by_keys(
    conn: Connection, table: Table, key_columns: tuple[str, ...], keys: Sequence[Sequence[Any]]
) -> None:
    """Delete the rows of ``table`` whose ``key_columns`` equal one of ``keys`` (one
    statement per key, through the index: for the few rows ingest deletes)."""
    if keys:
        statement = delete(table).where(*(table.c[c] == bindparam(c) for c in key_columns))
        conn.execute(statement, [dict(zip(key_columns, k, strict=True)) for k in keys])


def _keys_json(keys: Sequence[Sequence[Any]], key_columns: tuple[str, ...], postgres: bool) -> str:
    if postgres:  # json_to_recordset reads objects
        return orjson.dumps([dict(zip(key_columns, k, strict=True)) for k in keys]).decode()
    return orjson.dumps([list(k) for k in keys]).decode()


def _keys_recordset(table: Table, key_columns: tuple[str, ...]) -> Any:
    return (
        func.json_to_recordset(cast(bindparam("keys", type_=Text), postgresql.JSON))
        .table_valued(*(column(c, table.c[c].type) for c in key_columns))
        .render_derived(name="k", with_types=True)
    )


def _keyed(
    table: Table,
    key_columns: tuple[str, ...],
    postgres: bool,
    for_update: bool = False,
    columns: tuple[str, ...] = (),
) -> tuple[Any, Any]:
    """The FROM of the table's rows matching the keys' JSON (bound as ``keys``), and the
    columns of those rows there (``columns``, or all, on PostgreSQL).

    PostgreSQL: the keys' recordset CROSS JOIN LATERAL (the table's rows of each key),
    fenced with OFFSET 0: one index lookup per key, whatever the planner believes of the
    table's size (a plan cached while the table was small hashed the whole table instead).
    SQLite: json_each's rows drive the loop, each key found through the table's index
    (FOR UPDATE: SQLite's write transaction holds the whole database already).
    """
    if not postgres:
        each = func.json_each(bindparam("keys", type_=Text)).table_valued("value").alias("k")
        matches = and_(
            *(
                table.c[c] == func.json_extract(each.c.value, literal_column(f"'$[{i}]'"))
                for i, c in enumerate(key_columns)
            )
        )
        return each.join(table, matches), table.c
    recordset = _keys_recordset(table, key_columns)
    rows = (
        select(*(table.c[c] for c in columns or table.c.keys()))
        .where(*(table.c[c] == recordset.c[c] for c in key_columns))
        .offset(0)  # keeps the subquery from being merged into a join of the two
    )
    if for_update:
        rows = rows.with_for_update()
    lateral = rows.lateral("t")
    return recordset.join(lateral, true()), lateral.c


def _select_statement(
    table: Table,
    key_columns: tuple[str, ...],
    columns: tuple[str, ...],
    postgres: bool,
    for_update: bool,
) -> Any:
    frm, src = _keyed(table, key_columns, postgres, for_update, columns)
    return select(*(src[c] for c in columns)).select_from(frm)


# Builds the statement of upsert_selected: (the FROM of the source rows matching the keys,
# the source's columns there) -> (target table, SELECT of target columns, conflict keys).
SelectBuilder = Callable[[Any, Any], tuple[Table, Any, tuple[str, ...]]]


def upsert_selected(
    conn: Connection,
    source: Table,
    key_columns: tuple[str, ...],
    keys: Sequence[Sequence[Any]],
    build: SelectBuilder,
) -> None:
    """INSERT INTO target SELECT ... (from ``source`` rows matching ``keys``), replacing the
    target rows with the same conflict key: one statement for any number of keys."""
    if not keys:
        return
    postgres = is_postgres(conn)
    statement = _cached(
        ("upsert", source.name, key_columns, build, postgres),
        lambda: _upsert_statement(source, key_columns, build, postgres),
    )
    conn.execute(statement, {"keys": _keys_json(keys, key_columns, postgres)})


def _upsert_statement(
    source: Table, key_columns: tuple[str, ...], build: SelectBuilder, postgres: bool
) -> Any:
    target, query, conflict = build(*_keyed(source, key_columns, postgres))
    names = [c.name for c in query.selected_columns]
    insert = (postgresql.insert if postgres else sqlite.insert)(target)
    # WHERE true: SQLite's INSERT ... SELECT ... ON CONFLICT needs it to parse.
    stmt = insert.from_select(names, query.where(true()))
    return stmt.on_conflict_do_update(
        index_elements=list(conflict),
        set_={n: stmt.excluded[n] for n in names if n not in conflict},
    )

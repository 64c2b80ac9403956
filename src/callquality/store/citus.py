"""The schema on a distributed PostgreSQL (Citus): the statements that distribute it, from
the marks of store/schema.py (``info["citus"]``), and the rule those marks must keep.

The rule: Citus enforces a unique key on one shard only, so a hash-distributed table needs
its distribution column in every unique key (primary key, UNIQUE constraint or index), and
that column NOT NULL; a table without a mark has no place on the cluster. Reference and
single-shard tables have a whole copy of their rows on one node: no condition on keys.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from sqlalchemy import Connection, MetaData, Table, UniqueConstraint, text

from callquality.store.schema import Spread, metadata


def spread(table: Table) -> Spread | None:
    """The table's mark (None: unmarked)."""
    mark = table.info.get("citus")
    return mark if isinstance(mark, Spread) else None


def statements(schema: MetaData = metadata) -> list[str]:
    """The SQL that distributes the tables, run once on the coordinator after the
    migrations: reference tables first, then each group colocated with its first table."""
    lines: list[str] = []
    leaders: dict[str, str] = {}
    tables = list(schema.tables.values())
    for table in tables:
        mark = spread(table)
        if mark is not None and mark.reference:
            lines.append(f"SELECT create_reference_table('{table.name}');")
    for table in tables:
        mark = spread(table)
        if mark is None or mark.reference:
            continue
        column = "null" if mark.column is None else f"'{mark.column}'"
        colocate = leaders.setdefault(mark.group, table.name)
        with_ = "none" if colocate == table.name else colocate
        lines.append(
            f"SELECT create_distributed_table('{table.name}', {column}, "
            f"colocate_with => '{with_}');"
        )
    return lines


def violations(
    marks: Mapping[str, Spread | None],
    unique_keys: Mapping[str, Iterable[frozenset[str]]],
    nullable: Mapping[str, set[str]],
) -> list[str]:
    """What breaks the rule, one sentence each: ``marks`` of every table, ``unique_keys``
    the column sets of each table's unique keys, ``nullable`` its nullable columns."""
    found: list[str] = []
    for name, mark in sorted(marks.items()):
        if mark is None:
            found.append(f"{name}: no Citus mark (info['citus'] in store/schema.py)")
            continue
        if mark.column is None:
            continue
        if mark.column in nullable.get(name, set()):
            found.append(f"{name}: its distribution column {mark.column} may be NULL")
        for key in unique_keys.get(name, ()):
            if mark.column not in key:
                found.append(
                    f"{name}: unique key ({', '.join(sorted(key))}) lacks the distribution "
                    f"column {mark.column}"
                )
    return found


def metadata_violations(schema: MetaData = metadata) -> list[str]:
    """The rule checked on SQLAlchemy's metadata (store/schema.py as declared)."""
    keys: dict[str, list[frozenset[str]]] = {}
    for table in schema.tables.values():
        found = keys[table.name] = [frozenset(c.name for c in table.primary_key.columns)]
        found += [frozenset(c.name for c in i.columns) for i in table.indexes if i.unique]
        found += [frozenset([c.name]) for c in table.columns if c.unique]
        found += [
            frozenset(c.name for c in k.columns)
            for k in table.constraints if isinstance(k, UniqueConstraint)
        ]
    return violations(
        {t.name: spread(t) for t in schema.tables.values()},
        keys,
        {t.name: {c.name for c in t.columns if c.nullable} for t in schema.tables.values()},
    )


# Alembic's own table stays a local table of the coordinator, where the migrations run.
_LOCAL = {"alembic_version"}


def catalog_violations(conn: Connection, schema: MetaData = metadata) -> list[str]:
    """The rule checked on a migrated PostgreSQL database's catalog (what the migrations
    made, partitions aside: Citus distributes a partitioned table with its partitions)."""
    tables = [
        name for name in conn.execute(text(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') "
            "AND NOT c.relispartition"
        )).scalars() if name not in _LOCAL
    ]
    keys: dict[str, list[frozenset[str]]] = {}
    for name, columns in conn.execute(text(
        "SELECT c.relname, array_agg(a.attname::text) FROM pg_index i "
        "JOIN pg_class c ON c.oid = i.indrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = ANY(i.indkey) "
        "WHERE i.indisunique AND n.nspname = current_schema() AND NOT c.relispartition "
        "GROUP BY i.indexrelid, c.relname"
    )):
        keys.setdefault(name, []).append(frozenset(columns))
    nullable: dict[str, set[str]] = {}
    for name, column in conn.execute(text(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND is_nullable = 'YES'"
    )):
        nullable.setdefault(name, set()).add(column)
    declared = schema.tables
    return violations(
        {n: spread(declared[n]) if n in declared else None for n in tables}, keys, nullable
    )

"""The schema stays distributable on Citus: every table marked, every unique key of a
hash-distributed table holding its distribution column, on store/schema.py's metadata and
on the catalog of a migrated PostgreSQL database; docs/scaling.md gives the marks' SQL."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import migrated_pg_engine

from callquality.store import citus
from callquality.store.schema import BY_SESSION, metadata

SCALING = Path(__file__).resolve().parents[2] / "docs" / "scaling.md"


@pytest.fixture(scope="module")
def pg() -> Iterator[sa.Engine]:
    with migrated_pg_engine("cq_citus") as engine:
        yield engine


def test_every_table_is_marked_and_keeps_the_rule() -> None:
    assert all(citus.spread(t) is not None for t in metadata.tables.values())
    assert citus.metadata_violations() == []
    assert citus.spread(metadata.tables["samples"]) == BY_SESSION


def test_a_key_without_the_distribution_column_or_a_table_unmarked_is_reported() -> None:
    drifted = sa.MetaData()
    for table in metadata.tables.values():
        table.to_metadata(drifted)
    sa.Index("ux_sessions_room", drifted.tables["sessions"].c.room_id, unique=True)
    sa.Table("scratch", drifted, sa.Column("id", sa.Integer, primary_key=True))
    drifted.tables["participants"].c.session_id.nullable = True
    assert citus.metadata_violations(drifted) == [
        "participants: its distribution column session_id may be NULL",
        "scratch: no Citus mark (info['citus'] in store/schema.py)",
        "sessions: unique key (room_id) lacks the distribution column session_id",
    ]


def test_the_migrated_catalog_keeps_the_rule(pg: sa.Engine) -> None:
    with pg.connect() as conn:
        assert citus.catalog_violations(conn) == []


def test_a_drift_of_the_catalog_is_reported(pg: sa.Engine) -> None:
    with pg.connect() as conn, conn.begin():
        conn.execute(sa.text("CREATE UNIQUE INDEX ux_drift ON samples (timestamp_ms)"))
        conn.execute(sa.text("CREATE TABLE scratch (id int PRIMARY KEY)"))
        assert citus.catalog_violations(conn) == [
            "samples: unique key (timestamp_ms) lacks the distribution column session_id",
            "scratch: no Citus mark (info['citus'] in store/schema.py)",
        ]
        conn.rollback()


def test_the_scaling_doc_gives_the_statements_of_the_marks() -> None:
    text = SCALING.read_text(encoding="utf-8")
    section = text.split("\n## PostgreSQL at size\n", 1)[1].split("\n## ", 1)[0]
    lines = re.findall(r"^SELECT create_\w+\(.*\);$", section, flags=re.MULTILINE)
    assert lines == citus.statements()
    assert len(lines) == len(metadata.tables)

"""The migrations build exactly ``store/schema.py``, on both databases, and the samples
columns are the sample's fields: a drift in either fails here."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import fields
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from conftest import fresh_pg_database

from callquality.domain.sample import DirectionStats
from callquality.store.db import create_store_engine, migrate
from callquality.store.sample_partitions import is_partition
from callquality.store.schema import DIRECTIONS, KINDS, STAT_FIELDS, metadata, samples, stat_column


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of each backend, for this test alone."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    with fresh_pg_database("cq_schema") as url:
        yield url


def _not_a_partition(name: str | None, type_: str, _parents: object) -> bool:
    """samples' partitions are made by store/sample_partitions.py, not declared."""
    return not (type_ == "table" and name is not None and is_partition(name))


def _differences(url: str, target: sa.MetaData) -> list[object]:
    engine = create_store_engine(url)
    migrate(engine)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn,
                opts={"compare_type": True, "compare_server_default": False,
                      "include_name": _not_a_partition},
            )
            diff: list[object] = compare_metadata(context, target)
    finally:
        engine.dispose()
    # alembic_version is Alembic's own table, not ours.
    return [d for d in diff if "alembic_version" not in repr(d)]


def test_the_migrations_build_exactly_the_schema(fresh_url: str) -> None:
    assert _differences(fresh_url, metadata) == []


def test_a_column_missing_from_the_migrations_is_reported(fresh_url: str) -> None:
    drifted = sa.MetaData()
    for table in metadata.tables.values():
        table.to_metadata(drifted)
    drifted.tables["samples"].append_column(sa.Column("audio_send_new_field_ms", sa.Float()))
    differences = _differences(fresh_url, drifted)
    assert any("audio_send_new_field_ms" in repr(d) for d in differences), differences


def test_every_field_of_a_direction_has_its_column_of_each_kind_and_direction() -> None:
    assert STAT_FIELDS == tuple(f.name for f in fields(DirectionStats))
    for kind in KINDS:
        for direction in DIRECTIONS:
            for name in STAT_FIELDS:
                assert stat_column(kind, direction, name) in samples.c

"""samples' day partitions on PostgreSQL: made ahead, never missing for an insert, dropped
whole by retention, the same unique key as before (idempotent ingest), and migration 0015
converting a table with rows (and back)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from conftest import fresh_pg_database, migrated_pg_engine
from support.items import sample_item
from support.server import RunningServer

from callquality.config import Settings
from callquality.service.retention import purge_expired
from callquality.store import sample_partitions as parts
from callquality.store.db import MIGRATIONS, create_store_engine, write_transaction
from callquality.store.schema import samples

DAY = parts.DAY_MS


@pytest.fixture
def pg() -> Iterator[sa.Engine]:
    """A migrated PostgreSQL database of this test's own."""
    with migrated_pg_engine("cq_parts") as engine:
        yield engine


def _rows(engine: sa.Engine, *rows: tuple[int, int]) -> None:
    """Insert samples rows (timestamp_ms, received_ms) of one stream."""
    with write_transaction(engine) as conn:
        conn.execute(samples.insert(), [
            {"session_id": "s", "participant_id": "p", "peer_connection_id": "pc",
             "timestamp_ms": ts, "received_ms": received} for ts, received in rows
        ])


def _where(engine: sa.Engine) -> dict[int, str]:
    """timestamp_ms -> the partition holding its row."""
    with engine.connect() as conn:
        return {int(ts): str(name) for ts, name in conn.execute(
            sa.text("SELECT timestamp_ms, tableoid::regclass::text FROM samples"))}


def test_yesterday_to_days_ahead_have_partitions_and_other_rows_go_to_the_default(
    pg: sa.Engine,
) -> None:
    today = int(time.time() * 1000) // DAY
    with pg.connect() as conn:
        assert parts.days(conn) == list(range(today - 1, today + parts.AHEAD_DAYS + 1))
    old, ahead = (today - 40) * DAY + 5, (today + parts.AHEAD_DAYS + 2) * DAY + 7
    _rows(pg, (today * DAY + 1, today * DAY + 1), (old, today * DAY), (ahead, today * DAY))
    assert _where(pg) == {today * DAY + 1: parts.partition_name(today),
                          old: parts.DEFAULT, ahead: parts.DEFAULT}
    # Days later the sweep makes that day's partition: the row moves out of the default.
    with write_transaction(pg) as conn:
        made = parts.ensure(conn, (today + parts.AHEAD_DAYS + 2) * DAY)
    assert parts.AHEAD_DAYS + 2 in [d - today for d in made]
    assert _where(pg)[ahead] == parts.partition_name(today + parts.AHEAD_DAYS + 2)
    with pg.connect() as conn:  # the partition has samples' unique key and index
        indexes = {r[0] for r in conn.execute(sa.text(
            "SELECT indexdef FROM pg_indexes WHERE tablename = :t"),
            {"t": parts.partition_name(today + parts.AHEAD_DAYS + 2)})}
    assert any("UNIQUE" in i and "timestamp_ms" in i for i in indexes), indexes
    assert any("received_ms" in i for i in indexes), indexes


def test_retention_drops_expired_days_whole_and_deletes_only_late_received_rows(
    pg: sa.Engine,
) -> None:
    today = int(time.time() * 1000) // DAY
    yesterday = (today - 1) * DAY
    _rows(pg,
          (yesterday + 10, yesterday + 20), (yesterday + 11, yesterday + 21),  # live traffic
          (today * DAY + 10, today * DAY + 20),
          (today * DAY + 11, (today + 2) * DAY),  # today's, but received two days later
          ((today - 50) * DAY, yesterday), ((today - 51) * DAY, (today + 2) * DAY))  # default
    # Cut-off at today's start: yesterday's partition goes whole, today's straddles it and
    # stays, the default loses its row received before the cut-off.
    assert parts.drop_expired(pg, today * DAY) == 3
    with pg.connect() as conn:
        assert parts.partition_name(today - 1) not in map(parts.partition_name, parts.days(conn))
    assert sorted(_where(pg)) == [(today - 51) * DAY, today * DAY + 10, today * DAY + 11]
    # A day later: today's partition holds a row received after that cut-off, so only its
    # other row goes, by DELETE, and the partition stays.
    assert parts.drop_expired(pg, (today + 1) * DAY) == 1
    assert _where(pg) == {(today - 51) * DAY: parts.DEFAULT,
                          today * DAY + 11: parts.partition_name(today)}


def test_a_drop_behind_a_long_transaction_waits_for_the_next_sweep(pg: sa.Engine) -> None:
    today = int(time.time() * 1000) // DAY
    _rows(pg, ((today - 1) * DAY + 1, (today - 1) * DAY + 1))
    with pg.connect() as reader, reader.begin():
        reader.execute(sa.text("SELECT count(*) FROM samples"))  # holds its lock until the end
        started = time.monotonic()
        assert parts.drop_expired(pg, today * DAY) == 0
        assert time.monotonic() - started < 10
    assert parts.drop_expired(pg, today * DAY) == 1


def test_the_same_item_posted_twice_is_stored_once_in_its_days_partition(
    server: RunningServer,
) -> None:
    now = int(time.time() * 1000)
    item = sample_item(f"twice-{now}", "a", now - 1000)
    tenant = server.new_tenant()
    with server.client(tenant) as client:
        first = client.post("/v2/stats", json=[item])
        second = client.post("/v2/stats", json=[item, item])
    assert first.status_code == second.status_code == 202, second.text
    session_id = first.json()["sessionIds"][0]
    engine: sa.Engine = server.engine  # type: ignore[assignment]
    with engine.connect() as conn:
        stored = conn.execute(sa.select(sa.func.count()).select_from(samples).where(
            samples.c.session_id == session_id)).scalar_one()
        if engine.dialect.name == "postgresql":
            holder = conn.execute(sa.text(
                "SELECT DISTINCT tableoid::regclass::text FROM samples WHERE session_id = :s"),
                {"s": session_id}).scalar_one()
            assert holder == parts.partition_name((now - 1000) // DAY)
    assert stored == 1


def _alembic(conn: sa.Connection, revision: str, down: bool = False) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = conn
    (command.downgrade if down else command.upgrade)(config, revision)


def _all_rows(conn: sa.Connection) -> list[Any]:
    return sorted(conn.execute(sa.text(
        "SELECT session_id, participant_id, peer_connection_id, timestamp_ms, received_ms, "
        "audio_mos, score_inputs FROM samples")).all())


def _relkind(conn: sa.Connection) -> str:
    return str(conn.execute(
        sa.text("SELECT relkind FROM pg_class WHERE oid = 'samples'::regclass")).scalar_one())


def test_migration_0015_partitions_a_table_with_rows_and_back() -> None:
    today = int(time.time() * 1000) // DAY
    stamps = [(today - 400) * DAY, (today - 30) * DAY + 5, today * DAY + 9]
    with fresh_pg_database("cq_mig15") as url:
        engine = create_store_engine(url)
        with engine.connect() as conn, conn.begin():
            _alembic(conn, "0014")
            conn.execute(sa.text(
                "INSERT INTO samples (session_id, participant_id, peer_connection_id, "
                "timestamp_ms, received_ms, audio_mos, score_inputs) "
                "VALUES (:s, 'p', 'pc', :ts, :ts, 4.1, '{}')"),
                [{"s": f"s{i}", "ts": ts} for i, ts in enumerate(stamps)])
            before = _all_rows(conn)
            assert _relkind(conn) == "r"
        with engine.connect() as conn, conn.begin():
            _alembic(conn, "0015")
            assert _relkind(conn) == "p"
            assert _all_rows(conn) == before
            holders = dict(conn.execute(sa.text(
                "SELECT timestamp_ms, tableoid::regclass::text FROM samples")).all())
            assert holders == {stamps[0]: parts.DEFAULT,  # older than a year: the default
                               stamps[1]: parts.partition_name(today - 30),
                               stamps[2]: parts.partition_name(today)}
            with pytest.raises(sa.exc.IntegrityError), conn.begin_nested():  # key unchanged
                conn.execute(sa.text(
                    "INSERT INTO samples (session_id, participant_id, peer_connection_id, "
                    "timestamp_ms, received_ms) VALUES ('s2', 'p', 'pc', :ts, 0)"),
                    {"ts": stamps[2]})
        with engine.connect() as conn, conn.begin():
            _alembic(conn, "0014", down=True)
            assert _relkind(conn) == "r"
            assert _all_rows(conn) == before
            assert not [n for n in sa.inspect(conn).get_table_names() if parts.is_partition(n)]
        engine.dispose()


def test_the_hourly_purge_drops_expired_days_and_makes_the_days_ahead(pg: sa.Engine) -> None:
    now = int(time.time() * 1000)
    today = now // DAY
    _rows(pg, (now - 10, now - 5), ((today - 200) * DAY, now - 5))
    later = now + 3 * DAY  # RETENTION_DAYS 1: today's day partition is past the cut-off
    assert purge_expired(pg, Settings(retention_days=1), later) == 2
    with pg.connect() as conn:
        made = parts.days(conn)
    assert today not in made
    assert made[-1] == today + 3 + parts.AHEAD_DAYS


def test_a_row_committed_to_the_default_while_its_day_is_made_moves_with_it(
    pg: sa.Engine,
) -> None:
    today = int(time.time() * 1000) // DAY
    day = today + parts.AHEAD_DAYS + 3
    with write_transaction(pg) as conn:  # the day before: the row's day is the first made
        parts.create(conn, day - 1)
    made: list[int] = []
    with pg.connect() as writer:
        writer.begin()
        writer.execute(samples.insert(), {
            "session_id": "s", "participant_id": "p", "peer_connection_id": "pc",
            "timestamp_ms": day * DAY + 1, "received_ms": day * DAY + 1})

        def make() -> None:
            with write_transaction(pg) as conn:
                made.extend(parts.ensure(conn, day * DAY))

        maker = threading.Thread(target=make)
        maker.start()
        time.sleep(0.5)  # the maker waits for this insert's transaction
        writer.commit()
        maker.join(30)
    assert day in made
    assert _where(pg) == {day * DAY + 1: parts.partition_name(day)}


def test_two_processes_sweeping_at_once_drop_each_partition_once(pg: sa.Engine) -> None:
    today = int(time.time() * 1000) // DAY
    _rows(pg, *(((today - 1) * DAY + i, (today - 1) * DAY + i) for i in range(50)))
    purged: list[int] = []
    sweeps = [threading.Thread(target=lambda: purged.append(parts.drop_expired(pg, today * DAY)))
              for _ in range(2)]
    for sweep in sweeps:
        sweep.start()
    for sweep in sweeps:
        sweep.join(30)
    assert sorted(purged) == [0, 50]

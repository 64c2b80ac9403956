"""The ``analytics_daily`` table (schema.py): daily pre-aggregates of participant_summaries.

service/rollups.py decides what each participant-session adds; this module stores the rows,
encodes the score counts and reads them back for query/analytics.py.
"""

from __future__ import annotations

import sys
import zlib
from array import array
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, and_, bindparam, delete, select, text
from sqlalchemy.dialects import postgresql, sqlite

from callquality.store import bulk
from callquality.store.db import is_postgres
from callquality.store.schema import analytics_daily

KINDS = ("any", "audio", "video")
DIMENSIONS = ("browser", "os", "device", "sdk", "connection", "network", "country", "asn",
              "codec")
ALL = "all"  # the dimension whose one value ("") counts every participant-session
UNKNOWN_VALUE = ""  # a missing dimension value, as stored
KEY = ("api_key", "day", "kind", "dimension", "value")
Key = tuple[str, int, str, str, str]
# Two-decimal mean scores 0.00..5.00 (MOS 1.0-4.5, video 1.0-5.0): the count of each.
SCORE_BINS = 501
# Any fixed number: the PostgreSQL advisory lock that serialises summary refreshes, so two
# API processes never add the same participant-session's change twice (SQLite's write lock
# does the same there).
_LOCK_ID = 16_000_016
T = analytics_daily.c


def score_index(score: float) -> int:
    """The bin of a two-decimal score (score x 100)."""
    index = round(score * 100)
    if not 0 <= index < SCORE_BINS:
        raise ValueError(f"score {score} is outside 0.00..5.00")
    return index


def encode_counts(counts: Mapping[int, int]) -> bytes:
    """The count of each score (index = score x 100) as zlib of little-endian int32s."""
    bins = array("i", bytes(4 * SCORE_BINS))
    for index, n in counts.items():
        if not 0 <= index < SCORE_BINS:
            raise ValueError(f"score {index / 100} is outside 0.00..5.00")
        bins[index] = n
    if sys.byteorder == "big":
        bins.byteswap()
    return zlib.compress(bins.tobytes(), 1)  # mostly zeros: the fastest level suffices


def decode_counts(blob: bytes) -> array[int]:
    """The counts :func:`encode_counts` stored, as an array indexed by score x 100."""
    bins = array("i", zlib.decompress(blob))
    if sys.byteorder == "big":
        bins.byteswap()
    return bins


def lock(conn: Connection) -> None:
    """Take the refresh lock for the rest of the transaction (PostgreSQL; a no-op on
    SQLite, whose write transaction already excludes other writers)."""
    if is_postgres(conn):
        conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _LOCK_ID})


def rows_by_keys(conn: Connection, keys: Sequence[Key]) -> list[Any]:
    """The stored rows of these keys (those that exist)."""
    columns = tuple(c.name for c in analytics_daily.c)
    return bulk.select_by_keys(conn, analytics_daily, KEY, keys, columns)


def save(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert or replace these rows (every column given)."""
    if not rows:
        return
    dialect = postgresql if is_postgres(conn) else sqlite
    statement = dialect.insert(analytics_daily)
    statement = statement.on_conflict_do_update(
        index_elements=list(KEY),
        set_={c: statement.excluded[c] for c in rows[0] if c not in KEY},
    )
    conn.execute(statement, list(rows))


def delete_keys(conn: Connection, keys: Iterable[Key]) -> None:
    """Delete the rows of these keys."""
    statement = delete(analytics_daily).where(
        and_(*(T[c] == bindparam(c) for c in KEY))
    )
    values = [dict(zip(KEY, k, strict=True)) for k in keys]
    if values:
        conn.execute(statement, values)


def read(
    conn: Connection,
    api_key: str,
    kind: str,
    dimension: str,
    first_day: int,
    last_day: int,
    values: Sequence[str] | None,
    days: Sequence[int] | None,
) -> list[Any]:
    """The rows of one tenant, kind and dimension over whole days [first_day, last_day],
    optionally only these values and these days."""
    query = select(analytics_daily).where(
        T.api_key == api_key, T.kind == kind, T.dimension == dimension,
        T.day >= first_day, T.day <= last_day,
    )
    if values is not None:
        query = query.where(T.value.in_(list(values)))
    if days is not None:
        query = query.where(T.day.in_(list(days)))
    return list(conn.execute(query))

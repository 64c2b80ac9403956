"""The SQL of fleet analytics over ``participant_summaries`` (query/analytics.py shapes it).

Each read is one scan of the tenant's rows in the period (index ``api_key, day``), grouped
by the wanted dimensions and by a value whose distribution the caller needs (the MOS of each
participant-session, rounded to two decimals when stored, or the cause): the percentiles and
the shares are then exact from those counts, whatever the number of rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    and_,
    case,
    func,
    literal,
    literal_column,
    or_,
    select,
)

from callquality.store.schema import participant_summaries

T = participant_summaries.c
DAY_MS = 86_400_000
UNKNOWN = "unknown"


def dimension(name: str, kind: str | None) -> ColumnElement[Any]:
    """The column of one dimension of the API (``codec`` is the kind's codec)."""
    columns: dict[str, ColumnElement[Any]] = {
        "day": T.day,
        "hour": T.hour,
        "browser": T.browser,
        "os": T.os,
        "device": T.device,
        "sdk": T.sdk,
        "connection": T.connection,
        "network": T.network,
        "country": T.country,
        "asn": T.asn,
        "codec": T.codec_video if kind == "video" else T.codec_audio,
        "room": T.room_id,
    }
    return columns[name]


@dataclass(frozen=True, slots=True)
class Scope:
    """Which participant-sessions: a tenant, a period (start in [from, to)), filters, kind."""

    api_key: str
    from_ms: int
    to_ms: int
    filters: Mapping[str, Sequence[str]]
    kind: str | None


def _kind_columns(kind: str | None) -> dict[str, ColumnElement[Any]]:
    if kind in ("audio", "video"):
        k = "audio" if kind == "audio" else "video"
        return {
            "has": T[f"{k}_scored_ms"] > 0,
            "poor": func.coalesce(T[f"{k}_poor"], 0),
            "poor_ms": func.coalesce(T[f"{k}_poor_ms"], 0),
            "scored_ms": func.coalesce(T[f"{k}_scored_ms"], 0),
            "cause": T[f"{k}_cause"],
        }
    return {
        "has": T.measured_ms > 0,
        "poor": case((or_(T.audio_poor == 1, T.video_poor == 1), 1), else_=0),
        "poor_ms": func.coalesce(T.audio_poor_ms, 0) + func.coalesce(T.video_poor_ms, 0),
        "scored_ms": func.coalesce(T.audio_scored_ms, 0) + func.coalesce(T.video_scored_ms, 0),
        "cause": T.likely_cause,
    }


def _where(scope: Scope) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [
        T.api_key == scope.api_key,
        T.day >= scope.from_ms // DAY_MS,  # the index's range; start_ms says exactly
        T.day <= (scope.to_ms - 1) // DAY_MS,
        T.start_ms >= scope.from_ms,
        T.start_ms < scope.to_ms,
        _kind_columns(scope.kind)["has"],
    ]
    for name, values in scope.filters.items():
        col = dimension(name, scope.kind)
        known = [v for v in values if v != UNKNOWN]
        alternatives: list[ColumnElement[bool]] = []
        if known:
            alternatives.append(col.in_([int(v) for v in known] if name in ("day", "hour")
                                        else known))
        if UNKNOWN in values:
            alternatives.append(col.is_(None))
        conditions.append(or_(*alternatives))
    return conditions


def groups_by_score(
    conn: Connection, scope: Scope, group_by: Sequence[str], score: str
) -> list[Any]:
    """Per (groups..., score value): participant-sessions, measured ms, poor streams, poor
    and scored ms; ``score`` is ``audio_mos_mean`` or ``video_vq_mean``."""
    k = _kind_columns(scope.kind)
    keys = [dimension(g, scope.kind).label(f"g{i}") for i, g in enumerate(group_by)]
    value = T[score].label("score")
    query = (
        select(
            *keys,
            value,
            func.count().label("sessions"),
            func.sum(T.measured_ms).label("measured_ms"),
            func.sum(k["poor"]).label("poor"),
            func.sum(k["poor_ms"]).label("poor_ms"),
            func.sum(k["scored_ms"]).label("scored_ms"),
        )
        .where(and_(*_where(scope)))
        .group_by(*keys, value)
    )
    return list(conn.execute(query))


def score_counts(
    conn: Connection, scope: Scope, group_by: Sequence[str], score: str
) -> list[Any]:
    """Per (groups..., score value): how many participant-sessions had it."""
    keys = [dimension(g, scope.kind).label(f"g{i}") for i, g in enumerate(group_by)]
    value = T[score].label("score")
    query = (
        select(*keys, value, func.count().label("sessions"))
        .where(and_(*_where(scope)), T[score].is_not(None))
        .group_by(*keys, value)
    )
    return list(conn.execute(query))


def cause_counts(conn: Connection, scope: Scope, group_by: Sequence[str]) -> list[Any]:
    """Per (groups..., likely cause) of the poor participant-sessions: how many."""
    k = _kind_columns(scope.kind)
    keys = [dimension(g, scope.kind).label(f"g{i}") for i, g in enumerate(group_by)]
    cause = func.coalesce(k["cause"], literal("unclear")).label("cause")
    query = (
        select(*keys, cause, func.count().label("sessions"))
        .where(and_(*_where(scope)), k["poor"] == 1)
        .group_by(*keys, cause)
    )
    return list(conn.execute(query))


def worst(
    conn: Connection, scope: Scope, limit: int, offset: int, *, poor_only: bool
) -> list[Any]:
    """The participant-sessions with the largest poor share of the kind('s streams), then
    the lowest MOS. ``poor_only``: among those with poor time alone, which come first
    (through the partial index ``ix_participant_summaries_poor``: few rows)."""
    k = _kind_columns(scope.kind)
    share = (k["poor_ms"] * 1.0 / func.nullif(k["scored_ms"], 0)).label("poor_share")
    score = T.video_vq_mean if scope.kind == "video" else T.audio_mos_mean
    conditions = _where(scope)
    if poor_only:  # the index's own predicate, then the kind's
        conditions += [
            or_(T.audio_poor_ms > literal_column("0"), T.video_poor_ms > literal_column("0")),
            k["poor_ms"] > 0,
        ]
    where = and_(*conditions)
    query = (
        select(participant_summaries, share)
        .where(where)
        .order_by(func.coalesce(share, 0).desc(), func.coalesce(score, 99.0),
                  T.start_ms, T.session_id, T.participant_id)
        .limit(limit)
        .offset(offset)
    )
    return list(conn.execute(query))


def count(conn: Connection, scope: Scope) -> int:
    """How many participant-sessions the scope has."""
    where = and_(*_where(scope))
    total = conn.execute(select(func.count()).select_from(participant_summaries).where(where))
    return int(total.scalar_one())

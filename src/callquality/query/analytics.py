"""Fleet analytics: participant-sessions grouped by time and by context (docs/metrics.md,
"Fleet analytics"). Reads the summaries service/summaries.py keeps; the SQL is in
store/analytics.py."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection

from callquality.store import analytics as sql
from callquality.store.analytics import DAY_MS, Scope

DIMENSIONS = (
    "day", "hour", "browser", "os", "device", "sdk", "connection", "network", "country",
    "asn", "codec", "room",
)
TOP_CAUSES = 5
HOUR_MS = 3_600_000
GroupKey = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class Percentiles:
    """The p50 and p5 of the participant-sessions' mean scores."""

    p50: float | None
    p5: float | None


@dataclass(frozen=True, slots=True)
class Cause:
    """A likely cause of the group's poor participant-sessions and their share with it."""

    cause: str
    sessions: int
    share: float


@dataclass(slots=True)
class Group:
    """The figures of one group."""

    key: GroupKey
    sessions: int = 0
    measured_ms: int = 0
    poor: int = 0
    poor_ms: int = 0
    scored_ms: int = 0
    audio_mos: Percentiles = Percentiles(None, None)
    video_score: Percentiles = Percentiles(None, None)
    causes: list[Cause] = field(default_factory=list)

    @property
    def poor_rate(self) -> float | None:
        """Poor participant-sessions / participant-sessions."""
        return round(self.poor / self.sessions, 4) if self.sessions else None

    @property
    def poor_time_share(self) -> float | None:
        """Poor stream time / scored stream time."""
        return round(self.poor_ms / self.scored_ms, 4) if self.scored_ms else None


def percentile_of_counts(counts: Sequence[tuple[float, int]], q: float) -> float | None:
    """The linear-interpolated percentile (numpy's default, as query/stats.percentile) of a
    multiset given as (value, how many)."""
    ordered = sorted((v, n) for v, n in counts if n > 0)
    total = sum(n for _, n in ordered)
    if total == 0:
        return None
    pos = (total - 1) * q / 100

    def at(rank: int) -> float:
        seen = 0
        for value, n in ordered:
            seen += n
            if rank < seen:
                return value
        return ordered[-1][0]

    low = math.floor(pos)
    lo, hi = at(low), at(min(low + 1, total - 1))
    return round(lo + (hi - lo) * (pos - low), 2)


def _key(row: Any, n: int) -> GroupKey:
    return tuple(row[i] for i in range(n))


def quality(conn: Connection, scope: Scope, group_by: Sequence[str]) -> list[Group]:
    """Every group of the scope, ordered (time groups by time, others by size)."""
    n = len(group_by)
    groups: dict[GroupKey, Group] = {}
    mos: dict[GroupKey, list[tuple[float, int]]] = defaultdict(list)
    for row in sql.groups_by_score(conn, scope, group_by, "audio_mos_mean"):
        key = _key(row, n)
        g = groups.setdefault(key, Group(key))
        g.sessions += row.sessions
        g.measured_ms += int(row.measured_ms or 0)
        g.poor += int(row.poor or 0)
        g.poor_ms += int(row.poor_ms or 0)
        g.scored_ms += int(row.scored_ms or 0)
        if row.score is not None:
            mos[key].append((float(row.score), row.sessions))
    vq: dict[GroupKey, list[tuple[float, int]]] = defaultdict(list)
    for row in sql.score_counts(conn, scope, group_by, "video_vq_mean"):
        vq[_key(row, n)].append((float(row.score), row.sessions))
    causes: dict[GroupKey, list[tuple[str, int]]] = defaultdict(list)
    for row in sql.cause_counts(conn, scope, group_by):
        causes[_key(row, n)].append((row.cause, row.sessions))
    for key, g in groups.items():
        g.audio_mos = Percentiles(percentile_of_counts(mos[key], 50),
                                  percentile_of_counts(mos[key], 5))
        g.video_score = Percentiles(percentile_of_counts(vq[key], 50),
                                    percentile_of_counts(vq[key], 5))
        top = sorted(causes[key], key=lambda c: (-c[1], c[0]))[:TOP_CAUSES]
        g.causes = [Cause(c, k, round(k / g.poor, 4)) for c, k in top if g.poor]
    return sorted(groups.values(), key=lambda g: _order(g, group_by))


def _order(g: Group, group_by: Sequence[str]) -> tuple[Any, ...]:
    out: list[Any] = []
    for i, name in enumerate(group_by):
        value = g.key[i]
        if name in ("day", "hour"):
            out.append(value if value is not None else -1)
        else:
            out += [-g.sessions if i == 0 else 0, "" if value is None else str(value)]
    return tuple(out)


def group_start_ms(name: str, value: Any) -> int | None:
    """The epoch ms at which a day or hour group starts."""
    if value is None:
        return None
    return int(value) * (DAY_MS if name == "day" else HOUR_MS)


def worst(conn: Connection, scope: Scope, limit: int, offset: int) -> tuple[list[Any], int]:
    """The worst participant-sessions of the scope, and their number."""
    return sql.worst(conn, scope, limit, offset)

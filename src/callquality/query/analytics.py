"""Fleet analytics: participant-sessions grouped by time and by context (docs/metrics.md,
"Fleet analytics"). Reads the summaries service/summaries.py keeps; the SQL is in
store/analytics.py."""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from itertools import accumulate
from typing import Any

import orjson
from sqlalchemy import Connection

from callquality.store import analytics as sql
from callquality.store import daily
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


def percentiles_of_bins(bins: Sequence[int], *qs: float) -> list[float | None]:
    """The linear-interpolated percentiles (numpy's default, as query/stats.percentile) of
    a multiset of two-decimal scores given as the count of each (index = score x 100)."""
    cumulative = list(accumulate(bins))
    total = cumulative[-1] if cumulative else 0
    out: list[float | None] = []
    for q in qs:
        if total == 0:
            out.append(None)
            continue
        pos = (total - 1) * q / 100
        low = math.floor(pos)
        lo = bisect_right(cumulative, low) / 100
        hi = bisect_right(cumulative, min(low + 1, total - 1)) / 100
        out.append(round(lo + (hi - lo) * (pos - low), 2))
    return out


def _summed(arrays: list[Sequence[int]]) -> Sequence[int]:
    return arrays[0] if len(arrays) == 1 else list(map(sum, zip(*arrays, strict=True)))


def _key(row: Any, n: int) -> GroupKey:
    return tuple(row[i] for i in range(n))


def _no_scores() -> list[int]:
    return [0] * daily.SCORE_BINS


class _Figures:
    """The groups being summed: totals, score counts and causes per group key."""

    def __init__(self) -> None:
        self.groups: dict[GroupKey, Group] = {}
        # per group, counts of each two-decimal mean score (index = score x 100) to be summed
        self.mos: dict[GroupKey, list[Sequence[int]]] = defaultdict(list)
        self.vq: dict[GroupKey, list[Sequence[int]]] = defaultdict(list)
        self.causes: dict[GroupKey, Counter[str]] = defaultdict(Counter)

    def group(self, key: GroupKey) -> Group:
        g = self.groups.get(key)
        if g is None:
            g = self.groups[key] = Group(key)
        return g

    def add_summaries(self, conn: Connection, scope: Scope, group_by: Sequence[str]) -> None:
        """Aggregate the summaries of the scope (store/analytics.py)."""
        n = len(group_by)
        mos: dict[GroupKey, list[int]] = defaultdict(_no_scores)
        vq: dict[GroupKey, list[int]] = defaultdict(_no_scores)
        for row in sql.groups_by_score(conn, scope, group_by, "audio_mos_mean"):
            key = _key(row, n)
            g = self.group(key)
            g.sessions += row.sessions
            g.measured_ms += int(row.measured_ms or 0)
            g.poor += int(row.poor or 0)
            g.poor_ms += int(row.poor_ms or 0)
            g.scored_ms += int(row.scored_ms or 0)
            if row.score is not None:
                mos[key][daily.score_index(row.score)] += row.sessions
        for row in sql.score_counts(conn, scope, group_by, "video_vq_mean"):
            vq[_key(row, n)][daily.score_index(row.score)] += row.sessions
        for key, bins in mos.items():
            self.mos[key].append(bins)
        for key, bins in vq.items():
            self.vq[key].append(bins)
        for row in sql.cause_counts(conn, scope, group_by):
            self.causes[_key(row, n)][row.cause] += row.sessions

    def add_rollups(self, conn: Connection, scope: Scope, group_by: Sequence[str],
                    dimension: str, first_day: int, last_day: int) -> None:
        """Add the daily rollups of whole days [first_day, last_day] (service/rollups.py)."""
        values = None
        if dimension in scope.filters:
            values = [daily.UNKNOWN_VALUE if v == sql.UNKNOWN else v
                      for v in scope.filters[dimension]]
        days = [int(v) for v in scope.filters["day"]] if "day" in scope.filters else None
        rows = daily.read(conn, scope.api_key, scope.kind or "any", dimension,
                                 first_day, last_day, values, days)
        for row in rows:
            value = None if row.value == daily.UNKNOWN_VALUE else row.value
            key = tuple(row.day if name == "day" else value for name in group_by)
            g = self.group(key)
            g.sessions += int(row.sessions)
            g.measured_ms += int(row.measured_ms)
            g.poor += int(row.poor)
            g.poor_ms += int(row.poor_ms)
            g.scored_ms += int(row.scored_ms)
            self.mos[key].append(daily.decode_counts(row.audio_mos))
            self.vq[key].append(daily.decode_counts(row.video_vq))
            self.causes[key].update(orjson.loads(row.causes))

    def result(self, group_by: Sequence[str]) -> list[Group]:
        for key, g in self.groups.items():
            mos = _summed(self.mos[key]) if key in self.mos else ()
            vq = _summed(self.vq[key]) if key in self.vq else ()
            g.audio_mos = Percentiles(*percentiles_of_bins(mos, 50, 5))
            g.video_score = Percentiles(*percentiles_of_bins(vq, 50, 5))
            top = sorted(self.causes[key].items(), key=lambda c: (-c[1], c[0]))[:TOP_CAUSES]
            g.causes = [Cause(c, k, round(k / g.poor, 4)) for c, k in top if g.poor]
        return sorted(self.groups.values(), key=lambda g: _order(g, group_by))


def rollup_dimension(scope: Scope, group_by: Sequence[str]) -> str | None:
    """The rolled-up dimension that answers this question, or None: the daily rollups hold
    one dimension at a time (and the day), not the room nor the hour."""
    named = (set(group_by) | set(scope.filters)) - {"day"}
    if not named:
        return daily.ALL
    if len(named) == 1 and (name := named.pop()) in daily.DIMENSIONS:
        return name
    return None


def whole_days(scope: Scope) -> tuple[int, int]:
    """The first and last UTC day that lie wholly in [from, to) (first > last: none)."""
    return -(-scope.from_ms // DAY_MS), scope.to_ms // DAY_MS - 1


def quality(
    conn: Connection, scope: Scope, group_by: Sequence[str], *, use_rollups: bool = True
) -> list[Group]:
    """Every group of the scope, ordered (time groups by time, others by size). Whole days
    come from the daily rollups when they hold the question, the rest from the summaries;
    the figures are the same either way."""
    figures = _Figures()
    dimension = rollup_dimension(scope, group_by) if use_rollups else None
    first, last = whole_days(scope)
    if dimension is None or first > last:
        figures.add_summaries(conn, scope, group_by)
        return figures.result(group_by)
    for edge in (replace(scope, to_ms=first * DAY_MS), replace(scope, from_ms=(last + 1) * DAY_MS)):
        if edge.from_ms < edge.to_ms:
            figures.add_summaries(conn, edge, group_by)
    figures.add_rollups(conn, scope, group_by, dimension, first, last)
    return figures.result(group_by)


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
    """The worst participant-sessions of the scope, and their number (from the rollups
    when they hold the scope)."""
    rows = sql.worst(conn, scope, limit, offset, poor_only=True)
    if len(rows) < limit:  # the page reaches past the participant-sessions with poor time
        rows = sql.worst(conn, scope, limit, offset, poor_only=False)
    if rollup_dimension(scope, []) is None:
        return rows, sql.count(conn, scope)
    return rows, sum(g.sessions for g in quality(conn, scope, []))

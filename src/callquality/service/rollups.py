"""Daily pre-aggregates of the participant-session summaries (the table of store/daily.py).

Each summary counts in the day of its start, once per kind it has ("any": measured at all;
"audio"/"video": a scored stream of that kind), under "all" and under its value of each
dimension of :data:`DIMENSIONS` (``codec`` is the kind's codec; "any" counts the audio
codec, as store/analytics.py). A refresh adds the new figures' part and takes the old
figures' part back, and retention takes a purged summary's part back, so the rollups always
equal an aggregation of the summaries: query/analytics.py answers whole days from them and
the same figures result (tests/api/test_analytics.py). The room and the hour are not rolled
up (a room has a few participant-sessions a day); those questions read the summaries.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import Connection

from callquality.store import daily as store
from callquality.store.daily import ALL, DIMENSIONS, KINDS, UNKNOWN_VALUE, Key


@dataclass(slots=True)
class Totals:
    """The sums of some participant-sessions of one rollup key."""

    sessions: int = 0
    measured_ms: int = 0
    poor: int = 0
    poor_ms: int = 0
    scored_ms: int = 0
    audio_mos: Counter[int] = field(default_factory=Counter)  # score x 100 -> how many
    video_vq: Counter[int] = field(default_factory=Counter)
    causes: Counter[str] = field(default_factory=Counter)

    def add(self, other: Totals, sign: int = 1) -> None:
        """Add (sign 1) or take back (sign -1) another's sums."""
        self.sessions += sign * other.sessions
        self.measured_ms += sign * other.measured_ms
        self.poor += sign * other.poor
        self.poor_ms += sign * other.poor_ms
        self.scored_ms += sign * other.scored_ms
        _add_counts(self.audio_mos, other.audio_mos, sign)
        _add_counts(self.video_vq, other.video_vq, sign)
        _add_counts(self.causes, other.causes, sign)

    def as_row(self, key: Key) -> dict[str, Any]:
        """The stored row of this key."""
        return {
            **dict(zip(store.KEY, key, strict=True)),
            "sessions": self.sessions, "measured_ms": self.measured_ms, "poor": self.poor,
            "poor_ms": self.poor_ms, "scored_ms": self.scored_ms,
            "audio_mos": store.encode_counts(_nonzero(self.audio_mos)),
            "video_vq": store.encode_counts(_nonzero(self.video_vq)),
            "causes": orjson.dumps(dict(sorted(_nonzero(self.causes).items()))).decode(),
        }

    @classmethod
    def of_row(cls, row: Any) -> Totals:
        """The sums a stored row holds."""
        return cls(
            int(row.sessions), int(row.measured_ms), int(row.poor), int(row.poor_ms),
            int(row.scored_ms),
            Counter({i: n for i, n in enumerate(store.decode_counts(row.audio_mos)) if n}),
            Counter({i: n for i, n in enumerate(store.decode_counts(row.video_vq)) if n}),
            Counter(orjson.loads(row.causes)),
        )


def _add_counts(mine: Counter[Any], theirs: Counter[Any], sign: int) -> None:
    get = mine.get
    for k, n in theirs.items():
        mine[k] = get(k, 0) + sign * n


def _nonzero(counts: Counter[Any]) -> dict[Any, int]:
    return {k: n for k, n in counts.items() if n}


def _cents(score: float | None) -> int | None:
    return None if score is None else store.score_index(score)


def _kind_view(row: Mapping[str, Any], kind: str) -> tuple[int, int, int, str | None] | None:
    """(poor, poor ms, scored ms, cause) of the row for a kind, None if it lacks it; the
    rules of store/analytics.py's _kind_columns."""
    if kind == "any":
        if not (row.get("measured_ms") or 0) > 0:
            return None
        poor = int(row.get("audio_poor") == 1 or row.get("video_poor") == 1)
        poor_ms = (row.get("audio_poor_ms") or 0) + (row.get("video_poor_ms") or 0)
        scored = (row.get("audio_scored_ms") or 0) + (row.get("video_scored_ms") or 0)
        return poor, poor_ms, scored, row.get("likely_cause")
    if not (row.get(f"{kind}_scored_ms") or 0) > 0:
        return None
    return (row.get(f"{kind}_poor") or 0, row.get(f"{kind}_poor_ms") or 0,
            row.get(f"{kind}_scored_ms") or 0, row.get(f"{kind}_cause"))


def _value(row: Mapping[str, Any], dimension: str, kind: str) -> str:
    if dimension == ALL:
        return UNKNOWN_VALUE
    name = ("codec_video" if kind == "video" else "codec_audio") if dimension == "codec" \
        else dimension
    value = row.get(name)
    return UNKNOWN_VALUE if value is None else str(value)


def _parts(row: Mapping[str, Any]) -> list[tuple[list[Key], tuple[int, int, int, int, int],
                                                    int | None, int | None, str | None]]:
    """Per kind the row has: its rollup keys, (sessions, measured ms, poor, poor ms, scored
    ms), its MOS and video score bins and its cause when poor."""
    if row.get("start_ms") is None or row.get("day") is None:
        return []
    out = []
    mos, vq = _cents(row.get("audio_mos_mean")), _cents(row.get("video_vq_mean"))
    api_key, day = str(row["api_key"]), int(row["day"])
    for kind in KINDS:
        view = _kind_view(row, kind)
        if view is None:
            continue
        poor, poor_ms, scored_ms, cause = view
        keys = [(api_key, day, kind, dimension, _value(row, dimension, kind))
                for dimension in (ALL, *DIMENSIONS)]
        sums = (1, int(row.get("measured_ms") or 0), int(poor), int(poor_ms), int(scored_ms))
        out.append((keys, sums, mos, vq, (cause or "unclear") if poor == 1 else None))
    return out


def contributions(row: Mapping[str, Any]) -> dict[Key, Totals]:
    """What one summary (its columns) adds to each rollup key; nothing before its first
    refresh."""
    return change([], [row])


def change(before: Iterable[Mapping[str, Any]], after: Iterable[Mapping[str, Any]]
           ) -> dict[Key, Totals]:
    """The rollups' change when the summaries ``before`` (those counted in) become ``after``."""
    sums: dict[Key, list[int]] = {}
    mos: dict[tuple[Key, int], int] = {}
    vq: dict[tuple[Key, int], int] = {}
    causes: dict[tuple[Key, str], int] = {}
    for rows, sign in ((before, -1), (after, 1)):
        for row in rows:
            for keys, values, m, v, cause in _parts(row):
                signed = [sign * x for x in values]
                for key in keys:
                    total = sums.get(key)
                    if total is None:
                        sums[key] = signed.copy()
                    else:
                        for i in range(5):
                            total[i] += signed[i]
                    if m is not None:
                        mos[key, m] = mos.get((key, m), 0) + sign
                    if v is not None:
                        vq[key, v] = vq.get((key, v), 0) + sign
                    if cause is not None:
                        causes[key, cause] = causes.get((key, cause), 0) + sign
    out = {key: Totals(k[0], k[1], k[2], k[3], k[4]) for key, k in sums.items()}
    for counts, field_name in ((mos, "audio_mos"), (vq, "video_vq"), (causes, "causes")):
        for (key, bucket), n in counts.items():
            getattr(out[key], field_name)[bucket] += n
    return out


def apply(conn: Connection, delta: Mapping[Key, Totals]) -> None:
    """Add a change to the stored rollups (in the caller's transaction, under
    store.rollups.lock); a key left with no participant-session is deleted."""
    keys = sorted(k for k, t in delta.items() if t != Totals())
    if not keys:
        return
    stored = {tuple(getattr(r, c) for c in store.KEY): r for r in store.rows_by_keys(conn, keys)}
    saves, gone = [], []
    for key in keys:
        row = stored.get(key)
        totals = Totals.of_row(row) if row is not None else Totals()
        totals.add(delta[key])
        if totals.sessions == 0:
            if row is not None:
                gone.append(key)
        else:
            saves.append(totals.as_row(key))
    store.save(conn, saves)
    store.delete_keys(conn, gone)

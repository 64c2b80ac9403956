"""``resolutionUsage``: per bucket, the share of a participant's time receiving video at each
of VideoSDK's line counts (docs/api.md, "Participant stats").

A sample's received height (``video_recv_height``) counts toward the nearest class (a tie
toward the lower: 540 lines are 360), below 180 as 180 and above 2160 as 2160; each sample
weighs its interval. A bucket without received video has no shares (None).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, func, select

from callquality.store.schema import samples
from callquality.store.series import bucket_expression

LINES = (180, 360, 720, 1080, 1440, 2160)


def lines_class(height: float) -> int:
    """The class of a received height: the nearest of LINES, a tie to the lower."""
    return min(LINES, key=lambda lines: (abs(lines - height), lines))


def resolution_usage(
    conn: Connection, session_id: str, start_ms: int, *, interval_s: int, participant_id: str
) -> dict[int, dict[int, float]]:
    """{bucket start ms: {lines: share of the bucket's received-video time}}, buckets that
    had received video only; shares sum to 1 (rounded to 3 decimals). The API reads
    ``bucket_shares`` (the same from the scan the series makes anyway); this is the
    statement of its own that tests/query compares it with."""
    bucket = bucket_expression(start_ms, interval_s)
    height = samples.c.video_recv_height
    rows = conn.execute(
        select(bucket, height, func.sum(samples.c.interval_ms))
        .where(
            samples.c.session_id == session_id,
            samples.c.participant_id == participant_id,
            samples.c.interval_ms.is_not(None),
            height.is_not(None),
            height > 0,
        )
        .group_by(bucket, height)
    )
    time_ms: dict[int, dict[int, float]] = defaultdict(lambda: dict.fromkeys(LINES, 0.0))
    for index, lines, weight in rows:
        time_ms[int(index)][lines_class(float(lines))] += float(weight)
    out = {}
    for index, by_class in sorted(time_ms.items()):
        whole = sum(by_class.values())
        out[start_ms + index * interval_s * 1000] = {
            lines: round(t / whole, 3) for lines, t in by_class.items()
        }
    return out


_CLASS_OF: dict[int | float, int] = {}


def _class_of(height: int | float) -> int:
    found = _CLASS_OF.get(height)
    if found is None:
        found = lines_class(float(height))
        if len(_CLASS_OF) < 4096:  # bounded: heights come from clients' reports
            _CLASS_OF[height] = found
    return found


# A bucket of one class (most: a participant's video keeps its size for a while) has the
# shares that the division gives it: w / w = 1.0 for that class, 0 / w = 0.0 for the others.
_WHOLE = {lines: tuple(1.0 if other == lines else 0.0 for other in LINES) for lines in LINES}


def bucket_shares(rows: Iterable[tuple[Any, ...]]) -> dict[int, tuple[float, ...]]:
    """What ``resolution_usage`` gives, by bucket index, from one participant's samples
    as ``(bucket, interval_ms, video_recv_height, ...)`` rows (store/series.py
    ``participant_samples``): the shares of LINES, in that order. The weights are whole
    milliseconds, so adding them per sample or per (bucket, height) gives the same sums."""
    time_ms: dict[int, dict[int, float]] = {}
    for row in rows:
        height = row[2]
        if height is None or height <= 0:
            continue
        b = int(row[0])
        by_class = time_ms.get(b)
        if by_class is None:
            by_class = time_ms[b] = {}
        lines = _class_of(height)
        by_class[lines] = by_class.get(lines, 0.0) + float(row[1])
    out = {}
    for b, by_class in time_ms.items():
        if len(by_class) == 1:
            out[b] = _WHOLE[next(iter(by_class))]
            continue
        whole = sum(by_class.get(lines, 0.0) for lines in LINES)
        out[b] = tuple(round(by_class.get(lines, 0.0) / whole, 3) for lines in LINES)
    return out

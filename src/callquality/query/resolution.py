"""``resolutionUsage``: per bucket, the share of a participant's time receiving video at each
of VideoSDK's line counts (docs/api.md, "Participant stats").

A sample's received height (``video_recv_height``) counts toward the nearest class (a tie
toward the lower: 540 lines are 360), below 180 as 180 and above 2160 as 2160; each sample
weighs its interval. A bucket without received video has no shares (None).
"""

from __future__ import annotations

from collections import defaultdict

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
    had received video only; shares sum to 1 (rounded to 3 decimals)."""
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

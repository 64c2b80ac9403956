"""A session's post-mortem: worst interval, time below threshold, percentiles, likely cause.

Definitions are in docs/metrics.md ("Session summary"); the rules are also here, once.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from callquality.domain.timefmt import iso_ms
from callquality.query.stats import percentile as _percentile
from callquality.store.schema import samples

AUDIO_MOS_THRESHOLD = 3.5  # in G.107 Table B.1's "many users dissatisfied" band (MOS 3.1-3.6)
VIDEO_SCORE_THRESHOLD = 3.0  # "fair" on the 5-point ACR scale (P.910)
LOSS_CAUSE_PCT = 2.0  # loss above this in a bad interval points at the network
LATENCY_CAUSE_RTT_MS = 300.0  # RTT above this: ~150 ms one way, G.114's comfortable limit

CAUSES = ("network loss", "latency", "sender bandwidth", "sender CPU", "freezes")


@dataclass(frozen=True, slots=True)
class Row:
    """The columns of one sample the summary reads."""

    participant_id: str
    timestamp_ms: int
    interval_ms: int
    audio_mos: float | None
    video_vq: float | None
    rtt_ms: float | None
    jitter_ms: float | None
    loss_pct: float | None
    freeze_ms: float | None
    limitation: str | None


_COLUMNS = (
    samples.c.participant_id,
    samples.c.timestamp_ms,
    samples.c.interval_ms,
    samples.c.audio_mos,
    samples.c.video_vq,
    samples.c.audio_send_rtt_ms,
    samples.c.video_send_rtt_ms,
    samples.c.audio_recv_jitter_ms,
    samples.c.video_recv_jitter_ms,
    samples.c.audio_recv_packets,
    samples.c.audio_recv_packets_lost,
    samples.c.video_recv_packets,
    samples.c.video_recv_packets_lost,
    samples.c.video_recv_freeze_duration_ms,
    samples.c.video_send_quality_limitation_reason,
)


def _first(*values: Any) -> Any:
    return next((v for v in values if v is not None), None)


def _row(r: Any) -> Row:
    received = (r.audio_recv_packets or 0) + (r.video_recv_packets or 0)
    lost = (r.audio_recv_packets_lost or 0) + (r.video_recv_packets_lost or 0)
    known = r.audio_recv_packets_lost is not None or r.video_recv_packets_lost is not None
    loss = 100.0 * lost / (received + lost) if known and received + lost > 0 else None
    return Row(
        participant_id=r.participant_id,
        timestamp_ms=int(r.timestamp_ms),
        interval_ms=int(r.interval_ms),
        audio_mos=r.audio_mos,
        video_vq=r.video_vq,
        rtt_ms=_first(r.audio_send_rtt_ms, r.video_send_rtt_ms),
        jitter_ms=_first(r.audio_recv_jitter_ms, r.video_recv_jitter_ms),
        loss_pct=loss,
        freeze_ms=r.video_recv_freeze_duration_ms,
        limitation=r.video_send_quality_limitation_reason,
    )


def bad(row: Row) -> bool:
    """An interval whose audio or video score is below its threshold."""
    return (row.audio_mos is not None and row.audio_mos < AUDIO_MOS_THRESHOLD) or (
        row.video_vq is not None and row.video_vq < VIDEO_SCORE_THRESHOLD
    )


def causes_of(row: Row) -> list[str]:
    """What a bad interval shows, in the order of CAUSES."""
    found = []
    if row.loss_pct is not None and row.loss_pct > LOSS_CAUSE_PCT:
        found.append("network loss")
    if row.rtt_ms is not None and row.rtt_ms > LATENCY_CAUSE_RTT_MS:
        found.append("latency")
    if row.limitation == "bandwidth":
        found.append("sender bandwidth")
    if row.limitation == "cpu":
        found.append("sender CPU")
    if row.freeze_ms:
        found.append("freezes")
    return found


def _worst(rows: list[Row], attr: str) -> dict[str, Any] | None:
    scored = [r for r in rows if getattr(r, attr) is not None]
    if not scored:
        return None
    worst = min(scored, key=lambda r: (getattr(r, attr), r.timestamp_ms))
    return {
        "start": iso_ms(worst.timestamp_ms - worst.interval_ms),
        "end": iso_ms(worst.timestamp_ms),
        "participantId": worst.participant_id,
        "score": round(getattr(worst, attr), 2),
    }


def _pcts(values: Iterable[float | None]) -> dict[str, float | None]:
    known = [v for v in values if v is not None]
    p50, p95 = _percentile(known, 50), _percentile(known, 95)
    return {
        "p50": None if p50 is None else round(p50, 2),
        "p95": None if p95 is None else round(p95, 2),
    }


def summarize(rows: list[Row]) -> dict[str, Any]:
    """The summary of a set of intervals (one participant's, or a whole session's)."""
    below_audio = sum(
        r.interval_ms for r in rows if r.audio_mos is not None and r.audio_mos < AUDIO_MOS_THRESHOLD
    )
    below_video = sum(
        r.interval_ms for r in rows if r.video_vq is not None and r.video_vq < VIDEO_SCORE_THRESHOLD
    )
    votes: Counter[str] = Counter()
    bad_ms = 0
    for r in rows:
        if bad(r):
            bad_ms += r.interval_ms
            for cause in causes_of(r):
                votes[cause] += r.interval_ms
    likely = max(CAUSES, key=lambda c: votes[c]) if votes else None
    return {
        "measuredSeconds": round(sum(r.interval_ms for r in rows) / 1000, 1),
        "worstAudioInterval": _worst(rows, "audio_mos"),
        "worstVideoInterval": _worst(rows, "video_vq"),
        "secondsAudioBelow3_5": round(below_audio / 1000, 1),
        "secondsVideoBelow3_0": round(below_video / 1000, 1),
        "rttMs": _pcts(r.rtt_ms for r in rows),
        "jitterMs": _pcts(r.jitter_ms for r in rows),
        "lossPercent": _pcts(r.loss_pct for r in rows),
        "badSeconds": round(bad_ms / 1000, 1),
        "likelyCause": likely if bad_ms else None,
        "causeSeconds": {c: round(votes[c] / 1000, 1) for c in CAUSES if votes[c]},
    }


def session_summary(
    conn: Connection, session_id: str, names: dict[str, str | None]
) -> dict[str, Any]:
    """The session's summary and each participant's."""
    rows = [
        _row(r)
        for r in conn.execute(
            select(*_COLUMNS).where(
                samples.c.session_id == session_id, samples.c.interval_ms.is_not(None)
            )
        )
    ]
    by_participant: dict[str, list[Row]] = defaultdict(list)
    for r in rows:
        by_participant[r.participant_id].append(r)
    return {
        "session": summarize(rows),
        "participants": [
            {"participantId": p, "name": n, **summarize(by_participant.get(p, []))}
            for p, n in names.items()
        ],
    }

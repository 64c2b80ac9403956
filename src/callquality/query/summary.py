"""A session's post-mortem: worst interval, time below threshold, percentiles, likely cause.

Definitions are in docs/metrics.md ("Session summary"). Times are given twice: as participant
time (summed over participants: the top-level ``*Seconds`` keys) and as wall time of the
session (the span in which at least one participant met the condition: ``wallSeconds``).
The poor-interval rule and the causes are scoring/classify.py's.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from callquality.domain.sample import DirectionStats
from callquality.domain.timefmt import iso_ms
from callquality.query.stats import percentile as _percentile
from callquality.scoring import classify
from callquality.scoring.sample_score import audio_muted
from callquality.store.schema import samples

AUDIO_MOS_THRESHOLD = 3.5  # in G.107 Table B.1's "many users dissatisfied" band (MOS 3.1-3.6)
VIDEO_SCORE_THRESHOLD = 3.0  # "fair" on the 5-point ACR scale (P.910)

# Poor-interval rules and causes: scoring/classify.py (docs/models.md, "Classification").
CAUSES = (*classify.CAUSES, classify.MUTED)


@dataclass(frozen=True, slots=True)
class Row:
    """The columns of one sample the summary reads."""

    participant_id: str
    timestamp_ms: int
    interval_ms: int
    loss_pct: float | None  # audio and video received together, for the percentiles
    facts: classify.IntervalFacts

    @property
    def audio_mos(self) -> float | None:
        return self.facts.audio_mos

    @property
    def video_vq(self) -> float | None:
        return self.facts.video_vq


_COLUMNS = (
    samples.c.participant_id,
    samples.c.timestamp_ms,
    samples.c.interval_ms,
    samples.c.audio_mos,
    samples.c.video_vq,
    samples.c.audio_send_rtt_ms,
    samples.c.video_send_rtt_ms,
    samples.c.audio_recv_rtt_ms,
    samples.c.audio_recv_jitter_ms,
    samples.c.video_recv_jitter_ms,
    samples.c.audio_recv_packets,
    samples.c.audio_recv_packets_lost,
    samples.c.audio_recv_concealed_ratio,
    samples.c.audio_recv_silent_concealed_ratio,
    samples.c.audio_recv_muted_ratio,
    samples.c.audio_send_packets,
    samples.c.audio_send_muted_ratio,
    samples.c.video_recv_packets,
    samples.c.video_recv_packets_lost,
    samples.c.video_recv_frame_rate,
    samples.c.video_send_frame_rate,
    samples.c.video_recv_freeze_duration_ms,
    samples.c.video_send_quality_limitation_reason,
)


def _first(*values: Any) -> Any:
    return next((v for v in values if v is not None), None)


def _loss(received: int | None, lost: int | None) -> float | None:
    if lost is None or (received or 0) + lost <= 0:
        return None
    return 100.0 * lost / ((received or 0) + lost)


def _row(r: Any) -> Row:
    received = (r.audio_recv_packets or 0) + (r.video_recv_packets or 0)
    lost = (r.audio_recv_packets_lost or 0) + (r.video_recv_packets_lost or 0)
    known = r.audio_recv_packets_lost is not None or r.video_recv_packets_lost is not None
    loss = 100.0 * lost / (received + lost) if known and received + lost > 0 else None
    # Muted as score_sample judged it: the received audio, else the sent (a send-only peer).
    if r.audio_recv_packets or r.audio_recv_packets_lost:
        heard = DirectionStats(silent_concealed_ratio=r.audio_recv_silent_concealed_ratio,
                               muted_ratio=r.audio_recv_muted_ratio)
    elif r.audio_send_packets:
        heard = DirectionStats(muted_ratio=r.audio_send_muted_ratio)
    else:
        heard = None
    muted = heard is not None and r.audio_mos is None and audio_muted(heard)
    video_recv = bool(r.video_recv_packets or r.video_recv_packets_lost)
    facts = classify.IntervalFacts(
        interval_ms=float(r.interval_ms),
        audio_mos=r.audio_mos,
        audio_muted=muted,
        audio_loss_pct=_loss(r.audio_recv_packets, r.audio_recv_packets_lost),
        audio_concealed_ratio=r.audio_recv_concealed_ratio,
        rtt_ms=_first(r.audio_send_rtt_ms, r.video_send_rtt_ms, r.audio_recv_rtt_ms),
        jitter_ms=_first(r.audio_recv_jitter_ms, r.video_recv_jitter_ms),
        video_vq=r.video_vq,
        video_frame_rate=r.video_recv_frame_rate if video_recv else r.video_send_frame_rate,
        video_loss_pct=_loss(r.video_recv_packets, r.video_recv_packets_lost),
        video_freeze_ms=r.video_recv_freeze_duration_ms,
        limitation=r.video_send_quality_limitation_reason,
    )
    return Row(
        participant_id=r.participant_id,
        timestamp_ms=int(r.timestamp_ms),
        interval_ms=int(r.interval_ms),
        loss_pct=loss,
        facts=facts,
    )


SAMPLE_COLUMNS = tuple(c.name for c in _COLUMNS)  # what interval_row reads


def interval_row(r: Any) -> Row:
    """One stored sample (with SAMPLE_COLUMNS) as the summary reads it."""
    return _row(r)


def bad(row: Row) -> bool:
    """An interval whose audio or video was poor (scoring/classify.py)."""
    return classify.audio_poor(row.facts) or classify.video_poor(row.facts)


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


class _Time:
    """Time of the intervals that meet a condition: participant time and wall time."""

    def __init__(self) -> None:
        self.participant_ms = 0
        self.spans: list[tuple[int, int]] = []

    def add(self, r: Row) -> None:
        self.participant_ms += r.interval_ms
        self.spans.append((r.timestamp_ms - r.interval_ms, r.timestamp_ms))

    def wall_ms(self) -> int:
        """The length of the union of the intervals: time in which at least one met it."""
        total, end = 0, None
        for start, stop in sorted(self.spans):
            if end is None or start > end:
                total += stop - start
                end = stop
            elif stop > end:
                total += stop - end
                end = stop
        return total


def _s(ms: int) -> float:
    return round(ms / 1000, 1)


_TIMES = ("measured", "audioBelow3_5", "videoBelow3_0", "audioMuted", "audioPoor", "videoPoor",
          "bad")


def summarize(rows: list[Row]) -> dict[str, Any]:
    """The summary of a set of intervals (one participant's, or a whole session's)."""
    times = {name: _Time() for name in _TIMES}
    votes: Counter[str] = Counter()
    for r in rows:
        f = r.facts
        times["measured"].add(r)
        if f.audio_mos is not None and f.audio_mos < AUDIO_MOS_THRESHOLD:
            times["audioBelow3_5"].add(r)
        if f.video_vq is not None and f.video_vq < VIDEO_SCORE_THRESHOLD:
            times["videoBelow3_0"].add(r)
        if f.audio_muted:
            times["audioMuted"].add(r)
            votes[classify.MUTED] += r.interval_ms
        audio, video = classify.audio_poor(f), classify.video_poor(f)
        if audio:
            times["audioPoor"].add(r)
        if video:
            times["videoPoor"].add(r)
        if audio or video:
            times["bad"].add(r)
            for cause in classify.causes_of(f):
                votes[cause] += r.interval_ms
    no_data = not rows
    person = {name: None if no_data else _s(t.participant_ms) for name, t in times.items()}
    # The likely cause explains the most of the time that was poor or could not be scored
    # because nobody spoke (muted); ties go to the cause listed first.
    likely = max(CAUSES, key=lambda c: votes[c]) if votes else None
    return {
        "noData": no_data,
        "measuredSeconds": person["measured"],
        "worstAudioInterval": _worst(rows, "audio_mos"),
        "worstVideoInterval": _worst(rows, "video_vq"),
        "secondsAudioBelow3_5": person["audioBelow3_5"],
        "secondsVideoBelow3_0": person["videoBelow3_0"],
        "secondsAudioMuted": person["audioMuted"],
        "rttMs": _pcts(r.facts.rtt_ms for r in rows),
        "jitterMs": _pcts(r.facts.jitter_ms for r in rows),
        "lossPercent": _pcts(r.loss_pct for r in rows),
        "badSeconds": person["bad"],
        "poorSeconds": {"audio": person["audioPoor"], "video": person["videoPoor"]},
        "wallSeconds": {
            name: None if no_data else _s(t.wall_ms()) for name, t in times.items()
        },
        "likelyCause": likely,
        "causeSeconds": {c: _s(votes[c]) for c in CAUSES if votes[c]},
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


def participant_window(
    conn: Connection, session_id: str, participant_id: str, from_ms: int, to_ms: int
) -> list[Row]:
    """One participant's rows with ``from_ms < timestamp_ms <= to_ms`` (an alert rule's
    window, service/alerts.py), through the samples' primary key."""
    result = conn.execute(
        select(*_COLUMNS).where(
            samples.c.session_id == session_id,
            samples.c.participant_id == participant_id,
            samples.c.timestamp_ms > from_ms,
            samples.c.timestamp_ms <= to_ms,
            samples.c.interval_ms.is_not(None),
        )
    )
    return [_row(r) for r in result]

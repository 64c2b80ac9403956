"""What the live view reads: a session's samples received since a time."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from callquality.store.schema import samples

_COLUMNS = (
    "participant_id", "peer_connection_id", "timestamp_ms", "received_ms", "interval_ms",
    "audio_mos", "video_vq", "audio_recv_packets_lost", "video_recv_packets_lost",
    "audio_send_rtt_ms", "video_send_rtt_ms", "audio_recv_jitter_ms", "video_recv_jitter_ms",
    "video_send_bitrate_bps", "video_recv_bitrate_bps",
)


def received_since(
    conn: Connection, session_id: str, since_ms: int, participant_id: str | None, limit: int
) -> list[Any]:
    """The session's samples with ``received_ms > since_ms`` (one participant's, if
    given), in the order they were received. Read through the primary key's session
    prefix: it visits the session's rows, which a live session keeps few of."""
    query = select(*(samples.c[c] for c in _COLUMNS)).where(
        samples.c.session_id == session_id, samples.c.received_ms > since_ms
    )
    if participant_id is not None:
        query = query.where(samples.c.participant_id == participant_id)
    query = query.order_by(samples.c.received_ms, samples.c.timestamp_ms).limit(limit)
    return list(conn.execute(query))

"""The live view of an ongoing session: tickets for EventSource, and the new intervals.

EventSource cannot send an Authorization header, and the dashboard keeps its token out of
URLs (they reach logs and history). So a client holding a token asks
``POST /v2/sessions/{sessionId}/live/ticket`` for a ticket: HMAC-SHA256-signed with a key
derived from the API key's secret (so a ticket is not a token anywhere else), naming one
session, the participant a participant-bound token is limited to, and an expiry
(``LIVE_TICKET_TTL_S``, default 60 s). The ticket opens the stream once it is checked; the
stream then lives as long as the session does (docs/webhooks.md, "Live view").
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection, Engine

from callquality.domain.errors import AuthError
from callquality.domain.timefmt import iso_ms
from callquality.store import live as store
from callquality.store.db import read_transaction
from callquality.store.keys import secret_for

_CONTEXT = b"callquality live ticket v1"
# Rows of a request carry its start time as received_ms but appear at its commit: rows
# received up to this long before the newest one seen are looked for again (and skipped
# when already sent).
_LATE_COMMIT_MS = 30_000


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _key(secret: str) -> bytes:
    return hmac.new(secret.encode(), _CONTEXT, hashlib.sha256).digest()


@dataclass(frozen=True, slots=True)
class Ticket:
    """What a verified ticket allows: one session's stream, maybe one participant's."""

    api_key: str
    session_id: str
    participant_id: str | None
    expires_ms: int


def make_ticket(secret: str, ticket: Ticket) -> str:
    """The signed ticket text."""
    payload = _b64(orjson.dumps({"k": ticket.api_key, "s": ticket.session_id,
                                 "p": ticket.participant_id, "e": ticket.expires_ms}))
    mac = hmac.new(_key(secret), payload.encode(), hashlib.sha256).digest()
    return f"{payload}.{_b64(mac)}"


def verify_ticket(engine: Engine, text: str, session_id: str, now_ms: int) -> Ticket:
    """The ticket's grant, if it is well signed, unexpired and for this session."""
    try:
        payload, mac = text.split(".", 1)
        claims = orjson.loads(_unb64(payload))
        ticket = Ticket(str(claims["k"]), str(claims["s"]),
                        None if claims["p"] is None else str(claims["p"]), int(claims["e"]))
        given = _unb64(mac)
    except (ValueError, KeyError, TypeError, orjson.JSONDecodeError) as exc:
        raise AuthError("ticket: malformed; get one from POST "
                        "/v2/sessions/{sessionId}/live/ticket") from exc
    with read_transaction(engine) as conn:
        secret = secret_for(conn, ticket.api_key)
    if secret is None or not hmac.compare_digest(
            hmac.new(_key(secret), payload.encode(), hashlib.sha256).digest(), given):
        raise AuthError("ticket: bad signature; get a new one")
    if ticket.expires_ms < now_ms:
        raise AuthError("ticket: expired; get a new one from POST "
                        "/v2/sessions/{sessionId}/live/ticket")
    if ticket.session_id != session_id:
        raise AuthError("ticket: issued for another session")
    return ticket


def interval_json(row: Mapping[str, Any]) -> dict[str, Any]:
    """One new interval as the stream sends it, from its samples row."""
    audio_mos, video_vq = row["audio_mos"], row["video_vq"]
    return {
        "participantId": row["participant_id"],
        "peerConnectionId": row["peer_connection_id"],
        "timestamp": iso_ms(row["timestamp_ms"]),
        "intervalMs": row["interval_ms"],
        "qualityScore": {
            "audio": None if audio_mos is None else round(audio_mos, 2),
            "video": None if video_vq is None else round(video_vq, 2),
        },
        "recvAudioPacketLost": row["audio_recv_packets_lost"],
        "recvVideoPacketLost": row["video_recv_packets_lost"],
        "audioRttMs": row["audio_send_rtt_ms"],
        "videoRttMs": row["video_send_rtt_ms"],
        "audioJitterMs": row["audio_recv_jitter_ms"],
        "videoJitterMs": row["video_recv_jitter_ms"],
        "sendVideoBitrate": row["video_send_bitrate_bps"],
        "recvVideoBitrate": row["video_recv_bitrate_bps"],
    }


@dataclass(frozen=True, slots=True)
class Announced:
    """An interval announced on NATS (service/intervals.py): its samples key, when it was
    stored, and the stream's JSON."""

    participant_id: str
    peer_connection_id: str
    timestamp_ms: int
    received_ms: int
    interval: dict[str, Any]


class Cursor:
    """Where one stream is: the intervals of a session received since it began, read from
    the table (``poll``) or announced on NATS (``take``), each sent once."""

    def __init__(self, session_id: str, participant_id: str | None, since_ms: int) -> None:
        self.session_id = session_id
        self.participant_id = participant_id
        self.newest_ms = since_ms
        self._sent: dict[tuple[str, str, int], int] = {}

    def poll(self, conn: Connection, limit: int = 5000) -> list[dict[str, Any]]:
        """The intervals stored and not sent yet, oldest first."""
        rows = store.received_since(conn, self.session_id, self.newest_ms - _LATE_COMMIT_MS,
                                    self.participant_id, limit)
        fresh = [interval_json(row._mapping) for row in rows if self._fresh(
            (row.participant_id, row.peer_connection_id, int(row.timestamp_ms)),
            int(row.received_ms)) and row.interval_ms]  # a baseline carries no interval
        self._forget_old()
        return fresh

    def take(self, announced: Iterable[Announced]) -> list[dict[str, Any]]:
        """The announced intervals not sent yet (of the stream's participant, if it has
        one)."""
        fresh = [a.interval for a in announced
                 if (self.participant_id is None or a.participant_id == self.participant_id)
                 and self._fresh((a.participant_id, a.peer_connection_id, a.timestamp_ms),
                                 a.received_ms)]
        self._forget_old()
        return fresh

    def _fresh(self, key: tuple[str, str, int], received_ms: int) -> bool:
        if key in self._sent:
            return False
        self._sent[key] = received_ms
        self.newest_ms = max(self.newest_ms, received_ms)
        return True

    def _forget_old(self) -> None:
        horizon = self.newest_ms - 2 * _LATE_COMMIT_MS
        if len(self._sent) > 10_000 or any(v < horizon for v in self._sent.values()):
            self._sent = {k: v for k, v in self._sent.items() if v >= horizon}

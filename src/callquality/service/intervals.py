"""The derived intervals on NATS (INGEST_LOG): what a processor has just stored, per session.

After a processor commits a batch (service/processor.py) it publishes the batch's new
intervals, grouped by session, on ``cq.intervals.<tenant>.<session>``: ``<tenant>`` is a hash
of the API key (fixed length, and the key itself stays off the wire), ``<session>`` the stored
session id in unpadded base64url (a client's session id may hold ``.``, ``*`` or ``>``, which
would split or widen a subject; base64url's alphabet is subject-safe, and it decodes back for
a consumer that subscribes to ``cq.intervals.<tenant>.>``). The message is JSON:
``{"sessionId", "intervals": [{"timestampMs", "receivedMs", "interval"}]}``, ``interval`` being
exactly what the live view's stream sends (service/live.py, ``interval_json``). The live view
(api/routes/live.py) subscribes to its session's subject, so a new interval reaches the
browser as soon as it is stored, without reading the table.

Core NATS, not a JetStream stream, because nothing needs these messages to be durable:
- they announce rows already committed: the samples table is the record, and a subscriber
  that may have missed some (it subscribed late, its connection to NATS was lost for a
  while) reads them from there (``live.Cursor`` does, and drops what it has sent already);
- alert evaluation does not consume them: the processor judges the rules in the batch's own
  transaction (service/processor.py), which is what makes an alert fire once;
- most sessions have no live viewer at a given time, and core NATS routes a message with no
  subscriber nowhere, while a stream would write every interval to disk on every replica,
  a second copy of the ingest log's traffic, for nobody.

Tenants are kept apart twice: the API subscribes only after the caller's ticket or token was
checked against the session's tenant, to the subject made of that tenant's hash and that
tenant's stored session id (two tenants' sessions of one client id are stored under two ids,
domain/session_ids.py). Browsers never talk to NATS; NATS itself should admit only the API
and processors (its accounts or users: docs/scaling.md).
"""

from __future__ import annotations

import base64
import hashlib
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

import orjson
from nats.errors import TimeoutError as NatsTimeout

from callquality.service.live import Announced, interval_json

SUBJECT_PREFIX = "cq.intervals"
PER_MESSAGE = 200  # intervals per message: far below NATS's default 1 MB payload limit
# Messages a slow stream may fall behind by before the client drops some (the stream's
# periodic read of the table brings them).
PENDING_LIMIT = 1000


def tenant_token(api_key: str) -> str:
    """The subject token of an API key."""
    return hashlib.blake2b(api_key.encode(), digest_size=12).hexdigest()


def session_token(session_id: str) -> str:
    """The subject token of a stored session id (reversible, subject-safe)."""
    return base64.urlsafe_b64encode(session_id.encode()).rstrip(b"=").decode()


def subject(api_key: str, session_id: str) -> str:
    """The subject of one session's intervals."""
    return f"{SUBJECT_PREFIX}.{tenant_token(api_key)}.{session_token(session_id)}"


def messages(api_key: str, rows: Iterable[Mapping[str, Any]]) -> list[tuple[str, bytes]]:
    """(subject, payload) of each message announcing stored samples rows (a raw report's
    baseline, which has no interval, announces nothing)."""
    by_session: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        if row["interval_ms"]:
            by_session[row["session_id"]].append({
                "timestampMs": row["timestamp_ms"], "receivedMs": row["received_ms"],
                "interval": interval_json(row),
            })
    out = []
    for session_id, entries in by_session.items():
        for start in range(0, len(entries), PER_MESSAGE):
            out.append((subject(api_key, session_id), orjson.dumps({
                "sessionId": session_id, "intervals": entries[start:start + PER_MESSAGE],
            })))
    return out


def decode(data: bytes) -> list[Announced]:
    """The intervals of a message."""
    body = orjson.loads(data)
    return [
        Announced(e["interval"]["participantId"], e["interval"]["peerConnectionId"],
                  int(e["timestampMs"]), int(e["receivedMs"]), e["interval"])
        for e in body["intervals"]
    ]


class SessionFeed:
    """One live stream's subscription to its session's subject."""

    def __init__(self, connection: Any, subscription: Any) -> None:
        self._nc = connection
        self._sub = subscription
        self._reconnects = connection.stats["reconnects"]

    @classmethod
    async def open(cls, connection: Any, api_key: str, session_id: str) -> SessionFeed:
        """Subscribe, and wait until the server has the interest (so that whatever is
        stored after this returns is announced to the feed)."""
        sub = await connection.subscribe(subject(api_key, session_id),
                                         pending_msgs_limit=PENDING_LIMIT)
        await connection.flush(timeout=5)
        return cls(connection, sub)

    def reconnected(self) -> bool:
        """Whether the connection was lost and made again since the last call: what was
        announced meanwhile did not arrive, and is to be read from the table."""
        now = self._nc.stats["reconnects"]
        lost, self._reconnects = now != self._reconnects, now
        return bool(lost)

    async def next(self, timeout_s: float) -> list[Announced]:
        """The intervals of the next message, or none after ``timeout_s``."""
        try:
            message = await self._sub.next_msg(timeout=timeout_s)
        except NatsTimeout:
            return []
        return decode(message.data)

    async def close(self) -> None:
        """Unsubscribe (quietly, if the connection is gone)."""
        try:
            await self._sub.unsubscribe()
        except Exception:  # closed or draining: the server drops the interest with it
            pass

"""The getStats() fields ingest reads, per stats type: what collector.js sends.

``rtcstats.NUMERIC_FIELDS`` lists the numbers read from each type; the reader also follows a
few non-numeric fields: the type, kind and SSRC of an RTP stream, the ids linking it to its
codec, track and local stream, the selected candidate pair of a transport, and a codec's MIME
type, and the selected pair's local candidate's type, protocol, TURN protocol and network type
(the connection, ingest/client.py). Everything else in a report (certificates, candidates'
addresses and ports, remote candidates, playout, data channels, most fields of what is kept)
is never read, so a sender may
leave it out: ``filter_report`` keeps exactly these fields, and
``process_report(filter_report(r))`` gives the same sample and state as ``process_report(r)``
(tests/ingest/test_read_fields.py checks it on every fixture and dump, and that collector.js
carries the same table). Full reports keep working: the server ignores what it does not read.

Raise ``READ_FIELDS_VERSION`` whenever the table changes, in the same commit as the reader:
collector.js, served by the server itself, then sends what that server reads.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from callquality.ingest.rtcstats import (
    INBOUND,
    NUMERIC_FIELDS,
    OUTBOUND,
    REMOTE_INBOUND,
    REMOTE_OUTBOUND,
)

READ_FIELDS_VERSION = 3

_EVERY = ("id", "type")
# rtcstats._index/_rtp_type/_kind/_rtp_stream: the stream's kind (mediaType: old Firefox and
# Chromium), SSRC, links to its codec, track, media source and local stream, Firefox < 68's
# isRemote, and the encoder's qualityLimitationReason.
_RTP = (
    "kind",
    "mediaType",
    "ssrc",
    "codecId",
    "trackId",
    "mediaSourceId",
    "localId",
    "isRemote",
    "qualityLimitationReason",
)


def _table() -> dict[str, tuple[str, ...]]:
    table: dict[str, tuple[str, ...]] = {}
    # Firefox < 68 sends the remote end's stats typed inbound-rtp/outbound-rtp with
    # isRemote: true, read as remote-inbound-rtp/remote-outbound-rtp: keep those numbers too.
    for stats_type, remote in ((INBOUND, REMOTE_INBOUND), (OUTBOUND, REMOTE_OUTBOUND)):
        table[stats_type] = _EVERY + _RTP + NUMERIC_FIELDS[stats_type] + NUMERIC_FIELDS[remote]
    for stats_type in (REMOTE_INBOUND, REMOTE_OUTBOUND):
        table[stats_type] = _EVERY + _RTP + NUMERIC_FIELDS[stats_type]
    # Every other type the reader takes numbers from (track, media-source...): those numbers.
    for stats_type, numbers in NUMERIC_FIELDS.items():
        table.setdefault(stats_type, _EVERY + numbers)
    # rtcstats._selected_pair: the transport's choice, else Firefox's flags; the busiest pair.
    table["candidate-pair"] = (
        _EVERY
        + NUMERIC_FIELDS["candidate-pair"]
        + ("selected", "nominated", "state", "bytesSent", "bytesReceived", "localCandidateId")
    )
    # ingest/client.py connection_of: the selected pair's local candidate, without its
    # address, port or any other field that names the host (personal data, never read).
    table["local-candidate"] = (
        *_EVERY, "candidateType", "protocol", "relayProtocol", "networkType"
    )
    table["transport"] = (*_EVERY, "selectedCandidatePairId")
    table["codec"] = (*_EVERY, "mimeType") + NUMERIC_FIELDS["codec"]
    return {t: tuple(dict.fromkeys(fields)) for t, fields in table.items()}  # no repeats


# stats type -> the fields read from it, in a stable order.
READ_FIELDS: dict[str, tuple[str, ...]] = _table()
_SETS = {t: frozenset(fields) for t, fields in READ_FIELDS.items()}


def filter_report(report: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The stats objects of the types read, each with only the fields read (as collector.js)."""
    out = []
    for stats in report:
        stats_type = stats.get("type")
        keep = _SETS.get(stats_type) if isinstance(stats_type, str) else None
        if keep is not None:
            out.append({k: v for k, v in stats.items() if k in keep})
    return out

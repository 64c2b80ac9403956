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

import math
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, ClassVar, Union, cast

import msgspec

from callquality.ingest.stats_fields import (
    INBOUND,
    NUMERIC_FIELDS,
    NUMERIC_MAXIMA,
    OUTBOUND,
    REMOTE_INBOUND,
    REMOTE_OUTBOUND,
    SIGNED_FIELDS,
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


# Typed decoding (issue 19): each stats type as a msgspec Struct of the fields read from it,
# so that a report is decoded from the request's bytes in one pass that checks every number
# the reader would check (type and bounds, in C) and skips every other field (certificates,
# candidates' addresses, playout...). The W3C types (webrtc-stats §6, with the deprecated
# ones browsers still send) are the union's tags; a report with any other type, or any
# field the Struct refuses, is read the slow way instead (rtcstats.stats_of), which names
# the invalid field or accepts what it does not read.
STATS_TYPES = (
    "codec", "inbound-rtp", "outbound-rtp", "remote-inbound-rtp", "remote-outbound-rtp",
    "media-source", "media-playout", "peer-connection", "data-channel", "transport",
    "candidate-pair", "local-candidate", "remote-candidate", "certificate", "track",
    "stream", "sender", "receiver", "transceiver", "csrc", "ice-server",
)


# gc=False: decoded from JSON (or converted from it), a stats object is never part of a
# reference cycle, so the collector need not track the two dozen of each report.
class Stats(
    msgspec.Struct, tag_field="type", kw_only=True, omit_defaults=True, gc=False
):
    """One stats object of a report, its fields as the reader reads them (None: absent)."""

    id: Annotated[str, msgspec.Meta(min_length=1)]
    type: ClassVar[str]  # the tag: set on each type's Struct


class OtherStats(msgspec.Struct, omit_defaults=True):
    """A stats object of a type the union does not name (read the slow way): never read
    beyond its id and type."""

    id: str
    type: str


def checked_numbers(stats_type: str) -> tuple[str, ...]:
    """The numbers the reader checks on a stats object of this type: Firefox < 68's remote
    stats, typed inbound-rtp/outbound-rtp with isRemote, are checked as the remote type."""
    remote = {INBOUND: REMOTE_INBOUND, OUTBOUND: REMOTE_OUTBOUND}.get(stats_type)
    numbers = NUMERIC_FIELDS.get(stats_type, ())
    return tuple(dict.fromkeys(numbers + NUMERIC_FIELDS[remote])) if remote else numbers


def _number_type(name: str) -> Any:
    """A number within the bounds the reader checks (rtcstats._numbers), or None."""
    high = _MAXIMUM[name]
    low = -high if name in SIGNED_FIELDS else 0.0
    return (
        Annotated[int, msgspec.Meta(ge=math.ceil(low), le=math.floor(high))]
        | Annotated[float, msgspec.Meta(ge=low, le=high)]
        | None
    )


_MAXIMUM = {name: high for pairs in NUMERIC_MAXIMA.values() for name, high in pairs}


def _struct(stats_type: str) -> type[Stats]:
    """The Struct of one type: its checked numbers bounded, its other fields read any."""
    numbers = checked_numbers(stats_type)
    others = [f for f in READ_FIELDS.get(stats_type, ()) if f not in numbers and f not in _EVERY]
    fields: list[tuple[str, Any, Any]] = [(n, _number_type(n), None) for n in numbers]
    fields += [(f, Any, None) for f in others]  # read as the reader reads them: any JSON
    struct = msgspec.defstruct(
        "Stats_" + stats_type.replace("-", "_"), fields, bases=(Stats,), tag=stats_type,
        namespace={"type": stats_type}, kw_only=True,
    )
    return cast(type[Stats], struct)


# stats type -> its Struct.
STRUCTS: dict[str, type[Stats]] = {t: _struct(t) for t in STATS_TYPES}
# A report's type, for msgspec: a list of the union of the stats types' Structs.
REPORT: Any = list[Union[tuple(STRUCTS.values())]]  # type: ignore[misc]  # noqa: UP007

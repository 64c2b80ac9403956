"""Read the WebRTC statistics dumps users already have, as the raw reports live ingest takes.

Browser dumps (docs/dumps.md): ``chrome://webrtc-internals`` downloads (``internals``),
RTCStatsDump files of format 3 (``rtcstatsdump``), jitsi rtcstats client dumps (``jitsi``) and
the first rtcstats layout (``rtcstats_v1``). Their readers only rebuild the getStats() reports
(Chrome's legacy ``goog*`` ones as W3C dictionaries, ``legacy``); turning them into samples is
``callquality.ingest.report.process_report``'s job, as for live reports, so a metric has one
definition. Jitsi's server-side dumps (``jitsi_server``: videobridge, focus, SIP gateway) hold
the media server's own figures instead: the videobridge's become samples of its endpoints, as
an SFU's live ``sample`` items do. Gzip-compressed files are read too.

    dump = open_dump(f)            # reads and validates everything, or raises DumpError
    dump.info                      # DumpInfo: format, user agent, url, peer connections...
    for r in dump.reports(): ...   # DumpReport(peer_connection_id, timestamp_ms, report)
    for s in dump.samples(): ...   # DumpSample(participant_id, ..., sample): server-side dumps
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from typing import IO, Protocol

from . import internals, jitsi, jitsi_server, legacy, rtcstats_v1, rtcstatsdump
from ._common import (
    DEFAULT_MAX_BYTES,
    DumpError,
    DumpInfo,
    DumpReport,
    DumpSample,
    Progress,
    loads,
    read_input,
)

__all__ = [
    "DEFAULT_MAX_BYTES",
    "Dump",
    "DumpError",
    "DumpInfo",
    "DumpReport",
    "DumpSample",
    "detect_format",
    "open_dump",
    "read_dump",
    "read_dump_info",
]

_GZIP_MAGIC = b"\x1f\x8b"
_BOM = b"\xef\xbb\xbf"


class Dump(Protocol):
    """A dump read and validated in full: its info, and its reports (re-iterable)."""

    info: DumpInfo

    def reports(self) -> Iterator[DumpReport]:
        """Every report; per peer connection in non-decreasing timestamp order."""
        ...

    def samples(self) -> Iterator[DumpSample]:
        """Every sample a media server's dump holds (none for a browser's), in time order."""
        ...


class _Standardized:
    """A browser dump whose reports come out as W3C dictionaries (legacy ones rebuilt)."""

    def __init__(self, dump: Dump) -> None:
        self.info = dump.info
        self._dump = dump

    def reports(self) -> Iterator[DumpReport]:
        """The reader's reports, each through ``legacy.standardize``."""
        for r in self._dump.reports():
            report, rebuilt = legacy.standardize(r.report)
            if report is r.report:
                yield r
            else:
                yield DumpReport(r.peer_connection_id, r.timestamp_ms, report, rebuilt)

    def samples(self) -> Iterator[DumpSample]:
        """None: a browser's dump holds reports."""
        return self._dump.samples()


def detect_format(first_bytes: bytes) -> str:
    """The format of a dump, from the file's first bytes: 'webrtc-internals', 'rtcstatsdump',
    'jitsi-rtcstats', 'jitsi-server' or 'rtcstats-v1' (when its key shows that early)."""
    head = first_bytes
    if head.startswith(_GZIP_MAGIC):
        try:
            head = zlib.decompressobj(zlib.MAX_WBITS | 16).decompress(head, 4096)
        except zlib.error:
            raise DumpError("gzip data is corrupt at its start") from None
    head = head.removeprefix(_BOM).lstrip()
    if head.startswith(rtcstatsdump.MAGIC):
        return rtcstatsdump.FORMAT
    if jitsi_server.HEAD.match(head):
        return jitsi_server.FORMAT
    if head.startswith(b"{"):
        # The first rtcstats layout's key; a webrtc-internals download spells it PeerConnections.
        return rtcstats_v1.FORMAT if b'"peerConnections"' in head else internals.FORMAT
    if head.startswith(b"["):
        return jitsi.FORMAT
    if not head:
        raise DumpError("line 1: the file is empty")
    shown = first_bytes[:24]
    raise DumpError(
        f"line 1: not a known dump format (starts with {shown!r}); expected a webrtc-internals "
        "download ('{'), an RTCStatsDump file ('RTCStatsDump') or a jitsi rtcstats dump ('[')"
    )


def open_dump(
    stream: IO[bytes] | bytes,
    *,
    progress: Progress | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Dump:
    """Read and validate a whole dump; raise DumpError before anything is returned.

    ``progress`` is called with the number of input bytes consumed so far (it only grows, and
    ends at the file's size; a gzip file counts its uncompressed bytes).
    """
    data = read_input(stream, max_bytes=max_bytes, progress=None)
    data = _gunzip(data, max_bytes)
    fmt = detect_format(data[:4096])
    data = data.removeprefix(_BOM)
    if fmt == jitsi_server.FORMAT:
        return jitsi_server.read(data, progress)
    dump: Dump
    if fmt == rtcstatsdump.FORMAT:
        dump = rtcstatsdump.read(data, progress)
    elif fmt == jitsi.FORMAT:
        dump = jitsi.read(data, progress)
    else:
        dump = _json_dump(data, progress, fmt)
    return _Standardized(dump)


def _json_dump(data: bytes, progress: Progress | None, fmt: str) -> Dump:
    """A one-object JSON dump: a webrtc-internals download, or the first rtcstats layout."""
    doc = loads(data, "rtcstats JSON" if fmt == rtcstats_v1.FORMAT else "webrtc-internals JSON")
    if progress is not None:
        progress(len(data))
    if isinstance(doc, dict) and rtcstats_v1.is_v1(doc):
        return rtcstats_v1.read(doc)
    return internals.read_doc(doc)


def read_dump(
    stream: IO[bytes] | bytes,
    *,
    progress: Progress | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Iterator[DumpReport]:
    """The raw getStats() reports of a dump, validated in full before the first is returned."""
    return open_dump(stream, progress=progress, max_bytes=max_bytes).reports()


def read_dump_info(
    stream: IO[bytes] | bytes,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> DumpInfo:
    """What a dump says about itself: format, user agent, url, peer connections, time span."""
    return open_dump(stream, max_bytes=max_bytes).info


_GUNZIP_CHUNK = 1 << 20


def _gunzip(data: bytes, max_bytes: int) -> bytes:
    """The decompressed file, costing at most ``max_bytes`` of memory whatever the ratio.

    A first pass decompresses in 1 MiB pieces and keeps none of them, to learn the size (and
    stop at ``max_bytes``: a gzip bomb costs one piece); the second decompresses into one
    buffer of exactly that size, which zlib hands over without a copy.
    """
    if not data.startswith(_GZIP_MAGIC):
        return data
    size = 0
    inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)
    try:
        pending = data
        while pending and not inflater.eof:
            size += len(inflater.decompress(pending, _GUNZIP_CHUNK))
            if size > max_bytes:
                raise DumpError(
                    f"dump is larger than the {max_bytes} bytes allowed once uncompressed; "
                    "raise max_bytes if the file is genuine"
                )
            pending = inflater.unconsumed_tail
    except zlib.error as exc:
        raise DumpError(f"gzip data is corrupt ({exc})") from None
    if not inflater.eof:
        raise DumpError("gzip data is truncated")
    member = data[: len(data) - len(inflater.unused_data)] if inflater.unused_data else data
    try:
        return zlib.decompress(member, zlib.MAX_WBITS | 16, bufsize=max(size, 1))
    except zlib.error as exc:  # pragma: no cover - the first pass read the same bytes
        raise DumpError(f"gzip data is corrupt ({exc})") from None

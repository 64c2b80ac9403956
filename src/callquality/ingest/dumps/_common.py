"""What every dump reader shares: the result types, the one exception, bounded input, JSON.

Exceptions::

    ValueError
      └── DumpError   malformed, truncated or too large; the message names the line or field
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import IO, Any

import orjson

from callquality.domain.sample import Sample

Progress = Callable[[int], None]
StatsObject = dict[str, Any]

# Real dumps are a few MB; a long call with many peer connections stays well below this.
DEFAULT_MAX_BYTES = 200 * 1024 * 1024
_READ_CHUNK = 1024 * 1024


class DumpError(ValueError):
    """A dump file that cannot be read: malformed, truncated, or larger than allowed."""


@dataclass(frozen=True, slots=True)
class DumpReport:
    """One getStats() report of one peer connection, as live ingest takes it."""

    peer_connection_id: str
    timestamp_ms: float
    report: list[StatsObject]
    legacy: bool = False  # rebuilt from Chrome's legacy (goog*) objects (legacy.py)


@dataclass(frozen=True, slots=True)
class DumpSample:
    """One interval of one participant as a media server measured it (server-side dumps)."""

    participant_id: str
    participant_name: str | None
    timestamp_ms: float  # end of the interval
    sample: Sample


@dataclass(frozen=True, slots=True)
class DumpInfo:
    """What a dump says about where it came from, and what it holds."""

    format: str  # 'webrtc-internals' | 'rtcstatsdump' | 'jitsi-rtcstats' | 'rtcstats-v1' | ...
    user_agent: str | None = None
    browser: str | None = None  # e.g. "Chrome 144", parsed from user_agent
    url: str | None = None
    peer_connection_ids: tuple[str, ...] = ()
    report_count: int = 0
    start_ms: float | None = None  # timestamp of the first report
    end_ms: float | None = None  # timestamp of the last report
    metadata: Mapping[str, Any] = field(default_factory=dict)  # as the dump wrote it
    # What the reader skipped or could not use, each naming the line or part of the dump.
    warnings: tuple[str, ...] = ()
    source: str = "browser"  # 'browser' (getStats() reports) | 'server' (samples, or nothing)


def read_input(stream: IO[bytes] | bytes, *, max_bytes: int, progress: Progress | None) -> bytes:
    """All bytes of ``stream``, refusing more than ``max_bytes``."""
    if isinstance(stream, bytes | bytearray | memoryview):
        data = bytes(stream)
        if len(data) > max_bytes:
            raise _too_large(len(data), max_bytes)
        return data
    chunks: list[bytes] = []
    total = 0
    while True:
        chunk = stream.read(_READ_CHUNK)
        if not chunk:
            break
        if not isinstance(chunk, bytes):
            raise TypeError("read_dump needs a binary stream (open the file with 'rb')")
        total += len(chunk)
        if total > max_bytes:
            raise _too_large(total, max_bytes)
        chunks.append(chunk)
        if progress is not None:
            progress(total)
    return b"".join(chunks)


def _too_large(size: int, max_bytes: int) -> DumpError:
    return DumpError(
        f"dump is larger than the {max_bytes} bytes allowed (read {size}); "
        "raise max_bytes if the file is genuine"
    )


def loads(text: bytes | str, where: str) -> Any:
    """Parse JSON, turning any failure into a DumpError that says where."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        pass  # orjson refuses integers beyond 64 bits; the standard parser does not
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise DumpError(f"{where}: invalid JSON ({exc})") from None
    except (UnicodeDecodeError, RecursionError) as exc:
        raise DumpError(f"{where}: invalid JSON ({exc})") from None


def split_lines(data: bytes) -> Iterator[tuple[int, int, bytes]]:
    """(1-based line number, byte offset after the line, line) for each non-blank line."""
    start = 0
    number = 0
    size = len(data)
    while start < size:
        end = data.find(b"\n", start)
        if end < 0:
            end = size
        number += 1
        line = data[start:end]
        start = end + 1
        if line.strip():
            yield number, min(start, size), line


_BROWSERS = (
    ("Edge", re.compile(r"Edg(?:e|A|iOS)?/(\d+)")),
    ("Opera", re.compile(r"OPR/(\d+)")),
    ("Firefox", re.compile(r"Firefox/(\d+)")),
    ("Chrome", re.compile(r"Chrom(?:e|ium)/(\d+)")),
    ("Safari", re.compile(r"Version/(\d+)[.\d]* (?:Mobile/\S+ )?Safari/")),
)


def browser_of(user_agent: str | None) -> str | None:
    """'Chrome 144' and the like from a user agent string; None when unknown."""
    if not user_agent:
        return None
    for name, pattern in _BROWSERS:
        match = pattern.search(user_agent)
        if match:
            return f"{name} {match.group(1)}"
    return None


def report_timestamp(objects: Mapping[str, StatsObject]) -> float | None:
    """The latest stats timestamp: the report's own time (remote-* stats carry older ones)."""
    latest: float | None = None
    for obj in objects.values():
        ts = obj.get("timestamp")
        if isinstance(ts, int | float) and not isinstance(ts, bool) and ts > 0:
            if latest is None or ts > latest:
                latest = float(ts)
    return latest


# What a dump declares about its browser without a version: jitsi's connectionInfo
# ``statsFormat`` and the ``browserType`` of its create events (jitsi/rtcstats, connection.js).
_DECLARED = {
    "chrome": "Chrome", "chrome_standard": "Chrome", "chrome_legacy": "Chrome",
    "firefox": "Firefox", "moz": "Firefox", "safari": "Safari", "edge": "Edge",
    "opera": "Opera",
}  # fmt: skip


def declared_browser(value: object) -> str | None:
    """'Chrome', 'Firefox'... from a dump's own declaration ('chrome_standard', 'moz')."""
    if not isinstance(value, str):
        return None
    return _DECLARED.get(value.strip().lower())


def stats_browser(objects: Iterable[Mapping[str, Any]]) -> str | None:
    """The browser that alone writes the fields of these stats objects, if any does.

    Only Chrome (libwebrtc) wrote the legacy ``goog*`` fields, and only Firefox ``moz*`` ones.
    """
    for obj in objects:
        for name in obj:
            if name.startswith("goog"):
                return "Chrome"
            if name.startswith("moz"):
                return "Firefox"
    return None

"""The two line-based formats share one reader: check every line first, then replay.

A delta-compressed report only makes sense after every earlier one, so a reader keeps a state per
peer connection. The first pass decompresses the whole file without keeping any report (that is
the validation: a DumpError raises before anything is yielded); the second pass decompresses
again and yields. Memory stays at the file's bytes plus one state per peer connection, whatever
the length of the call.

A line without a time (``["e2eRtt", null, {...}]``, which jitsi's clients write) is skipped with
a warning when it is not a getStats event; a getStats event without one cannot be placed, and is
an error (skipping it would also break the delta compression of every later report).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol

from ._common import (
    DumpError,
    DumpInfo,
    DumpReport,
    DumpSample,
    Progress,
    StatsObject,
    browser_of,
    declared_browser,
    loads,
    stats_browser,
)

# How often (in bytes consumed) the first pass reports progress.
_PROGRESS_STEP = 256 * 1024

State = dict[str, StatsObject]


@dataclass(frozen=True, slots=True)
class Event:
    """One line: ``[method, peer connection id, value, ..., time]``."""

    line: int
    end_offset: int
    method: str
    pc_id: str | None
    value: Any
    extra: tuple[Any, ...]
    time_ms: float | None  # None: the line has no time (skipped unless it is a getStats event)


class Decoder(Protocol):
    """Turns one (possibly delta-compressed) getStats value into the full report."""

    def __call__(self, base: State | None, value: Any, where: str) -> tuple[State, float | None]:
        """The new state (id → stats object) and the report's own timestamp if it has one."""
        ...


EventSource = Callable[[bytes], Iterator[Event]]


def parse_event(line_no: int, end: int, line: bytes, *, absolute_time: bool, last: float) -> Event:
    """Check the shape shared by both formats; ``time`` is absolute or a delta to ``last``."""
    where = f"line {line_no}"
    item = loads(line, where)
    if not isinstance(item, list) or len(item) < 3:
        raise DumpError(f"{where}: expected a JSON array [method, peerConnectionId, value, time]")
    method = item[0]
    if isinstance(method, int) and not isinstance(method, bool):
        method = str(method)
    if not isinstance(method, str):
        raise DumpError(f"{where}: the method (first item) must be a string")
    pc_id = item[1]
    if pc_id is not None and not isinstance(pc_id, str | int):
        raise DumpError(f"{where}: the peer connection id (second item) must be a string or null")
    time = item[-1]
    time_ms: float | None = None
    if len(item) >= 4 and not isinstance(time, bool) and isinstance(time, int | float):
        time_ms = float(time) if absolute_time else last + float(time)
        extra = tuple(item[3:-1])
    else:
        extra = tuple(item[3:])
    return Event(
        line=line_no,
        end_offset=end,
        method=method,
        pc_id=None if pc_id is None else str(pc_id),
        value=item[2],
        extra=extra,
        time_ms=time_ms,
    )


def untimed_stats(event: Event) -> DumpError:
    """The error for a getStats event without a time."""
    return DumpError(
        f"line {event.line}: the last item must be the event time in milliseconds "
        "(a getStats event cannot be placed without one)"
    )


@dataclass(slots=True)
class _PcScan:
    last_ms: float | None = None
    ordered: bool = True


class LineDump:
    """A validated line-based dump: its info, and its reports replayed on demand."""

    def __init__(
        self,
        data: bytes,
        info: DumpInfo,
        events: EventSource,
        is_stats: Callable[[str], bool],
        decoder: Decoder,
        ordered: bool,
    ) -> None:
        self.info = info
        self._data = data
        self._events = events
        self._is_stats = is_stats
        self._decoder = decoder
        self._ordered = ordered

    def reports(self) -> Iterator[DumpReport]:
        """Every report, in file order (sorted per peer connection if the file was not)."""
        replay = self._replay()
        if self._ordered:
            return replay
        return iter(sorted(replay, key=lambda r: r.timestamp_ms))

    def samples(self) -> Iterator[DumpSample]:
        """None: a browser's dump holds reports."""
        return iter(())

    def _replay(self) -> Iterator[DumpReport]:
        states: dict[str, State] = {}
        for event in self._events(self._data):
            if not self._is_stats(event.method) or event.pc_id is None:
                continue
            state, ts = self._decoder(states.get(event.pc_id), event.value, f"line {event.line}")
            states[event.pc_id] = state
            time_ms = event.time_ms if ts is None else ts
            assert time_ms is not None  # scan() refused untimed getStats events
            yield DumpReport(
                peer_connection_id=event.pc_id,
                timestamp_ms=time_ms,
                report=[dict(obj) for obj in state.values()],
            )


def scan(
    data: bytes,
    info: DumpInfo,
    events: EventSource,
    is_stats: Callable[[str], bool],
    decoder: Decoder,
    progress: Progress | None,
) -> LineDump:
    """Decompress the whole file once (raising DumpError on any fault); keep no report."""
    states: dict[str, State] = {}
    scans: dict[str, _PcScan] = {}
    count = 0
    start_ms: float | None = None
    end_ms: float | None = None
    user_agent = info.user_agent
    url = info.url
    reported = 0
    brands: str | None = None
    from_stats: str | None = None
    declared: str | None = info.browser
    warnings = list(info.warnings)
    for event in events(data):
        if progress is not None and event.end_offset - reported >= _PROGRESS_STEP:
            reported = event.end_offset
            progress(reported)
        user_agent = user_agent or _user_agent_in(event)
        brands = brands or _brands_in(event)
        declared = declared or _declared_in(event)
        url = url or _url_in(event)
        if not is_stats(event.method):
            if event.time_ms is None:
                warnings.append(
                    f"line {event.line}: skipped an event without a time ({event.method!r})"
                )
            continue
        if event.time_ms is None:
            raise untimed_stats(event)
        if event.pc_id is None:
            raise DumpError(f"line {event.line}: a getStats event without a peer connection id")
        state, ts = decoder(states.get(event.pc_id), event.value, f"line {event.line}")
        states[event.pc_id] = state
        if from_stats is None:
            from_stats = stats_browser(state.values())
        ts_ms = event.time_ms if ts is None else ts
        pc = scans.setdefault(event.pc_id, _PcScan())
        if pc.last_ms is not None and ts_ms < pc.last_ms:
            pc.ordered = False
        pc.last_ms = ts_ms if pc.last_ms is None else max(pc.last_ms, ts_ms)
        count += 1
        start_ms = ts_ms if start_ms is None else min(start_ms, ts_ms)
        end_ms = ts_ms if end_ms is None else max(end_ms, ts_ms)
    if progress is not None:
        progress(len(data))
    # The dump's own user agent, then what the stats themselves say, then its declaration.
    browser = browser_of(user_agent) or brands or from_stats or declared
    full = replace(
        info,
        user_agent=user_agent,
        browser=browser,
        warnings=tuple(warnings),
        url=url,
        peer_connection_ids=tuple(scans),
        report_count=count,
        start_ms=start_ms,
        end_ms=end_ms,
    )
    ordered = all(pc.ordered for pc in scans.values())
    return LineDump(data, full, events, is_stats, decoder, ordered)


def _user_agent_in(event: Event) -> str | None:
    value = event.value
    if isinstance(value, Mapping):
        ua = value.get("userAgent")
        if isinstance(ua, str):
            return ua
    return None


# User-Agent Client Hints brands, most specific first (Chromium sends no user agent string here).
_BRANDS = ("Microsoft Edge", "Opera", "Google Chrome", "Chromium")


def _brands_in(event: Event) -> str | None:
    data = event.value.get("userAgentData") if isinstance(event.value, Mapping) else None
    brands = data.get("brands") if isinstance(data, Mapping) else None
    if not isinstance(brands, list):
        return None
    versions = {b.get("brand"): b.get("version") for b in brands if isinstance(b, Mapping)}
    for brand in _BRANDS:
        if isinstance(versions.get(brand), str):
            name = "Chrome" if brand in ("Google Chrome", "Chromium") else brand.split()[-1]
            return f"{name} {versions[brand]}"
    return None


def _declared_in(event: Event) -> str | None:
    value = event.value
    if event.method == "create" and isinstance(value, Mapping):
        return declared_browser(value.get("browserType"))
    return None


def _url_in(event: Event) -> str | None:
    if isinstance(event.value, Mapping):
        url = event.value.get("url")
        if isinstance(url, str) and url:
            return url
    if event.method == "create":
        for extra in event.extra:
            if isinstance(extra, str) and "://" in extra:
                return extra
    return None


def expect_object(value: Any, where: str) -> dict[str, Any]:
    """``value`` if it is a JSON object, else a DumpError naming ``where``."""
    if not isinstance(value, dict):
        raise DumpError(f"{where}: the getStats report must be a JSON object of stats by id")
    return value

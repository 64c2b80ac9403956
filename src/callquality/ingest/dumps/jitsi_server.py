"""Jitsi's server-side dumps: the videobridge's view of each endpoint, as samples.

Layout (rtcstats-server stores what jitsi/jvb-rtcstats-push, jicofo-rtcstats-push and Jigasi
send; one JSON object per line)::

    {"statsSessionId": "...", "type": "identity",    "data": {"applicationName": "JVB",
                                                              "confName", "displayName", ...}}
    {"statsSessionId": "...", "type": "stats-entry", "data": "<JSON text>"}

``data`` may be an object or JSON text. What a stats entry holds depends on the application:

* **JVB** (videobridge): every 5 s the push tool reads the bridge's ``/debug?full=true``
  conference state, stamps it with the bridge's ``time`` (``timestamp``) and sends the
  ``deep-object-diff`` of it against the previous one: changed keys only, arrays as objects of
  changed indices, deleted keys not at all. The reader merges each entry into the state.
  ``jitsi_bridge.py`` turns each state into one sample per endpoint.
* **Jicofo** (the focus): the conference's signalling state and log lines. No media statistics.
* **Jigasi** (the SIP gateway): identity records. No media statistics.

A dump without media statistics is no error: its info says what it holds, in ``warnings``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from . import jitsi_bridge
from ._common import (
    DumpError,
    DumpInfo,
    DumpReport,
    DumpSample,
    Progress,
    loads,
    split_lines,
)

FORMAT = "jitsi-server"
# The first key of a line, as the push tools and rtcstats-server write it.
HEAD = re.compile(rb'^\{\s*"(?:statsSessionId|dumpId|type)"\s*:')
_PROGRESS_STEP = 256 * 1024

_APPS = {"jvb": "JVB", "jicofo": "Jicofo", "jigasi": "Jigasi"}
_NO_MEDIA = {
    "Jicofo": "a Jicofo (conference focus) dump: it holds the conference's signalling state "
    "and logs, no media statistics; the videobridge's dump of the same conference has them",
    "Jigasi": "a Jigasi (SIP gateway) dump: it holds no media statistics",
}


class ServerDump:
    """A validated server-side dump: its info, and the samples it yields (no reports)."""

    def __init__(self, info: DumpInfo, samples: list[DumpSample]) -> None:
        self.info = info
        self._samples = samples

    def reports(self) -> Iterator[DumpReport]:
        """None: a media server's dump holds its own figures, not getStats() reports."""
        return iter(())

    def samples(self) -> Iterator[DumpSample]:
        """Every endpoint's samples, in time order."""
        return iter(self._samples)


def read(data: bytes, progress: Progress | None) -> ServerDump:
    """Validate a server-side dump and compute the samples it holds."""
    identity: dict[str, Any] = {}
    bridge = jitsi_bridge.Bridge()
    entries = 0
    other: dict[str, int] = {}
    reported = 0
    for number, end, line in split_lines(data):
        where = f"line {number}"
        if progress is not None and end - reported >= _PROGRESS_STEP:
            reported = end
            progress(end)
        item = loads(line, where)
        if not isinstance(item, dict):
            raise DumpError(f"{where}: expected a JSON object {{statsSessionId, type, data}}")
        kind = item.get("type")
        if not isinstance(kind, str):
            raise DumpError(f"{where}: 'type' must be a string ('identity', 'stats-entry'...)")
        value = item.get("data")
        if isinstance(value, str) and kind in ("identity", "stats-entry"):
            value = loads(value, f"{where}: data")
        if kind == "identity":
            if not isinstance(value, dict):
                raise DumpError(f"{where}: an identity's data must be a JSON object")
            identity.update(value)
        elif kind == "stats-entry":
            entries += 1
            app = _app(identity)
            if app in (None, "JVB") and isinstance(value, dict):
                bridge.add(value, where)
        else:
            other[kind] = other.get(kind, 0) + 1
    if progress is not None:
        progress(len(data))
    return ServerDump(_info(identity, bridge, entries, other), bridge.samples)


def _app(identity: dict[str, Any]) -> str | None:
    name = identity.get("applicationName")
    return _APPS.get(name.lower(), name) if isinstance(name, str) else None


def _info(
    identity: dict[str, Any], bridge: jitsi_bridge.Bridge, entries: int, other: dict[str, int]
) -> DumpInfo:
    app = _app(identity)
    warnings = list(bridge.warnings)
    if not bridge.samples:
        if app in _NO_MEDIA:
            warnings.append(_NO_MEDIA[app])
        elif bridge.entries:
            warnings.append("a videobridge dump whose stats entries name no endpoint")
        else:
            name = f"a {app}" if app else "a jitsi server-side"
            warnings.append(f"{name} dump with no media statistics ({entries} stats entries)")
    times = [s.timestamp_ms for s in bridge.samples]
    return DumpInfo(
        format=FORMAT,
        url=identity.get("confUrl") if isinstance(identity.get("confUrl"), str) else None,
        peer_connection_ids=tuple(dict.fromkeys(s.participant_id for s in bridge.samples)),
        report_count=bridge.entries,
        start_ms=min(times) if times else None,
        end_ms=max(times) if times else None,
        metadata={**identity, "application": app, "statsEntries": entries, "otherLines": other},
        warnings=tuple(warnings),
        source="server",
    )

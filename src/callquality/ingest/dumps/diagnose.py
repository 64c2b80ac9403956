"""What a dump will give, per peer connection: reports used and skipped (and why), and warnings.

An import must not let an empty call look clean: a dump of Chrome's legacy stats, or of a call
in which no media flowed, stores intervals whose every figure is unknown, and a summary of them
reads like a call without trouble. ``diagnose`` differences the reports as live ingest does
(``process_report``, pure) and says, per peer connection, how many reports made an interval,
how many of those carried media, and why the others did not. docs/dumps.md, "What an import
says", lists the reasons.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from callquality.domain.sample import DirectionStats, Sample
from callquality.ingest.report import ReportError, process_report

from ._common import DumpInfo, DumpReport, DumpSample

BASELINE = "first report: the baseline its counters are differenced from"
STALE = "timestamp not after the previous report's"
INVALID = "not a valid getStats() report"
NO_RTP = "no RTP stream in the report"
NO_PACKETS = "no packets sent or received"

STANDARD, LEGACY, SERVER = "standard", "legacy", "media server"
# What Chrome's legacy stats cannot tell (legacy.py, docs/dumps.md).
LEGACY_CANNOT = "audio concealment, video freezes, the jitter of received video"


@dataclass(slots=True)
class PeerConnectionSummary:
    """One peer connection (a server's endpoint) of a dump, as an import will store it."""

    peer_connection_id: str
    stats: str = STANDARD  # 'standard' | 'legacy' (goog*, rebuilt) | 'media server'
    reports: int = 0  # getStats reports (a server's samples) in the dump
    intervals: int = 0  # reports that end an interval (a stored sample)
    with_media: int = 0  # intervals in which media flowed (some packets, or bytes)
    skipped: Counter[str] = field(default_factory=Counter)  # reason → reports without interval
    without_media: Counter[str] = field(default_factory=Counter)  # reason → intervals

    @property
    def warning(self) -> str | None:
        """Why this peer connection yields no usable sample, or says little; else None."""
        pc = self.peer_connection_id
        if self.intervals == 0:
            return f"{pc}: no usable sample: none of its {self.reports} reports ends an interval"
        if self.with_media == 0:
            if self.without_media.get(NO_RTP) == self.intervals:
                what = "legacy stats only, none of them an RTP stream"
                if self.stats != LEGACY:
                    what = "its reports hold no RTP stream"
                return f"{pc}: no usable sample: {what}"
            return f"{pc}: no usable sample: no media flowed in its {self.intervals} intervals"
        if self.with_media * 2 < self.intervals:
            return f"{pc}: media flowed in only {self.with_media} of its {self.intervals} intervals"
        return None


@dataclass(frozen=True, slots=True)
class Diagnosis:
    """Every peer connection's summary, and the warnings an import must show."""

    peer_connections: tuple[PeerConnectionSummary, ...]
    warnings: tuple[str, ...]

    @property
    def usable(self) -> int:
        """Intervals with media, over every peer connection."""
        return sum(pc.with_media for pc in self.peer_connections)


def diagnose(
    info: DumpInfo, reports: Iterable[DumpReport], samples: Iterable[DumpSample]
) -> Diagnosis:
    """Summarise a validated dump (its info, reports and samples) without storing anything."""
    pcs: dict[str, PeerConnectionSummary] = {}
    states: dict[str, Any] = {}
    report: DumpReport
    for report in reports:
        pc = pcs.setdefault(
            report.peer_connection_id, PeerConnectionSummary(report.peer_connection_id)
        )
        pc.reports += 1
        if report.legacy:
            pc.stats = LEGACY
        before = states.get(report.peer_connection_id)
        try:
            sample, states[report.peer_connection_id] = process_report(
                before, report.timestamp_ms, report.report
            )
        except ReportError:
            pc.skipped[INVALID] += 1  # the import refuses it, naming the field
            continue
        if sample is None:
            pc.skipped[BASELINE if before is None else STALE] += 1
            continue
        _count(pc, sample)
    server: DumpSample
    for server in samples:
        pc = pcs.setdefault(
            server.participant_id, PeerConnectionSummary(server.participant_id, SERVER)
        )
        pc.reports += 1
        _count(pc, server.sample)
    warnings = list(info.warnings)
    for pc in pcs.values():
        if pc.stats == LEGACY:
            warnings.append(
                f"{pc.peer_connection_id}: Chrome's legacy (goog*) stats, rebuilt as standard "
                f"ones (docs/dumps.md); they cannot tell {LEGACY_CANNOT}"
            )
        if pc.warning is not None:
            warnings.append(pc.warning)
    if pcs and not any(pc.with_media for pc in pcs.values()):
        warnings.append("the dump yields no usable sample: no interval of it carried media")
    return Diagnosis(tuple(pcs.values()), tuple(warnings))


def _count(pc: PeerConnectionSummary, sample: Sample) -> None:
    pc.intervals += 1
    directions = [
        d
        for media in (sample.audio, sample.video)
        if media is not None
        for d in (media.send, media.recv)
        if d is not None
    ]
    if not directions:
        pc.without_media[NO_RTP] += 1
    elif any(_carried(d) for d in directions):
        pc.with_media += 1
    else:
        pc.without_media[NO_PACKETS] += 1


def _carried(d: DirectionStats) -> bool:
    """Packets (or losses) counted, or, without counts, bytes: the scoring's own rule."""
    if d.packets is not None or d.packets_lost is not None:
        return (d.packets or 0) > 0 or (d.packets_lost or 0) > 0
    return d.bitrate_bps is not None and d.bitrate_bps > 0

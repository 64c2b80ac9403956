"""Alert rules as data: the metrics a rule may watch, how a window of a participant's samples
becomes one value, and when a condition starts and ends (docs/webhooks.md, "Alert rules").

Pure: rows in, decisions out. ``service/alerts.py`` reads the rows and stores the states.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

Row = Mapping[str, Any]  # a samples row: interval_ms and the metric's columns
Transition = Literal["fire", "resolve"]

# A window is judged only once samples cover this share of it (docs/webhooks.md).
MIN_COVERAGE = 0.8
# The default hysteresis: this share of the threshold (a rule may set its own).
DEFAULT_HYSTERESIS_SHARE = 0.05
NO_STATS = "noStatsS"
POOR_SHARE = "poorStreamSharePct"


def _weighted_mean(column: str) -> Callable[[Sequence[Row]], tuple[float | None, int]]:
    def aggregate(rows: Sequence[Row]) -> tuple[float | None, int]:
        pairs = [(r[column], r["interval_ms"]) for r in rows
                 if r[column] is not None and r["interval_ms"]]
        covered = sum(w for _, w in pairs)
        return (sum(v * w for v, w in pairs) / covered if covered else None), covered
    return aggregate


def _loss_percent(kind: str) -> Callable[[Sequence[Row]], tuple[float | None, int]]:
    # docs/metrics.md, packetLossPercent: Σ lost / (Σ packets + Σ lost) × 100
    packets, lost = f"{kind}_recv_packets", f"{kind}_recv_packets_lost"

    def aggregate(rows: Sequence[Row]) -> tuple[float | None, int]:
        used = [r for r in rows if r[packets] is not None and r[lost] is not None
                and r["interval_ms"]]
        total = sum(r[packets] + r[lost] for r in used)
        covered = sum(r["interval_ms"] for r in used)
        return (100.0 * sum(r[lost] for r in used) / total if total else None), covered
    return aggregate


def _total(column: str) -> Callable[[Sequence[Row]], tuple[float | None, int]]:
    def aggregate(rows: Sequence[Row]) -> tuple[float | None, int]:
        used = [r for r in rows if r[column] is not None and r["interval_ms"]]
        covered = sum(r["interval_ms"] for r in used)
        return (float(sum(r[column] for r in used)) if used else None), covered
    return aggregate


def _poor_share(rows: Sequence[Row]) -> tuple[float | None, int]:
    # rows: {"interval_ms", "poor"}, "poor" being scoring/classify.py's verdict
    covered = sum(r["interval_ms"] for r in rows if r["interval_ms"])
    poor = sum(r["interval_ms"] for r in rows if r["interval_ms"] and r["poor"])
    return (100.0 * poor / covered if covered else None), covered


@dataclass(frozen=True, slots=True)
class Metric:
    """A metric a rule may watch: its unit, samples columns and aggregation."""

    name: str
    unit: str
    help: str
    columns: tuple[str, ...]
    aggregate: Callable[[Sequence[Row]], tuple[float | None, int]] | None


METRICS: dict[str, Metric] = {m.name: m for m in (
    Metric("audioMos", "MOS", "audio E-model MOS, time-weighted mean over the window",
           ("audio_mos",), _weighted_mean("audio_mos")),
    Metric("videoMos", "MOS", "video quality (G.1070 Vq), time-weighted mean over the window",
           ("video_vq",), _weighted_mean("video_vq")),
    Metric("audioPacketLossPct", "%", "received audio loss: lost / (received + lost) x 100",
           ("audio_recv_packets", "audio_recv_packets_lost"), _loss_percent("audio")),
    Metric("videoPacketLossPct", "%", "received video loss: lost / (received + lost) x 100",
           ("video_recv_packets", "video_recv_packets_lost"), _loss_percent("video")),
    Metric("audioRttMs", "ms", "round trip of the audio sent, time-weighted mean",
           ("audio_send_rtt_ms",), _weighted_mean("audio_send_rtt_ms")),
    Metric("videoRttMs", "ms", "round trip of the video sent, time-weighted mean",
           ("video_send_rtt_ms",), _weighted_mean("video_send_rtt_ms")),
    Metric("audioJitterMs", "ms", "jitter of the audio received, time-weighted mean",
           ("audio_recv_jitter_ms",), _weighted_mean("audio_recv_jitter_ms")),
    Metric("videoJitterMs", "ms", "jitter of the video received, time-weighted mean",
           ("video_recv_jitter_ms",), _weighted_mean("video_recv_jitter_ms")),
    Metric("videoFreezeMs", "ms", "received video frozen in the window, summed",
           ("video_recv_freeze_duration_ms",), _total("video_recv_freeze_duration_ms")),
    Metric(POOR_SHARE, "%", "share of the window's time whose audio or video was poor by "
           "scoring/classify.py's stream classification", (), _poor_share),
    Metric(NO_STATS, "s", "seconds since the participant's last report, while its session "
           "is ongoing (absent data; evaluated by the sweep)", (), None),
)}

OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
}
SEVERITIES = ("info", "warning", "critical")
SCOPES = ("all", "room", "participant")


@dataclass(frozen=True, slots=True)
class Rule:
    """An alert rule."""

    rule_id: str
    api_key: str
    name: str | None
    metric: str
    operator: str
    threshold: float
    window_s: int
    hysteresis: float
    scope: str
    room_id: str | None
    participant_id: str | None
    severity: str
    endpoint_ids: tuple[str, ...]
    enabled: bool
    created_ms: int
    updated_ms: int

    def applies_to(self, room_id: str, participant_id: str) -> bool:
        """Whether a participant of a room is in the rule's scope."""
        if self.scope == "room":
            return room_id == self.room_id
        if self.scope == "participant":
            return participant_id == self.participant_id and (
                self.room_id is None or room_id == self.room_id)
        return True


def default_hysteresis(threshold: float) -> float:
    """5 % of the threshold's magnitude."""
    return abs(threshold) * DEFAULT_HYSTERESIS_SHARE


def window_value(rule: Rule, rows: Sequence[Row]) -> float | None:
    """The metric over the window's rows, or None when they cover less than
    ``MIN_COVERAGE`` of the window (too little to judge: no transition)."""
    metric = METRICS[rule.metric]
    assert metric.aggregate is not None
    value, covered_ms = metric.aggregate(rows)
    if value is None or covered_ms < MIN_COVERAGE * rule.window_s * 1000:
        return None
    return value


def transition(rule: Rule, firing: bool, value: float | None) -> Transition | None:
    """Fire when the condition starts; resolve only once the value is back beyond the
    threshold by the hysteresis (so a value hovering at the threshold does not flap)."""
    if value is None:
        return None
    breached = OPERATORS[rule.operator](value, rule.threshold)
    if not firing:
        return "fire" if breached else None
    if rule.operator in ("<", "<="):
        recovered = value >= rule.threshold + rule.hysteresis
    else:
        recovered = value <= rule.threshold - rule.hysteresis
    return "resolve" if recovered else None

"""Poor-stream classification and likely causes of one participant's interval (pure).

The rule follows Microsoft Teams Call Quality Dashboard's stream classification, applied per
interval rather than per call, with the E-model's MOS line added (docs/models.md,
"Classification"):

- audio is poor when its MOS is below 3.5, or RTT > 500 ms, received loss > 10 %, jitter
  > 30 ms, or the audible concealed share > 7 %; muted or silent audio is not classified;
- video is poor when its frame rate is below 7 frame/s, received loss > 15 %, the picture froze
  for more than 10 % of the interval, or its score is below 2.5 (a starved picture).

Causes say what a poor interval shows; several can hold at once.
"""

from __future__ import annotations

from dataclasses import dataclass

# Teams CQD stream classification (Microsoft Learn, "Stream Classification in Call Quality
# Dashboard"): audio RTT > 500 ms, packet loss > 10 %, jitter > 30 ms, concealed ratio > 7 %.
AUDIO_MOS_POOR = 3.5  # G.107 Annex B Table B.1: MOS 3.6–3.1 "many users dissatisfied"
AUDIO_RTT_POOR_MS = 500.0
AUDIO_LOSS_POOR_PCT = 10.0
AUDIO_JITTER_POOR_MS = 30.0
AUDIO_CONCEALED_POOR = 0.07
# CQD video: frame rate < 7 frame/s, post-FEC packet loss > 15 %.
VIDEO_FPS_POOR = 7.0
VIDEO_LOSS_POOR_PCT = 15.0
# Agora counts a video freeze from 500 ms without a frame; over a 5-s interval that is 10 %.
VIDEO_FROZEN_POOR = 0.10
VIDEO_SCORE_POOR = 2.5  # between "poor" (2) and "fair" (3) on the ACR scale (P.910)

# Causes of a poor interval, in the order ties are broken.
# Received loss above 2 % (Twilio tags a call high_packet_loss from 5 %; at 2 % random loss
# Opus already loses 0.4 MOS on the fullband scale).
LOSS_CAUSE_PCT = 2.0
LATENCY_CAUSE_RTT_MS = 300.0  # ~150 ms one way: G.114's limit for comfortable conversation
JITTER_CAUSE_MS = 30.0  # Teams CQD and Twilio's high-jitter warning
CONCEALMENT_CAUSE = 0.02  # audible concealment beyond the loss that explains it
CAUSES = (
    "network loss",
    "latency",
    "jitter",
    "concealment",
    "sender bandwidth",
    "sender CPU",
    "low frame rate",
    "freezes",
)
MUTED = "muted"


@dataclass(frozen=True, slots=True)
class IntervalFacts:
    """What one participant's interval showed; None = unknown."""

    interval_ms: float
    audio_mos: float | None = None
    audio_muted: bool = False
    audio_loss_pct: float | None = None
    audio_concealed_ratio: float | None = None
    rtt_ms: float | None = None
    jitter_ms: float | None = None
    video_vq: float | None = None
    video_frame_rate: float | None = None
    video_loss_pct: float | None = None
    video_freeze_ms: float | None = None
    limitation: str | None = None  # the sender's qualityLimitationReason


def _above(value: float | None, limit: float) -> bool:
    return value is not None and value > limit


def audio_poor(f: IntervalFacts) -> bool:
    """The interval's audio was poor (muted or unscored audio never is)."""
    if f.audio_muted or f.audio_mos is None:
        return False
    return (
        f.audio_mos < AUDIO_MOS_POOR
        or _above(f.rtt_ms, AUDIO_RTT_POOR_MS)
        or _above(f.audio_loss_pct, AUDIO_LOSS_POOR_PCT)
        or _above(f.jitter_ms, AUDIO_JITTER_POOR_MS)
        or _above(f.audio_concealed_ratio, AUDIO_CONCEALED_POOR)
    )


def video_poor(f: IntervalFacts) -> bool:
    """The interval's video was poor (a small simulcast layer is judged as itself)."""
    if f.video_vq is None:
        return False
    frozen = (f.video_freeze_ms or 0.0) / f.interval_ms if f.interval_ms > 0 else 0.0
    return (
        (f.video_frame_rate is not None and f.video_frame_rate < VIDEO_FPS_POOR)
        or _above(f.video_loss_pct, VIDEO_LOSS_POOR_PCT)
        or frozen > VIDEO_FROZEN_POOR
        or f.video_vq < VIDEO_SCORE_POOR
    )


def causes_of(f: IntervalFacts) -> list[str]:
    """What an interval shows that lowers quality, in the order of CAUSES."""
    found = []
    loss = max(f.audio_loss_pct or 0.0, f.video_loss_pct or 0.0)
    if loss > LOSS_CAUSE_PCT:
        found.append("network loss")
    if _above(f.rtt_ms, LATENCY_CAUSE_RTT_MS):
        found.append("latency")
    if _above(f.jitter_ms, JITTER_CAUSE_MS):
        found.append("jitter")
    if (f.audio_concealed_ratio or 0.0) * 100.0 - (f.audio_loss_pct or 0.0) > (
        CONCEALMENT_CAUSE * 100.0
    ):
        found.append("concealment")
    if f.limitation == "bandwidth":
        found.append("sender bandwidth")
    if f.limitation == "cpu":
        found.append("sender CPU")
    if f.video_vq is not None and f.video_frame_rate is not None and (
        f.video_frame_rate < VIDEO_FPS_POOR
    ):
        found.append("low frame rate")
    if f.video_freeze_ms:
        found.append("freezes")
    return found

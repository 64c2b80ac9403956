"""The audio MOS formulas of three peers, written from their public sources (our code).

- Twilio: twilio-video.js ``lib/preflight/mos.ts`` (the same formula as the Voice SDK's
  ``mos.ts``): r0 = 94.768, effective latency L = RTT + 2·jitter + 10 ms,
  R = r0 − L/40 below 160 ms, r0 − (L − 120)/10 below 1000 ms (else 0), minus 2.5 per
  percent lost (R ≥ 6.52 while loss ≤ R/2.5, else 0). Loss passed as a percentage, as the
  figures in ../shared/PEERS.md are.
- webrtc-issue-detector: VLprojects/webrtc-issue-detector ``src/NetworkScoresCalculator.ts``
  (commit 0ea0bb5): L as Twilio's, R = 93.2 − L/40 below 160 ms, else 93.2 − L/120 − 10,
  minus 2.5 per percent lost; the Annex B polynomial without clamps.
- rtcscore: ggarber/rtcscore ``src/rtc_mos.js`` (commit 14846cf): delay d = 20 + buffer +
  RTT/2, Ie = clamp(55 − 4.6·ln(bitrate), 0, 30), Bpl = 20 with FEC, Ipl = Ie + (100 −
  Ie)·Ppl/(Ppl + Bpl), Id = 0.03·d (+ 0.1·(d − 150)² above 150 ms), R = 100 − Ipl − Id,
  MOS rounded to 2 decimals and clamped to 1..5.
"""

from __future__ import annotations

import math


def _annex_b(r: float) -> float:
    return 1.0 + 0.035 * r + 7.0e-6 * r * (r - 60.0) * (100.0 - r)


def twilio(rtt_ms: float, jitter_ms: float, loss_pct: float) -> float:
    """Twilio's MOS (preflight mos.ts)."""
    latency = rtt_ms + 2.0 * jitter_ms + 10.0
    r0 = 94.768
    if latency < 160.0:
        r = r0 - latency / 40.0
    elif latency < 1000.0:
        r = r0 - (latency - 120.0) / 10.0
    else:
        r = 0.0
    r = max(r - loss_pct * 2.5, 6.52) if loss_pct <= r / 2.5 else 0.0
    if r >= 100.0:
        return 4.5
    return _annex_b(r) if r > 0.0 else 1.0


def webrtc_issue_detector(rtt_ms: float, jitter_ms: float, loss_pct: float) -> float:
    """webrtc-issue-detector's calculateMOS."""
    latency = rtt_ms + 2.0 * jitter_ms + 10.0
    r = 93.2 - latency / 40.0 if latency < 160.0 else 93.2 - latency / 120.0 - 10.0
    r -= loss_pct * 2.5
    return _annex_b(r)


def rtcscore(rtt_ms: float, buffer_ms: float, loss_pct: float, bitrate_bps: float) -> float:
    """rtcscore's audio score (FEC on, no DTX, as its defaults)."""
    delay = 20.0 + buffer_ms + rtt_ms / 2.0
    ie = min(max(55.0 - 4.6 * math.log(bitrate_bps), 0.0), 30.0)
    bpl = 20.0
    ipl = ie + (100.0 - ie) * (loss_pct / (loss_pct + bpl))
    id_ = delay * 0.03 + (0.1 * (delay - 150.0) ** 2 if delay > 150.0 else 0.0)
    r = 100.0 - ipl - id_
    return min(max(round(_annex_b(r) * 100) / 100, 1.0), 5.0)

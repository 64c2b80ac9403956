"""The audio score of one interval: network numbers → mouth-to-ear delay, loss → E-model MOS.

Scale: the narrowband E-model (G.107). Its best value is R = 93.2 → MOS 4.41 (G.711, no loss,
Ta ≤ 100 ms). Wideband and super-wideband codecs are scored on the same scale: their Ie,
published on the wideband (G.107.1, R up to 129) or fullband (G.107.2, R up to 148) scale, is
divided by 1.29 or 1.48 to become a narrowband-scale impairment. A clean Opus call therefore
tops at MOS 4.09, below clean G.711: the narrowband scale cannot credit audio bandwidth, and
each codec is rated against the ideal of its own band. docs/models.md gives every source.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from callquality.scoring import emodel
from callquality.scoring.errors import ScoringInputError

Band = Literal["narrowband", "wideband", "super-wideband"]

# G.107.1 (06/2015) §6.2: the wideband scale tops at R = 129 (narrowband: 100).
WIDEBAND_SCALE = 1.29
# G.107.2 (06/2019) §6.2: the fullband (and super-wideband) scale tops at R = 148.
FULLBAND_SCALE = 1.48

# Jitter buffer: 2 × the RFC 3550 interarrival jitter, at least one 20 ms packet. A rule of
# thumb (docs/models.md), not an ITU value: NetEq holds about two mean deviations of delay
# variation and never less than one packet.
JITTER_BUFFER_FACTOR = 2.0
JITTER_BUFFER_FLOOR_MS = 20.0


@dataclass(frozen=True, slots=True)
class CodecProfile:
    """What the E-model needs of a codec, already on the narrowband scale."""

    name: str
    band: Band
    ie: float  # narrowband-scale equipment impairment
    bpl: float  # packet-loss robustness factor (scale-free: a loss percentage)
    codec_delay_ms: float  # packetisation + look-ahead


# G.113 (11/2007) Appendix I, Table I.3: G.711 Ie = 0, Bpl = 25.1 with packet loss
# concealment (4.3 without). WebRTC's NetEq always conceals, so the PLC value applies.
# 20 ms packets: RFC 3551's default packetization interval for sample-based encodings.
G711 = CodecProfile(name="g711", band="narrowband", ie=0.0, bpl=25.1, codec_delay_ms=20.0)

# G.113 (11/2007) Appendix IV (wideband Ie,WB values): G.722 at 64 kbit/s, Ie,WB = 13, i.e.
# 13/1.29 on our scale. No published Bpl for G.722 concealed by NetEq was found: we use
# G.711's with-PLC value, since NetEq conceals G.722 with the same waveform expansion.
# 20 ms packets (RFC 3551 default).
G722 = CodecProfile(
    name="g722", band="wideband", ie=13.0 / WIDEBAND_SCALE, bpl=25.1, codec_delay_ms=20.0
)

# Alahmadi, Pocta & Melvin, "An Adaptive Bitrate Switching Algorithm for Speech Applications
# in Context of WebRTC", ACM TOMM 17(4), art. 133, 2021 (doi:10.1145/3458751), super-wideband
# VBR Opus at 31 kbit/s (the tabulated rate nearest libwebrtc's 32 kbit/s default): Ie = 16.83
# on the G.107.2 scale → 16.83/1.48; Bpl = 10.44 for random loss (bursts enter via BurstR).
# Delay: 20 ms frame + 6.5 ms look-ahead, Opus's 26.5 ms default algorithmic delay (RFC 6716).
OPUS = CodecProfile(
    name="opus", band="super-wideband", ie=16.83 / FULLBAND_SCALE, bpl=10.44, codec_delay_ms=26.5
)

_BY_NAME: dict[str, CodecProfile] = {
    "pcmu": G711,
    "pcma": G711,
    "g711": G711,
    "g722": G722,
    "opus": OPUS,
    "multiopus": OPUS,
    "red": OPUS,  # RFC 2198 redundancy; in WebRTC it carries Opus
}


def codec_profile(codec: str | None) -> CodecProfile:
    """The profile for a codec name (mimeType subtype, any case); unknown or None → Opus."""
    if codec is None:
        return OPUS
    key = codec.strip().lower().removeprefix("audio/").replace(".", "").replace("-", "")
    return _BY_NAME.get(key, OPUS)


def jitter_buffer_delay_ms(jitter_ms: float) -> float:
    """Delay the receiver's jitter buffer adds: max(2 × jitter, 20 ms)."""
    return max(JITTER_BUFFER_FACTOR * jitter_ms, JITTER_BUFFER_FLOOR_MS)


def effective_loss_pct(loss_pct: float, concealed_ratio: float | None) -> float:
    """Ppl: the larger of network loss and the share of audio the receiver concealed.

    Concealment covers packets lost and packets that came too late for the jitter buffer;
    G.107's Ppl counts both. Taking the larger never counts a lost packet twice.
    """
    if concealed_ratio is None:
        return loss_pct
    return max(loss_pct, 100.0 * concealed_ratio)


@dataclass(frozen=True, slots=True)
class AudioScore:
    """An E-model result with the inputs and intermediates it came from."""

    mos: float
    r: float
    codec: str  # the profile used: "opus", "g711" or "g722"
    band: Band
    rtt_ms: float | None  # as given; None = unknown, scored as 0
    jitter_ms: float | None  # as given; None = unknown, scored as 0
    loss_pct: float | None  # network loss as given; None = unknown, scored as 0
    concealed_ratio: float | None
    burst_ratio: float
    ppl: float  # effective loss percentage fed to Ie,eff
    jitter_buffer_ms: float
    codec_delay_ms: float
    ta_ms: float  # mouth-to-ear delay: rtt/2 + jitter buffer + codec
    id: float
    ie: float
    bpl: float
    ie_eff: float


def _check(name: str, value: float | None, upper: float = math.inf) -> None:
    if value is not None and (not math.isfinite(value) or value < 0.0 or value > upper):
        raise ScoringInputError(f"{name} must be a finite number in [0, {upper}], got {value!r}")


def audio_score(
    *,
    rtt_ms: float | None,
    jitter_ms: float | None,
    loss_pct: float | None,
    codec: str | None = None,
    concealed_ratio: float | None = None,
    burst_ratio: float | None = None,
) -> AudioScore:
    """E-model MOS of one interval; unknown delay, jitter or loss count as 0."""
    _check("rtt_ms", rtt_ms)
    _check("jitter_ms", jitter_ms)
    _check("loss_pct", loss_pct, 100.0)
    _check("concealed_ratio", concealed_ratio, 1.0)
    if burst_ratio is not None and (not math.isfinite(burst_ratio) or burst_ratio <= 0.0):
        raise ScoringInputError(f"burst_ratio must be a finite number > 0, got {burst_ratio!r}")
    profile = codec_profile(codec)
    burst = 1.0 if burst_ratio is None else burst_ratio  # G.107 Table 3: BurstR = 1 (random)
    jb_ms = jitter_buffer_delay_ms(jitter_ms or 0.0)
    ta_ms = (rtt_ms or 0.0) / 2.0 + jb_ms + profile.codec_delay_ms
    ppl = effective_loss_pct(loss_pct or 0.0, concealed_ratio)
    terms = emodel.rating(ta_ms=ta_ms, ie=profile.ie, bpl=profile.bpl, ppl_pct=ppl,
                          burst_ratio=burst)
    return AudioScore(
        mos=terms.mos,
        r=terms.r,
        codec=profile.name,
        band=profile.band,
        rtt_ms=rtt_ms,
        jitter_ms=jitter_ms,
        loss_pct=loss_pct,
        concealed_ratio=concealed_ratio,
        burst_ratio=burst,
        ppl=ppl,
        jitter_buffer_ms=jb_ms,
        codec_delay_ms=profile.codec_delay_ms,
        ta_ms=ta_ms,
        id=terms.id,
        ie=profile.ie,
        bpl=profile.bpl,
        ie_eff=terms.ie_eff,
    )

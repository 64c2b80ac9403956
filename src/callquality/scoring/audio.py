"""The audio score of one interval: network numbers → mouth-to-ear delay, loss → E-model MOS.

Scale: the fullband E-model (ITU-T G.107.2), R up to 148, MOS from R/1.48 (Annex A). Every
codec is rated on this one scale, against the fullband ideal, so bandwidth is credited:
a clean super-wideband Opus call scores MOS 4.30, clean wideband G.722 3.96, clean narrowband
G.711 3.25. The narrowband and wideband E-model scales (G.107, G.107.1) are embedded in the
fullband one unchanged: a codec keeps the R it has on its own band's scale, so its fullband
impairment is its own-band impairment plus the distance from its band's top to 148
(G.711: 148 − 93.2 = 54.8; G.722: 13 + (148 − 129) = 32). docs/models.md gives every source.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from callquality.scoring import emodel
from callquality.scoring.errors import ScoringInputError

Band = Literal["narrowband", "wideband", "super-wideband"]
Scale = Literal["fullband"]

# The scale every AudioScore is on: G.107.2 fullband (R 0..148, MOS 1..4.5).
SCALE: Scale = "fullband"

# Tops of the three E-model transmission rating scales: G.107 (a default narrowband
# connection, §7.7: 93.2; the scale itself ends at 100), G.107.1 (Ro,WB = 129) and
# G.107.2 (Ro,FB = 148).
NARROWBAND_TOP_R = 93.2
WIDEBAND_TOP_R = 129.0
FULLBAND_TOP_R = emodel.FULLBAND_RO

# Jitter buffer: 2 × the RFC 3550 interarrival jitter, at least one 20 ms packet. A rule of
# thumb (docs/models.md), not an ITU value: NetEq holds about two mean deviations of delay
# variation and never less than one packet.
JITTER_BUFFER_FACTOR = 2.0
JITTER_BUFFER_FLOOR_MS = 20.0


@dataclass(frozen=True, slots=True)
class CodecProfile:
    """What the E-model needs of a codec, on the fullband (G.107.2) scale."""

    name: str
    band: Band
    ie: float  # Ie,FB: equipment impairment on the fullband scale
    bpl: float  # packet-loss robustness factor (scale-free: a loss percentage)
    codec_delay_ms: float  # packetisation + look-ahead


# G.711 is narrowband: on the G.107 scale a clean default connection rates R = 93.2 with
# Ie = 0 (G.113 (11/2007) Appendix I, Table I.3). Kept at that R on the fullband scale, its
# fullband impairment is 148 − 93.2 = 54.8 (the often-cited wideband-context value
# Ie,WB ≈ 36 = 129 − 93.2, plus the 19 between the wideband and fullband tops). No
# published Ie,FB for G.711 was found; this is derived. Bpl = 25.1 with packet loss
# concealment (4.3 without): WebRTC's NetEq always conceals. 20 ms packets: RFC 3551.
G711 = CodecProfile(
    name="g711", band="narrowband", ie=FULLBAND_TOP_R - NARROWBAND_TOP_R, bpl=25.1,
    codec_delay_ms=20.0,
)

# G.722 is wideband: G.113 Appendix IV gives Ie,WB = 13 at 64 kbit/s on the G.107.1 scale
# (top 129). Kept at that R on the fullband scale: Ie,FB = 13 + (148 − 129) = 32. No
# published Ie,FB for G.722 was found; this is derived. No published Bpl for G.722 concealed
# by NetEq: G.711's with-PLC value is used (same waveform expansion). 20 ms packets.
G722 = CodecProfile(
    name="g722", band="wideband", ie=13.0 + (FULLBAND_TOP_R - WIDEBAND_TOP_R), bpl=25.1,
    codec_delay_ms=20.0,
)

# Alahmadi, Pocta & Melvin, "An Adaptive Bitrate Switching Algorithm for Speech Applications
# in Context of WebRTC", ACM TOMM 17(4), art. 133, 2021 (doi:10.1145/3458751), super-wideband
# VBR Opus at 31 kbit/s (the tabulated rate nearest libwebrtc's 32 kbit/s default): Ie = 16.83
# on the fullband scale (used as published); Bpl = 10.44 for random loss (bursts via BurstR).
# Delay: 20 ms frame + 6.5 ms look-ahead, Opus's 26.5 ms default algorithmic delay (RFC 6716).
OPUS = CodecProfile(
    name="opus", band="super-wideband", ie=16.83, bpl=10.44, codec_delay_ms=26.5
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
    scale: Scale  # always "fullband": R is on the G.107.2 scale (0..148), MOS from R/1.48
    rtt_ms: float | None  # as given; None = unknown, scored as 0
    jitter_ms: float | None  # as given; None = unknown, scored as 0
    loss_pct: float | None  # network loss as given; None = unknown, scored as 0
    concealed_ratio: float | None
    burst_ratio: float
    ppl: float  # effective loss percentage fed to Ie,eff
    jitter_buffer_ms: float
    codec_delay_ms: float
    ta_ms: float  # mouth-to-ear delay: rtt/2 + jitter buffer + codec
    id: float  # Id,FB = 1.48·Idd(Ta)
    ie: float  # Ie,FB
    bpl: float
    ie_eff: float  # Ie,eff,FB


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
    """Fullband E-model (G.107.2) MOS of one interval; unknown delay, jitter or loss count as 0."""
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
    terms = emodel.fullband_rating(ta_ms=ta_ms, ie=profile.ie, bpl=profile.bpl, ppl_pct=ppl,
                                   burst_ratio=burst)
    return AudioScore(
        mos=terms.mos,
        r=terms.r,
        codec=profile.name,
        band=profile.band,
        scale=SCALE,
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

"""The audio score of one interval: network numbers → mouth-to-ear delay, loss → E-model MOS.

Each codec is rated on the E-model of its own audio band, with that band's published
equipment-impairment (Ie) and packet-loss robustness (Bpl) values: narrowband codecs (G.711,
iLBC) on ITU-T G.107, wideband (G.722) on G.107.1, fullband 48 kHz codecs (Opus) on G.107.2.
So a clean G.711 call scores G.107's 4.41, like a clean Opus call on its own scale; the bands'
scales are separate models, not one axis. For comparing codecs, ``r_fullband`` rates the same
interval on the fullband scale (0..148), where a narrowband codec's missing bandwidth counts.
docs/models.md gives every source.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from callquality.scoring import emodel
from callquality.scoring.errors import ScoringInputError

Band = Literal["narrowband", "wideband", "fullband"]

# The top of each band's transmission rating scale: G.107 Annex B (MOS 4.5 at R = 100),
# G.107.1 eq. 7-2 (Ro,WB = 129), G.107.2 §7.2 (Ro,FB = 148).
BAND_TOP_R: dict[Band, float] = {
    "narrowband": emodel.NARROWBAND_TOP_R,
    "wideband": emodel.WIDEBAND_RO,
    "fullband": emodel.FULLBAND_RO,
}
# The upper edge of each band in Hz, as the Recommendations' scopes define it (G.107: telephone
# band 300–3400 Hz; G.107.1: 50–7000 Hz; G.107.2: 20–20000 Hz); numeric so that it averages.
BAND_UPPER_HZ: dict[Band, float] = {"narrowband": 3400.0, "wideband": 7000.0, "fullband": 20000.0}

# Jitter buffer: 2 × the RFC 3550 interarrival jitter, at least one 20 ms packet. A rule of
# thumb (docs/models.md), not an ITU value: NetEq holds about two mean deviations of delay
# variation and never less than one packet.
JITTER_BUFFER_FACTOR = 2.0
JITTER_BUFFER_FLOOR_MS = 20.0


@dataclass(frozen=True, slots=True)
class CodecProfile:
    """What the E-model needs of a codec, on its own band's scale."""

    name: str
    band: Band
    ie: float  # equipment impairment on its band's scale (Ie, Ie,WB or Ie,FB)
    bpl: float  # packet-loss robustness factor (a loss percentage)
    codec_delay_ms: float  # packetisation + look-ahead
    ie_fullband: float  # its impairment in a fullband context, for r_fullband


# G.711: G.113 (11/2007) Appendix I, Table I.3: Ie = 0, Bpl = 25.1 with packet loss
# concealment (4.3 without). WebRTC's NetEq always conceals. 20 ms packets: RFC 3551 §4.5.14.
# In a fullband context it keeps its narrowband rating of a default connection (93.2): Ie,FB =
# 148 − 93.2 = 54.8, derived (docs/models.md: no published Ie,FB for G.711 was found).
G711 = CodecProfile(name="g711", band="narrowband", ie=0.0, bpl=25.1, codec_delay_ms=20.0,
                    ie_fullband=emodel.FULLBAND_RO - 93.2)

# iLBC (RFC 3951) is narrowband; no published Ie or Bpl was found. Scored with G.711's values,
# an explicit assumption (docs/models.md): its coding distortion is not counted. 20 ms frames
# (RFC 3952 mode 20), the mode libwebrtc sends.
ILBC = CodecProfile(name="ilbc", band="narrowband", ie=0.0, bpl=25.1, codec_delay_ms=20.0,
                    ie_fullband=emodel.FULLBAND_RO - 93.2)

# G.722 64 kbit/s: G.113 Appendix IV: Ie,WB = 13 on the G.107.1 scale. No published Bpl for
# G.722 concealed by NetEq: G.711's with-PLC value (same waveform expansion), an assumption.
# Fullband context: its wideband rating kept, Ie,FB = 13 + (148 − 129) = 32, derived.
G722 = CodecProfile(name="g722", band="wideband", ie=13.0, bpl=25.1, codec_delay_ms=20.0,
                    ie_fullband=13.0 + (emodel.FULLBAND_RO - emodel.WIDEBAND_RO))

# Opus on the fullband scale: Ie,FB = 10.2, Bpl = 9.6, the G.113 Amendment 3 values as cited by
# Orange's webrtc-metrics (Ie,FB 10.2 also in sipwise/rtpengine and wireapp/wire-avs). Second
# source: Alahmadi, Pocta & Melvin, ACM TOMM 17(4) art. 133, 2021 (doi:10.1145/3458751), VBR
# Opus at 34–40 kbit/s: Ie 14.8–10.7, Bpl 10.1–9.8 for random loss. Delay: 20 ms frame +
# 6.5 ms look-ahead, Opus's 26.5 ms default algorithmic delay (RFC 6716 §2).
OPUS = CodecProfile(name="opus", band="fullband", ie=10.2, bpl=9.6, codec_delay_ms=26.5,
                    ie_fullband=10.2)

_BY_NAME: dict[str, CodecProfile] = {
    "pcmu": G711,
    "pcma": G711,
    "g711": G711,
    "ilbc": ILBC,
    "g722": G722,
    "opus": OPUS,
    "multiopus": OPUS,
    "red": OPUS,  # RFC 2198 redundancy; in WebRTC it carries Opus
}


def codec_profile(codec: str | None) -> CodecProfile:
    """The profile for a codec name (mimeType subtype, any case); unknown or None → Opus."""
    if codec is None:
        return OPUS
    profile = _BY_NAME.get(codec)  # the usual case: a name already in its normal form
    if profile is not None:
        return profile
    key = codec.strip().lower().removeprefix("audio/").replace(".", "").replace("-", "")
    return _BY_NAME.get(key, OPUS)


def jitter_buffer_delay_ms(jitter_ms: float) -> float:
    """Delay the receiver's jitter buffer adds: max(2 × jitter, 20 ms)."""
    return max(JITTER_BUFFER_FACTOR * jitter_ms, JITTER_BUFFER_FLOOR_MS)


def effective_loss_pct(loss_pct: float, concealed_ratio: float | None) -> float:
    """Ppl: the share of audio the receiver concealed when it says, else network loss.

    Concealment is what the listener heard replaced: packets lost and not recovered by FEC or
    retransmission, and packets too late for the jitter buffer. G.107's Ppl is that share.
    """
    if concealed_ratio is None:
        return loss_pct
    return 100.0 * concealed_ratio


# Not frozen, as ingest's RtpStream: one is built for every scored interval, and a frozen
# dataclass's __init__ costs three to four times as much. Nothing changes it once built.
@dataclass(slots=True)
class AudioScore:
    """An E-model result with the inputs and intermediates it came from."""

    mos: float  # on the codec's own band's MOS scale, 1..4.5
    r: float  # on its band's scale, clamped to 0..top (100, 129 or 148)
    r_fullband: float  # the same interval on the G.107.2 scale, 0..148, to compare codecs
    r_zero_delay: float  # R of the same codec and loss at zero delay (G.107's default connection)
    codec: str  # the profile used: "opus", "g711", "ilbc" or "g722"
    band: Band
    band_upper_hz: float
    rtt_ms: float | None  # as given; None = unknown, scored as 0
    jitter_ms: float | None  # as given; None = unknown, scored as 0
    loss_pct: float | None  # network loss as given; None = unknown, scored as 0
    concealed_ratio: float | None  # audible concealment (silent concealment excluded)
    burst_ratio: float
    ppl: float  # effective loss percentage fed to Ie,eff
    jitter_buffer_ms: float
    codec_delay_ms: float
    ta_ms: float  # mouth-to-ear delay: rtt/2 + jitter buffer + codec; T = Ta, Tr = 2·Ta
    idte: float
    idle: float
    idd: float
    id: float  # Idte + Idle + Idd, on the band's scale
    ie: float
    bpl: float
    ie_eff: float


def _check(name: str, value: float | None, upper: float = math.inf) -> None:
    if value is not None and (not math.isfinite(value) or value < 0.0 or value > upper):
        raise ScoringInputError(f"{name} must be a finite number in [0, {upper}], got {value!r}")


_RATINGS = {
    "narrowband": emodel.rating,
    "wideband": emodel.wideband_rating,
    "fullband": emodel.fullband_rating,
}


def audio_score(
    *,
    rtt_ms: float | None,
    jitter_ms: float | None,
    loss_pct: float | None,
    codec: str | None = None,
    concealed_ratio: float | None = None,
    burst_ratio: float | None = None,
) -> AudioScore:
    """E-model MOS of one interval on its codec's band; unknown delay, jitter or loss count as 0."""
    if not (  # the usual case in one test (False for NaN); anything else is judged by _check
        (rtt_ms is None or 0.0 <= rtt_ms < math.inf)
        and (jitter_ms is None or 0.0 <= jitter_ms < math.inf)
        and (loss_pct is None or 0.0 <= loss_pct <= 100.0)
        and (concealed_ratio is None or 0.0 <= concealed_ratio <= 1.0)
    ):
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
    terms = _RATINGS[profile.band](ta_ms=ta_ms, ie=profile.ie, bpl=profile.bpl, ppl_pct=ppl,
                                   burst_ratio=burst)
    fullband = (
        terms if profile.band == "fullband"
        else emodel.fullband_rating(ta_ms=ta_ms, ie=profile.ie_fullband, bpl=profile.bpl,
                                    ppl_pct=ppl, burst_ratio=burst)
    )
    top = BAND_TOP_R[profile.band]
    # Positional, in the order of its fields: keywords double the cost of this call.
    return AudioScore(
        terms.mos,
        min(max(terms.r, 0.0), top),  # r
        min(max(fullband.r, 0.0), emodel.FULLBAND_RO),  # r_fullband
        min(max(terms.r_zero_delay, 0.0), top),  # r_zero_delay
        profile.name,  # codec
        profile.band,
        BAND_UPPER_HZ[profile.band],  # band_upper_hz
        rtt_ms,
        jitter_ms,
        loss_pct,
        concealed_ratio,
        burst,  # burst_ratio
        ppl,
        jb_ms,  # jitter_buffer_ms
        profile.codec_delay_ms,
        ta_ms,
        terms.idte,
        terms.idle,
        terms.idd,
        terms.id,
        profile.ie,
        profile.bpl,
        terms.ie_eff,
    )

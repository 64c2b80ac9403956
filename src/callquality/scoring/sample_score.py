"""Score one Sample: what this participant experienced, audio and video.

Rule (docs/models.md): a kind is scored from the received direction when it carried media;
otherwise from the sent direction as the remote end reported it; otherwise it is not scored.
RTT is the round trip of what was sent: audio's, else video's, else unknown (scored as 0).
A value no model can take (negative, not finite, a ratio above 1) is treated as unknown.
Received audio that was muted or silent (the sender muted, or sent no speech: DTX) is not
scored: there was no speech to judge. ``audio_muted`` says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from callquality.domain.sample import DirectionStats, MediaStats, Sample
from callquality.scoring.audio import AudioScore, audio_score
from callquality.scoring.video import VideoScore, video_score

Direction = Literal["send", "recv"]
InputValue = float | str | None


def _clean(value: float | None, upper: float = math.inf) -> float | None:
    """The value if a model can take it, else None (unknown)."""
    # One chained comparison: False for NaN and below 0; an infinity is refused apart.
    if value is None or not 0.0 <= value <= upper or value == math.inf:
        return None
    return float(value)


def _carried_media(d: DirectionStats | None) -> bool:
    """True when the direction saw packets (or lost some); unknown counts fall back to bitrate."""
    if d is None:
        return False
    if d.packets is not None or d.packets_lost is not None:
        return (d.packets or 0) > 0 or (d.packets_lost or 0) > 0
    return d.bitrate_bps is not None and d.bitrate_bps > 0


def _pick(media: MediaStats | None) -> tuple[Direction, DirectionStats] | None:
    if media is None:
        return None
    if _carried_media(media.recv):
        assert media.recv is not None
        return "recv", media.recv
    if _carried_media(media.send):
        assert media.send is not None
        return "send", media.send
    return None


# Received audio is muted in an interval when none of its streams carried speech (ingest
# judges each stream: docs/metrics.md, "Concealment and muted audio"); for a source that gives
# only the silent-concealment ratio, when at least half of the samples were concealed silence.
# Sent audio (scored when nothing is received) is muted when the microphone sent silence.
MUTED_SHARE = 0.999
MUTED_SILENT_CONCEALED_RATIO = 0.5


def audio_muted(d: DirectionStats) -> bool:
    """Whether the audio carried no speech in the interval (muted, DTX or silent)."""
    muted = _clean(d.muted_ratio, 1.0)
    if muted is not None:
        return muted >= MUTED_SHARE
    silent = _clean(d.silent_concealed_ratio, 1.0)
    return silent is not None and silent >= MUTED_SILENT_CONCEALED_RATIO


def _rtt_ms(sample: Sample) -> float | None:
    """The round trip of what was sent; for a receive-only participant, its own measurement."""
    audio, video = sample.audio, sample.video
    for stats in (
        audio.send if audio is not None else None,
        video.send if video is not None else None,
        audio.recv if audio is not None else None,
        video.recv if video is not None else None,
    ):
        if stats is not None:
            rtt = _clean(stats.rtt_ms)
            if rtt is not None:
                return rtt
    return None


def _score_audio(sample: Sample) -> tuple[Direction | None, AudioScore | None, bool]:
    picked = _pick(sample.audio)
    if picked is None:
        return None, None, False
    direction, d = picked
    if audio_muted(d):  # recv: no stream carried speech; send: the microphone sent silence
        return direction, None, True
    return direction, audio_score(
        rtt_ms=_rtt_ms(sample),
        jitter_ms=_clean(d.jitter_ms),
        loss_pct=_clean(d.loss_pct, 100.0),
        codec=sample.codec_audio,
        concealed_ratio=_clean(d.concealed_ratio, 1.0) if direction == "recv" else None,
    ), False


def _score_video(sample: Sample) -> tuple[Direction | None, VideoScore | None]:
    picked = _pick(sample.video)
    if picked is None:
        return None, None
    direction, d = picked
    bitrate_bps = _clean(d.bitrate_bps)
    frame_rate = _clean(d.frame_rate)
    if bitrate_bps is None or frame_rate is None:
        return direction, None  # G.1070 needs both
    recv = direction == "recv"
    return direction, video_score(
        bitrate_bps=bitrate_bps,
        frame_rate=frame_rate,
        loss_pct=_clean(d.loss_pct, 100.0),
        codec=sample.codec_video,
        width=d.width,
        height=d.height,
        freeze_duration_ms=_clean(d.freeze_duration_ms) if recv else None,
        interval_ms=float(sample.interval_ms) if recv else None,
    )


# Not frozen, as ingest's RtpStream: one is built for every scored interval, and a frozen
# dataclass's __init__ costs three to four times as much. Nothing changes it once built.
@dataclass(slots=True)
class SampleScore:
    """The audio and video scores of one sample (None: that kind had no usable data)."""

    audio: AudioScore | None
    video: VideoScore | None
    audio_direction: Direction | None = None
    video_direction: Direction | None = None
    audio_muted: bool = False  # received audio carried no speech: not scored, not bad

    def inputs(self) -> dict[str, InputValue]:
        """Every input and intermediate, flat and JSON-ready; the same keys every time."""
        a, v = self.audio, self.video
        # A kind without a score has every input None (audio_muted: 1 when received audio
        # was muted or silent, a number so that a bucket averages it).
        if a is None:
            audio = _MUTED_AUDIO_INPUTS if self.audio_muted else _NO_AUDIO_INPUTS
        else:
            audio = {
                "audio_direction": self.audio_direction,
                "audio_muted": 1.0 if self.audio_muted else 0.0,
                "audio_codec": a.codec,
                "audio_band": a.band,
                "audio_band_upper_hz": a.band_upper_hz,
                "audio_rtt_ms": a.rtt_ms,
                "audio_jitter_ms": a.jitter_ms,
                "audio_loss_pct": a.loss_pct,
                "audio_concealed_ratio": a.concealed_ratio,
                "audio_burst_ratio": a.burst_ratio,
                "audio_ppl": a.ppl,
                "audio_jitter_buffer_ms": a.jitter_buffer_ms,
                "audio_codec_delay_ms": a.codec_delay_ms,
                "audio_ta_ms": a.ta_ms,
                "audio_idte": a.idte,
                "audio_idle": a.idle,
                "audio_idd": a.idd,
                "audio_id": a.id,
                "audio_ie": a.ie,
                "audio_bpl": a.bpl,
                "audio_ie_eff": a.ie_eff,
                "audio_r": a.r,
                "audio_r_zero_delay": a.r_zero_delay,
                "audio_r_fullband": a.r_fullband,
                "audio_mos": a.mos,
            }
        if v is None:
            return {**audio, **_NO_VIDEO_INPUTS}
        return {
            **audio,
            "video_direction": self.video_direction,
            "video_codec": v.codec,
            "video_coefficient_set": v.coefficient_set,
            "video_bitrate_kbps": v.bitrate_kbps,
            "video_frame_rate": v.frame_rate,
            "video_loss_pct": v.loss_pct,
            "video_width": v.width,
            "video_height": v.height,
            "video_reference_bitrate_kbps": v.reference_bitrate_kbps,
            "video_vga_equivalent_kbps": v.vga_equivalent_kbps,
            "video_detail_factor": v.detail_factor,
            "video_freeze_duration_ms": v.freeze_duration_ms,
            "video_frozen_fraction": v.frozen_fraction,
            "video_ofr": v.ofr,
            "video_i_coding": v.i_coding,
            "video_dpplv": v.dpplv,
            "video_vq_g1070": v.vq_g1070,
            "video_vq": v.vq,
        }


# The inputs of a kind that was not scored (SampleScore.inputs), in their order.
_AUDIO_INPUT_KEYS = (
    "audio_direction",
    "audio_muted",
    "audio_codec",
    "audio_band",
    "audio_band_upper_hz",
    "audio_rtt_ms",
    "audio_jitter_ms",
    "audio_loss_pct",
    "audio_concealed_ratio",
    "audio_burst_ratio",
    "audio_ppl",
    "audio_jitter_buffer_ms",
    "audio_codec_delay_ms",
    "audio_ta_ms",
    "audio_idte",
    "audio_idle",
    "audio_idd",
    "audio_id",
    "audio_ie",
    "audio_bpl",
    "audio_ie_eff",
    "audio_r",
    "audio_r_zero_delay",
    "audio_r_fullband",
    "audio_mos",
)
_VIDEO_INPUT_KEYS = (
    "video_direction",
    "video_codec",
    "video_coefficient_set",
    "video_bitrate_kbps",
    "video_frame_rate",
    "video_loss_pct",
    "video_width",
    "video_height",
    "video_reference_bitrate_kbps",
    "video_vga_equivalent_kbps",
    "video_detail_factor",
    "video_freeze_duration_ms",
    "video_frozen_fraction",
    "video_ofr",
    "video_i_coding",
    "video_dpplv",
    "video_vq_g1070",
    "video_vq",
)
_NO_AUDIO_INPUTS: dict[str, InputValue] = dict.fromkeys(_AUDIO_INPUT_KEYS)
_MUTED_AUDIO_INPUTS: dict[str, InputValue] = {**_NO_AUDIO_INPUTS, "audio_muted": 1.0}
_NO_VIDEO_INPUTS: dict[str, InputValue] = dict.fromkeys(_VIDEO_INPUT_KEYS)


def score_sample(sample: Sample) -> SampleScore:
    """Score what this participant experienced in one interval."""
    audio_direction, audio, muted = _score_audio(sample)
    video_direction, video = _score_video(sample)
    return SampleScore(
        audio=audio,
        video=video,
        audio_direction=audio_direction if audio else None,
        video_direction=video_direction if video else None,
        audio_muted=muted,
    )

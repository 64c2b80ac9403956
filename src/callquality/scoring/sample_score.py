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
    if value is None or not math.isfinite(value) or value < 0.0 or value > upper:
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
    for direction in ("send", "recv"):
        for media in (sample.audio, sample.video):
            stats = getattr(media, direction) if media is not None else None
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


@dataclass(frozen=True, slots=True)
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
        return {
            "audio_direction": self.audio_direction if a else None,
            # 1 when received audio was muted or silent (a number, so a bucket averages it)
            "audio_muted": 1.0 if self.audio_muted else (0.0 if a else None),
            "audio_codec": a.codec if a else None,
            "audio_band": a.band if a else None,
            "audio_band_upper_hz": a.band_upper_hz if a else None,
            "audio_rtt_ms": a.rtt_ms if a else None,
            "audio_jitter_ms": a.jitter_ms if a else None,
            "audio_loss_pct": a.loss_pct if a else None,
            "audio_concealed_ratio": a.concealed_ratio if a else None,
            "audio_burst_ratio": a.burst_ratio if a else None,
            "audio_ppl": a.ppl if a else None,
            "audio_jitter_buffer_ms": a.jitter_buffer_ms if a else None,
            "audio_codec_delay_ms": a.codec_delay_ms if a else None,
            "audio_ta_ms": a.ta_ms if a else None,
            "audio_idte": a.idte if a else None,
            "audio_idle": a.idle if a else None,
            "audio_idd": a.idd if a else None,
            "audio_id": a.id if a else None,
            "audio_ie": a.ie if a else None,
            "audio_bpl": a.bpl if a else None,
            "audio_ie_eff": a.ie_eff if a else None,
            "audio_r": a.r if a else None,
            "audio_r_zero_delay": a.r_zero_delay if a else None,
            "audio_r_fullband": a.r_fullband if a else None,
            "audio_mos": a.mos if a else None,
            "video_direction": self.video_direction if v else None,
            "video_codec": v.codec if v else None,
            "video_coefficient_set": v.coefficient_set if v else None,
            "video_bitrate_kbps": v.bitrate_kbps if v else None,
            "video_frame_rate": v.frame_rate if v else None,
            "video_loss_pct": v.loss_pct if v else None,
            "video_width": v.width if v else None,
            "video_height": v.height if v else None,
            "video_reference_bitrate_kbps": v.reference_bitrate_kbps if v else None,
            "video_vga_equivalent_kbps": v.vga_equivalent_kbps if v else None,
            "video_detail_factor": v.detail_factor if v else None,
            "video_freeze_duration_ms": v.freeze_duration_ms if v else None,
            "video_frozen_fraction": v.frozen_fraction if v else None,
            "video_ofr": v.ofr if v else None,
            "video_i_coding": v.i_coding if v else None,
            "video_dpplv": v.dpplv if v else None,
            "video_vq_g1070": v.vq_g1070 if v else None,
            "video_vq": v.vq if v else None,
        }


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

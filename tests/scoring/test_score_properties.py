"""Laws the scores obey (STYLE.md: "scores never rise as loss, delay or jitter rise").

Audio (G.107, G.107.1, G.107.2): MOS never rises when loss, RTT, jitter, concealment or
burstiness rise, on every band.
Video (G.1070 §11.3 at the stream's resolution), with the model's own exception stated
(docs/models.md, "Monotonicity"):
- never rises when loss rises — always;
- never rises when bitrate falls, at any resolution, for loss ≤ 2.5 %: G.1070's loss
  robustness DPplV grows as the bitrate falls, and from about 2.8 % loss near 200 kbit/s
  (VGA-equivalent) that outweighs the coding loss;
- never rises when the frame rate falls without loss, at any bitrate and resolution;
- never rises when the frozen share of the interval rises.
Both stay on their scales: audio 1..4.5, video 1..5.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from callquality.scoring import audio_score, video_score

CODECS = st.sampled_from([None, "opus", "PCMU", "G722", "iLBC"])
RTT = st.floats(0.0, 5000.0)
JITTER = st.floats(0.0, 1000.0)
LOSS = st.floats(0.0, 100.0)
RATIO = st.floats(0.0, 1.0)
BURST = st.floats(0.1, 20.0)
BITRATE_BPS = st.floats(1_000.0, 50_000_000.0)
FRAME_RATE = st.floats(1.0, 60.0)
EPS = 1e-9


def _ordered(a: float, b: float) -> tuple[float, float]:
    return (a, b) if a <= b else (b, a)


@given(RTT, JITTER, LOSS, RATIO, BURST, CODECS)
def test_audio_mos_stays_between_1_and_4_5(
    rtt: float, jitter: float, loss: float, concealed: float, burst: float, codec: str | None
) -> None:
    """G.107 Annex B: MOS_CQE is 1..4.5 whatever goes in."""
    s = audio_score(rtt_ms=rtt, jitter_ms=jitter, loss_pct=loss, codec=codec,
                    concealed_ratio=concealed, burst_ratio=burst)
    assert 1.0 <= s.mos <= 4.5


@given(LOSS, LOSS, RTT, JITTER, CODECS)
def test_audio_mos_never_rises_when_loss_rises(
    a: float, b: float, rtt: float, jitter: float, codec: str | None
) -> None:
    """G.107 eq. 7-29: Ie,eff grows with Ppl."""
    lo, hi = _ordered(a, b)
    better = audio_score(rtt_ms=rtt, jitter_ms=jitter, loss_pct=lo, codec=codec)
    worse = audio_score(rtt_ms=rtt, jitter_ms=jitter, loss_pct=hi, codec=codec)
    assert worse.mos <= better.mos + EPS


@given(RTT, RTT, JITTER, LOSS, CODECS)
def test_audio_mos_never_rises_when_rtt_rises(
    a: float, b: float, jitter: float, loss: float, codec: str | None
) -> None:
    """G.107 eq. 7-27: Idd grows with Ta, and Ta grows with RTT."""
    lo, hi = _ordered(a, b)
    better = audio_score(rtt_ms=lo, jitter_ms=jitter, loss_pct=loss, codec=codec)
    worse = audio_score(rtt_ms=hi, jitter_ms=jitter, loss_pct=loss, codec=codec)
    assert worse.mos <= better.mos + EPS


@given(JITTER, JITTER, RTT, LOSS, CODECS)
def test_audio_mos_never_rises_when_jitter_rises(
    a: float, b: float, rtt: float, loss: float, codec: str | None
) -> None:
    """docs/models.md: the jitter buffer (2 × jitter, ≥ 20 ms) adds to Ta."""
    lo, hi = _ordered(a, b)
    better = audio_score(rtt_ms=rtt, jitter_ms=lo, loss_pct=loss, codec=codec)
    worse = audio_score(rtt_ms=rtt, jitter_ms=hi, loss_pct=loss, codec=codec)
    assert worse.mos <= better.mos + EPS


@given(RATIO, RATIO, LOSS, CODECS)
def test_audio_mos_never_rises_when_concealment_rises(
    a: float, b: float, loss: float, codec: str | None
) -> None:
    """docs/models.md: Ppl = the audible concealed share when the receiver reports it."""
    lo, hi = _ordered(a, b)
    better = audio_score(rtt_ms=50.0, jitter_ms=5.0, loss_pct=loss, concealed_ratio=lo,
                         codec=codec)
    worse = audio_score(rtt_ms=50.0, jitter_ms=5.0, loss_pct=loss, concealed_ratio=hi,
                        codec=codec)
    assert worse.mos <= better.mos + EPS


@given(BURST, BURST, LOSS, CODECS)
def test_audio_mos_never_rises_when_loss_gets_burstier(
    a: float, b: float, loss: float, codec: str | None
) -> None:
    """G.107 eq. 7-29: a larger BurstR makes the same Ppl impair more."""
    lo, hi = _ordered(a, b)
    better = audio_score(rtt_ms=50.0, jitter_ms=5.0, loss_pct=loss, burst_ratio=lo, codec=codec)
    worse = audio_score(rtt_ms=50.0, jitter_ms=5.0, loss_pct=loss, burst_ratio=hi, codec=codec)
    assert worse.mos <= better.mos + EPS


SIZES = st.sampled_from([None, (320, 180), (480, 270), (640, 360), (640, 480), (960, 540),
                         (1280, 720), (1920, 1080), (3840, 2160)])
VIDEO_CODECS = st.sampled_from([None, "VP8", "VP9", "H264", "AV1", "H265"])


def _video(bitrate: float, frame_rate: float, loss: float, size: tuple[int, int] | None,
           codec: str | None, frozen_ms: float | None = None) -> float:
    width, height = size if size else (None, None)
    return video_score(bitrate_bps=bitrate, frame_rate=frame_rate, loss_pct=loss, codec=codec,
                       width=width, height=height, freeze_duration_ms=frozen_ms,
                       interval_ms=5000.0).vq


@given(BITRATE_BPS, st.floats(0.0, 240.0), LOSS, st.floats(0.0, 20_000.0), SIZES, VIDEO_CODECS)
def test_video_vq_stays_between_1_and_5(
    bitrate: float, frame_rate: float, loss: float, frozen_ms: float,
    size: tuple[int, int] | None, codec: str | None,
) -> None:
    """Vq is on the 1..5 scale, detail credit and freeze penalty included."""
    assert 1.0 <= _video(bitrate, frame_rate, loss, size, codec, frozen_ms) <= 5.0


@given(LOSS, LOSS, BITRATE_BPS, FRAME_RATE, SIZES)
def test_video_vq_never_rises_when_loss_rises(
    a: float, b: float, bitrate: float, frame_rate: float, size: tuple[int, int] | None
) -> None:
    """G.1070 §11.3: exp(−Ppl/DPplV) falls with Ppl (DPplV > 0 for the set used)."""
    lo, hi = _ordered(a, b)
    assert _video(bitrate, frame_rate, hi, size, None) <= _video(
        bitrate, frame_rate, lo, size, None) + EPS


@given(BITRATE_BPS, BITRATE_BPS, FRAME_RATE, st.floats(0.0, 2.5), SIZES, VIDEO_CODECS)
def test_video_vq_never_rises_when_bitrate_falls_at_up_to_2_5_pct_loss(
    a: float, b: float, frame_rate: float, loss: float, size: tuple[int, int] | None,
    codec: str | None,
) -> None:
    """G.1070 §11.3 at the VGA-equivalent bitrate: monotone in Br for Ppl ≤ 2.5 %."""
    lo, hi = _ordered(a, b)
    assert _video(lo, frame_rate, loss, size, codec) <= _video(
        hi, frame_rate, loss, size, codec) + EPS


@given(st.floats(0.0, 240.0), st.floats(0.0, 240.0), BITRATE_BPS, SIZES, VIDEO_CODECS)
def test_video_vq_never_rises_when_frame_rate_falls(
    a: float, b: float, bitrate: float, size: tuple[int, int] | None, codec: str | None
) -> None:
    """docs/models.md rule 3: the Gaussian in ln Fr below Ofr, held at its peak above."""
    lo, hi = _ordered(a, b)
    assert _video(bitrate, lo, 0.0, size, codec) <= _video(bitrate, hi, 0.0, size, codec) + EPS


@given(st.floats(0.0, 10_000.0), st.floats(0.0, 10_000.0), BITRATE_BPS, FRAME_RATE, LOSS, SIZES)
def test_video_vq_never_rises_when_more_of_the_interval_is_frozen(
    a: float, b: float, bitrate: float, frame_rate: float, loss: float,
    size: tuple[int, int] | None,
) -> None:
    """docs/models.md freeze penalty: Vq − 1 scales with the share of time not frozen."""
    lo, hi = _ordered(a, b)
    assert _video(bitrate, frame_rate, loss, size, None, hi) <= _video(
        bitrate, frame_rate, loss, size, None, lo) + EPS

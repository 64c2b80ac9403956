"""The largest numbers the service takes: what a real browser or media server can produce,
with a wide margin, and small enough that no sum the store keeps can overflow.

One table, read by the ingest edge (``api/ingest_models.py``: a 400 naming the field), by
the raw-report reader (``ingest/rtcstats.py``) and by ingest for the figures it derives from
raw reports (``bounded_sample``: a derived figure beyond its bound is unknown, ``None``).
docs/api.md, "Bounds", lists them.

Why these sums cannot overflow a signed 64-bit integer: a per-interval count is below
``COUNT_MAX`` (2^32), a (participant, peer connection) has at most one sample per
millisecond, so a rollup minute holds at most 60,000 samples of one stream, whose sum is
below 2^48; reaching 2^63 in one bucket would take over 30,000 streams each sending one
sample every millisecond of that minute (2 x 10^9 stored rows in one minute of one session).
"""

from __future__ import annotations

from dataclasses import replace

from callquality.domain.sample import DirectionStats, MediaStats, Sample

# JavaScript numbers are exact up to 2^53 (ECMA-262 §6.1.6.1, Number.MAX_SAFE_INTEGER + 1):
# a browser's cumulative counter cannot be reported exactly beyond it.
COUNTER_MAX = 2**53
# Per interval (at most an hour): 2^32 packets is over 1.1 million packets per second.
COUNT_MAX = 2**32
# 100 Gbit/s: beyond any network interface a browser sends through.
BITRATE_MAX_BPS = 1e11
# One hour, in milliseconds: RTT, jitter, freeze duration, the interval itself.
DURATION_MAX_MS = 3_600_000.0
DURATION_MAX_S = DURATION_MAX_MS / 1000.0
# 16,384 pixels: VP8's frame header holds 14 bits per dimension (RFC 6386 §9.1, at most
# 16,383), and no camera or screen a browser captures comes near it (8K UHD is 7,680 wide).
PIXELS_MAX = 16_384
# Frames per second: screen capture and high-refresh cameras stay far below 1,000.
FRAME_RATE_MAX = 1_000.0

# Codec names and qualityLimitationReason: the store's columns hold 32 characters, and the
# real ones are short ("opus", "VP8", "bandwidth"; a mimeType subtype, RFC 6838 §4.2).
NAME_MAX_LENGTH = 32

# DirectionStats field -> its largest value (inclusive); every field is >= 0.
SAMPLE_MAXIMA: dict[str, float] = {
    "packets": COUNT_MAX - 1,
    "packets_lost": COUNT_MAX - 1,
    "bitrate_bps": BITRATE_MAX_BPS,
    "rtt_ms": DURATION_MAX_MS,
    "jitter_ms": DURATION_MAX_MS,
    "width": PIXELS_MAX,
    "height": PIXELS_MAX,
    "frame_rate": FRAME_RATE_MAX,
    "freeze_count": COUNT_MAX - 1,
    "freeze_duration_ms": DURATION_MAX_MS,
    "concealed_ratio": 1.0,
    "silent_concealed_ratio": 1.0,
    "muted_ratio": 1.0,
    "available_outgoing_bitrate_bps": BITRATE_MAX_BPS,
}
_CHECKED = tuple(SAMPLE_MAXIMA.items())
_COUNT, _PIXELS = COUNT_MAX - 1, PIXELS_MAX


def _within(d: DirectionStats) -> bool:
    # Unrolled (the ingest path runs it for every derived sample): SAMPLE_MAXIMA, field by
    # field; tests/api/test_attacks.py and the fuzz tests cover each bound.
    return (
        (d.packets is None or 0 <= d.packets <= _COUNT)
        and (d.packets_lost is None or 0 <= d.packets_lost <= _COUNT)
        and (d.bitrate_bps is None or 0 <= d.bitrate_bps <= BITRATE_MAX_BPS)
        and (d.rtt_ms is None or 0 <= d.rtt_ms <= DURATION_MAX_MS)
        and (d.jitter_ms is None or 0 <= d.jitter_ms <= DURATION_MAX_MS)
        and (d.width is None or 0 <= d.width <= _PIXELS)
        and (d.height is None or 0 <= d.height <= _PIXELS)
        and (d.frame_rate is None or 0 <= d.frame_rate <= FRAME_RATE_MAX)
        and (d.freeze_count is None or 0 <= d.freeze_count <= _COUNT)
        and (d.freeze_duration_ms is None or 0 <= d.freeze_duration_ms <= DURATION_MAX_MS)
        and (d.concealed_ratio is None or 0 <= d.concealed_ratio <= 1.0)
        and (d.silent_concealed_ratio is None or 0 <= d.silent_concealed_ratio <= 1.0)
        and (d.muted_ratio is None or 0 <= d.muted_ratio <= 1.0)
        and (
            d.available_outgoing_bitrate_bps is None
            or 0 <= d.available_outgoing_bitrate_bps <= BITRATE_MAX_BPS
        )
        and (d.quality_limitation_reason is None
             or len(d.quality_limitation_reason) <= NAME_MAX_LENGTH)
    )


def _bounded_direction(d: DirectionStats | None) -> DirectionStats | None:
    if d is None or _within(d):
        return d
    unknown: dict[str, None] = {
        name: None
        for name, limit in _CHECKED
        if (value := getattr(d, name)) is not None and not 0 <= value <= limit
    }
    if not _name_ok(d.quality_limitation_reason):
        unknown["quality_limitation_reason"] = None
    return replace(d, **unknown)


def _name_ok(name: str | None) -> bool:
    return name is None or len(name) <= NAME_MAX_LENGTH


def _bounded_media(m: MediaStats | None) -> MediaStats | None:
    if m is None:
        return None
    send, recv = _bounded_direction(m.send), _bounded_direction(m.recv)
    return m if send is m.send and recv is m.recv else MediaStats(send, recv)


def bounded_sample(sample: Sample) -> Sample:
    """The sample with every figure beyond its bound, and every name longer than
    NAME_MAX_LENGTH, made unknown (the same object if none is).

    For samples derived from raw reports: counters within ``COUNTER_MAX`` can still differ
    by more than an interval can carry (a counter that jumps), and a rate over a tiny
    elapsed time can be absurd. Such a figure is not a measurement; it is stored as unknown.
    """
    # The usual case, all within bounds, in one pass without building anything.
    for media in (sample.audio, sample.video):
        if media is not None and not (
            (media.send is None or _within(media.send))
            and (media.recv is None or _within(media.recv))
        ):
            break
    else:
        if _name_ok(sample.codec_audio) and _name_ok(sample.codec_video):
            return sample
    return replace(
        sample,
        audio=_bounded_media(sample.audio),
        video=_bounded_media(sample.video),
        codec_audio=sample.codec_audio if _name_ok(sample.codec_audio) else None,
        codec_video=sample.codec_video if _name_ok(sample.codec_video) else None,
    )

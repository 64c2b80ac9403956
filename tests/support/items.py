"""Builders of ingest items as a client would send them."""

from __future__ import annotations

from typing import Any

T0 = 1_795_000_000_000  # a fixed epoch ms in 2026


def sample_item(
    room_id: str,
    participant_id: str,
    timestamp_ms: int,
    *,
    interval_ms: int = 5000,
    audio_recv_lost: int = 0,
    audio_send_lost: int = 0,
    video_recv_lost: int = 0,
    rtt_ms: float = 40.0,
    jitter_ms: float = 5.0,
    audio_bitrate: float = 32000.0,
    video_bitrate: float = 800000.0,
    name: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """An item with a `sample`: audio and video, both directions."""
    item: dict[str, Any] = {
        "roomId": room_id,
        "participantId": participant_id,
        "timestamp": timestamp_ms,
        "sample": {
            "intervalMs": interval_ms,
            "audio": {
                "send": {"packets": 250, "packetsLost": audio_send_lost,
                         "bitrateBps": audio_bitrate, "rttMs": rtt_ms, "jitterMs": jitter_ms},
                "recv": {"packets": 250 - audio_recv_lost, "packetsLost": audio_recv_lost,
                         "bitrateBps": audio_bitrate, "jitterMs": jitter_ms},
            },
            "video": {
                "send": {"packets": 700, "packetsLost": 0, "bitrateBps": video_bitrate,
                         "rttMs": rtt_ms, "width": 640, "height": 480, "frameRate": 30},
                "recv": {"packets": 700 - video_recv_lost, "packetsLost": video_recv_lost,
                         "bitrateBps": video_bitrate, "jitterMs": jitter_ms, "width": 640,
                         "height": 480, "frameRate": 30, "freezeCount": 0},
            },
            "codec": {"audio": "opus", "video": "VP8"},
        },
    }
    if name is not None:
        item["participantName"] = name
    item.update(extra)
    return item

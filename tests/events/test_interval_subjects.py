"""The derived intervals' subjects and messages (service/intervals.py): any session id makes
a subject of four plain tokens that names it back, tenants differ, and a message carries
what the live view sends."""

from __future__ import annotations

import base64
import re

from hypothesis import given
from hypothesis import strategies as st

from callquality.service import intervals
from callquality.service.live import interval_json

_TOKEN = re.compile(r"[A-Za-z0-9_-]+")  # no '.', '*', '>' or whitespace: NATS's rules


@given(st.text(min_size=1, max_size=64), st.text(min_size=1, max_size=64))
def test_any_session_id_makes_a_subject_of_plain_tokens_that_names_it_back(
    api_key: str, session_id: str,
) -> None:
    tokens = intervals.subject(api_key, session_id).split(".")
    assert tokens[:2] == ["cq", "intervals"] and len(tokens) == 4
    assert all(_TOKEN.fullmatch(t) for t in tokens)
    padded = tokens[3] + "=" * (-len(tokens[3]) % 4)
    assert base64.urlsafe_b64decode(padded).decode() == session_id
    assert tokens[2] == intervals.tenant_token(api_key) != intervals.tenant_token(api_key + "x")


def _row(session_id: str, timestamp_ms: int, interval_ms: int | None) -> dict[str, object]:
    return {
        "session_id": session_id, "participant_id": "alice", "peer_connection_id": "pc",
        "timestamp_ms": timestamp_ms, "received_ms": timestamp_ms + 7,
        "interval_ms": interval_ms, "audio_mos": 4.123, "video_vq": None,
        "audio_recv_packets_lost": 3, "video_recv_packets_lost": None,
        "audio_send_rtt_ms": 40.0, "video_send_rtt_ms": None, "audio_recv_jitter_ms": 5.0,
        "video_recv_jitter_ms": None, "video_send_bitrate_bps": None,
        "video_recv_bitrate_bps": None,
    }


def test_messages_group_by_session_skip_baselines_and_decode_to_the_streams_json() -> None:
    rows = [_row("s.1", 1_000 * n, 5000) for n in range(1, intervals.PER_MESSAGE + 2)]
    rows += [_row("s.1", 0, None), _row("s>2", 5_000, 5000)]  # a baseline announces nothing
    sent = intervals.messages("key", rows)
    assert [s for s, _ in sent] == [intervals.subject("key", "s.1")] * 2 + [
        intervals.subject("key", "s>2")]
    announced = [a for _, payload in sent for a in intervals.decode(payload)]
    assert len(announced) == intervals.PER_MESSAGE + 2
    first = announced[0]
    assert (first.participant_id, first.peer_connection_id, first.timestamp_ms,
            first.received_ms) == ("alice", "pc", 1000, 1007)
    assert first.interval == interval_json(rows[0])
    assert first.interval["qualityScore"] == {"audio": 4.12, "video": None}

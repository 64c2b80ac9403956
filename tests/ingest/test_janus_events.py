"""Janus events → samples (ingest/janus.py), on events a real Janus posted.

``data/janus-events.json`` (written by ``tests/support/capture_janus.py``): every request the
machine's Janus 1.1.2 sample event handler posted during a VideoRoom call (Alice publishes,
Bob subscribes; 5 % loss and +50 ms each way) and an EchoTest call (5 % loss, +25 ms), with
Janus's own Admin API counters of each handle read at the end, while the media was frozen.
"""

from __future__ import annotations

import copy
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import orjson
import pytest

from callquality.ingest.janus import (
    Applied,
    JanusEventError,
    JanusSample,
    apply_events,
    parse_events,
)

CAPTURE = json.loads((Path(__file__).parent / "data" / "janus-events.json").read_text())
POSTS: list[Any] = [p["body"] for p in CAPTURE["posts"]]
CALLS = {c["name"]: c for c in CAPTURE["calls"]}
VIDEOROOM, ECHOTEST = CALLS["videoroom"], CALLS["echotest"]


def replay(posts: list[Any], *, through_json: bool = True) -> tuple[list[JanusSample], dict]:
    """Apply the requests one by one, the states stored between them as the service does."""
    states: dict[int, dict[str, Any]] = {}
    samples: list[JanusSample] = []
    for body in posts:
        applied = apply_events(states, parse_events(body))
        samples += applied.samples
        for session_id, state in applied.states.items():
            if state is None:
                states.pop(session_id, None)
            else:
                states[session_id] = orjson.loads(orjson.dumps(state)) if through_json else state
    return samples, states


SAMPLES, FINAL_STATES = replay(POSTS)


def _stream(handle: str, call: dict[str, Any], mid: str) -> str:
    return f"janus-{call['handles'][handle]}-{mid}"


def _of(stream: str) -> list[JanusSample]:
    return [s for s in SAMPLES if s.peer_connection_id == stream]


def _direction(s: JanusSample, kind: str, direction: str) -> Any:
    media = getattr(s.sample, kind)
    return getattr(media, direction) if media is not None else None


def _total(stream: str, kind: str, direction: str, field: str) -> int:
    return sum(getattr(_direction(s, kind, direction), field) or 0 for s in _of(stream))


def test_videoroom_handles_are_the_rooms_publisher_and_subscriber_by_display_name() -> None:
    people = {
        (s.room_id, s.participant_id, s.participant_name)
        for s in SAMPLES
        if s.peer_connection_id.startswith(
            tuple(f"janus-{h}-" for h in VIDEOROOM["handles"].values())
        )
    }
    feeds = VIDEOROOM["feeds"]
    assert people == {("4321", str(feeds["alice"]), "Alice"), ("4321", str(feeds["bob"]), "Bob")}
    alice_streams = {s.peer_connection_id for s in SAMPLES if s.participant_name == "Alice"}
    assert alice_streams == {_stream("alice-pub", VIDEOROOM, m) for m in ("0", "1")}


def test_the_publishers_send_counts_add_up_to_what_janus_counted() -> None:
    for mid, kind in (("0", "audio"), ("1", "video")):
        admin = VIDEOROOM["admin"]["alice-pub"][mid]
        stream = _stream("alice-pub", VIDEOROOM, mid)
        assert _total(stream, kind, "send", "packets") == admin["stats"]["in"]["packets"]
        assert _total(stream, kind, "send", "packets_lost") == admin["rtcp"]["lost"]
        assert all(_direction(s, kind, "recv") is None for s in _of(stream))


def test_the_subscribers_receive_counts_add_up_to_what_janus_counted() -> None:
    for mid, kind in (("0", "audio"), ("1", "video")):
        admin = VIDEOROOM["admin"]["bob-sub"][mid]
        stream = _stream("bob-sub", VIDEOROOM, mid)
        assert _total(stream, kind, "recv", "packets") == admin["stats"]["out"]["packets"]
        lost = _total(stream, kind, "recv", "packets_lost")
        if kind == "audio":
            assert lost == admin["rtcp"]["lost-by-remote"]
        else:  # NACK: retransmitted duplicates may have lowered the final count
            assert lost >= admin["rtcp"]["lost-by-remote"]


def _media_events() -> list[dict[str, Any]]:
    return [
        e for body in POSTS for e in body
        if e["type"] == 32 and isinstance(e["event"], dict) and "packets-received" in e["event"]
    ]


def test_each_interval_is_the_difference_of_consecutive_statistics_of_its_stream() -> None:
    """Sample n of a stream: Janus's counters of event n minus event n-1 (from webrtcup at
    zero for the first), over the time between them."""
    up = {e["handle_id"]: e["timestamp"] for body in POSTS for e in body
          if e["type"] == 16 and e["event"].get("connection") == "webrtcup"}
    previous: dict[str, dict[str, Any]] = {}
    checked = 0
    by_key = {(s.peer_connection_id, s.timestamp_ms): s for s in SAMPLES}
    for e in _media_events():
        ev = e["event"]
        stream = f"janus-{e['handle_id']}-{ev['mid']}"
        before = previous.get(stream, {
            "timestamp": up[e["handle_id"]],
            **{k: 0 for k in ("packets-received", "packets-sent", "lost", "bytes-received")},
        })
        previous[stream] = {"timestamp": e["timestamp"], **ev}
        sample = by_key.get((stream, e["timestamp"] // 1000))
        if ev["packets-received"] == 0 and ev["rtt"] == 0 and ev["packets-sent"] == 0:
            assert sample is None
            continue
        assert sample is not None, (stream, e["timestamp"])
        assert sample.sample.interval_ms == round((e["timestamp"] - before["timestamp"]) / 1000)
        kind = ev["media"]
        if ev["packets-received"]:
            send = _direction(sample, kind, "send")
            assert send.packets == ev["packets-received"] - before["packets-received"]
            assert send.packets_lost == ev["lost"] - before["lost"]
            seconds = (e["timestamp"] - before["timestamp"]) / 1e6
            bits = 8 * (ev["bytes-received"] - before["bytes-received"])
            assert send.bitrate_bps == pytest.approx(bits / seconds)
            assert send.jitter_ms == ev["jitter-local"]
            checked += 1
    assert checked >= 10


def test_rtt_is_the_subscribers_and_the_publisher_has_none() -> None:
    """Janus measures RTT from receiver reports on what it sends: Bob's handle has it (the
    path adds 2 x 50 ms), Alice's publisher handle none."""
    for mid, kind in (("0", "audio"), ("1", "video")):
        alice = _of(_stream("alice-pub", VIDEOROOM, mid))
        assert all(_direction(s, kind, "send").rtt_ms is None for s in alice)
        bob = [
            _direction(s, kind, "send").rtt_ms for s in _of(_stream("bob-sub", VIDEOROOM, mid))
            if _direction(s, kind, "send") is not None
        ]
        assert bob and all(100 <= r <= 130 for r in bob), bob


def test_an_echotest_handle_is_a_room_of_its_own_per_janus_session() -> None:
    session = ECHOTEST["sessions"]["echo"]
    echo = [s for s in SAMPLES if s.room_id == f"janus-echotest-{session}"]
    assert echo
    assert {(s.participant_id, s.participant_name) for s in echo} == {
        (f"janus-{session}", "echotest-echo")
    }
    for mid, kind in (("0", "audio"), ("1", "video")):
        admin = ECHOTEST["admin"]["echo"][mid]
        stream = _stream("echo", ECHOTEST, mid)
        assert _total(stream, kind, "send", "packets_lost") == admin["rtcp"]["lost"]
        assert _total(stream, kind, "recv", "packets") == admin["stats"]["out"]["packets"]
        rtts = [_direction(s, kind, "recv").rtt_ms for s in _of(stream)]
        assert any(r is not None and 50 <= r <= 80 for r in rtts), rtts  # 2 x 25 ms added


def test_codecs_are_named_as_the_browser_path_names_them() -> None:
    assert {s.sample.codec_audio for s in SAMPLES if s.sample.audio} == {"opus"}
    assert {s.sample.codec_video for s in SAMPLES if s.sample.video} == {"VP8"}


def test_the_zeroed_statistics_janus_sends_at_detach_are_no_sample() -> None:
    """After hang-up Janus sends statistics of a freed peer connection, every counter 0: a
    reset, not negative deltas."""
    zeroed = [e for e in _media_events() if e["event"]["packets-sent"] == 0
              and e["event"]["packets-received"] == 0]
    assert zeroed
    keys = {(s.peer_connection_id, s.timestamp_ms) for s in SAMPLES}
    for e in zeroed:
        assert (f"janus-{e['handle_id']}-{e['event']['mid']}", e["timestamp"] // 1000) not in keys
    for s in SAMPLES:
        for kind in ("audio", "video"):
            for direction in ("send", "recv"):
                d = _direction(s, kind, direction)
                if d is not None:
                    assert (d.packets or 0) >= 0 and (d.packets_lost or 0) >= 0
                    assert d.rtt_ms is None or d.rtt_ms > 0


def test_remote_figures_of_a_reset_rtcp_context_are_unknown_not_zero() -> None:
    """Janus 1.1.2 has also sent its hang-up statistics with the participant's receiver-report
    figures zeroed while its own counters went on (lost-by-remote back to 0): no negative
    loss, and that event's remote jitter is unknown, not 0."""
    posts = copy.deepcopy(POSTS)
    sub = VIDEOROOM["handles"]["bob-sub"]
    last = [e for body in posts for e in body
            if e["type"] == 32 and e.get("handle_id") == sub and e["event"]["packets-sent"]
            and e["event"]["mid"] == "0"][-1]
    last["event"].update({"lost-by-remote": 0, "jitter-remote": 0, "rtt": 0})
    samples, _ = replay(posts)
    final = [s for s in samples if s.peer_connection_id == _stream("bob-sub", VIDEOROOM, "0")][-1]
    recv = _direction(final, "audio", "recv")
    assert recv.packets_lost == 0 and recv.rtt_ms is None and recv.jitter_ms is None


def test_the_same_request_twice_yields_its_samples_once() -> None:
    states: dict[int, dict[str, Any]] = {}
    for body in POSTS:
        events = parse_events(body)
        first = apply_events(states, events)
        _store(states, first)
        again = apply_events(states, events)
        assert again.samples == [], body
        _store(states, again)


def _store(states: dict[int, dict[str, Any]], applied: Applied) -> None:
    for k, v in applied.states.items():
        if v is None:
            states.pop(k, None)
        else:
            states[k] = v


def test_one_request_or_many_give_the_same_samples() -> None:
    everything = [e for body in POSTS for e in body]
    assert replay([everything])[0] == SAMPLES
    assert replay(POSTS, through_json=False)[0] == SAMPLES


def test_destroyed_janus_sessions_leave_no_state() -> None:
    assert FINAL_STATES == {}


def test_without_webrtc_events_a_streams_first_statistics_are_a_baseline() -> None:
    """The events mask without ``webrtc``: no webrtcup, so nothing says when the counters
    started; each stream's first statistics only set its baseline."""
    posts = [[e for e in body if e["type"] != 16] for body in POSTS]
    samples, _ = replay(posts)
    streams = {s.peer_connection_id for s in SAMPLES}
    for stream in streams:
        ours = [s for s in samples if s.peer_connection_id == stream]
        assert [s.timestamp_ms for s in ours] == [s.timestamp_ms for s in _of(stream)][1:]


def test_a_negative_cumulative_loss_counts_nothing_and_later_rises_count_above_the_peak() -> None:
    """lost-by-remote is RFC 3550's signed 24-bit count, sent unsigned by Janus: 16777215
    is -1 (duplicates outnumber losses), not 16 million lost packets."""
    posts = copy.deepcopy(POSTS)
    sub = VIDEOROOM["handles"]["bob-sub"]
    events = [e for body in posts for e in body
              if e["type"] == 32 and e.get("handle_id") == sub and "packets-sent" in e["event"]
              and e["event"]["mid"] == "0"]
    events[1]["event"]["lost-by-remote"] = 0xFFFFFF
    samples, _ = replay(posts)
    stream = _stream("bob-sub", VIDEOROOM, "0")
    lost = [_direction(s, "audio", "recv").packets_lost for s in samples
            if s.peer_connection_id == stream]
    assert lost[1] == 0
    assert sum(lost) == max(e["event"]["lost-by-remote"] for e in events if
                            e["event"]["lost-by-remote"] < 0x800000)


def test_a_restarted_peer_connection_is_a_new_baseline_not_a_negative_delta() -> None:
    posts = copy.deepcopy(POSTS)
    pub = VIDEOROOM["handles"]["alice-pub"]
    events = [e for body in posts for e in body
              if e["type"] == 32 and e.get("handle_id") == pub and "packets-received" in e["event"]
              and e["event"]["mid"] == "0"]
    for e in events[3:]:
        for counter in ("packets-received", "bytes-received", "lost"):
            e["event"][counter] -= events[2]["event"][counter] + 1
            e["event"][counter] = max(0, e["event"][counter])
    samples, _ = replay(posts)
    sends = [_direction(s, "audio", "send") for s in samples
             if s.peer_connection_id == _stream("alice-pub", VIDEOROOM, "0")]
    assert len(sends) == len(events) - 1  # the restart's first event is a baseline
    assert all(d.packets >= 0 and d.packets_lost >= 0 for d in sends)


def test_combined_media_statistics_give_the_same_counts() -> None:
    """``combine_media_stats = true``: one event per handle, its media in a list."""
    combined: list[list[dict[str, Any]]] = []
    for body in POSTS:
        out: list[dict[str, Any]] = []
        for e in body:
            is_stats = e["type"] == 32 and "packets-received" in e["event"]
            if is_stats and out and out[-1].get("handle_id") == e["handle_id"] and isinstance(
                out[-1]["event"], list
            ):
                out[-1]["event"].append(e["event"])
                continue
            out.append({**e, "event": [e["event"]]} if is_stats else e)
        combined.append(out)
    samples, _ = replay(combined)
    totals: dict[tuple[str, str], int] = defaultdict(int)
    for s in samples:
        for kind in ("audio", "video"):
            d = _direction(s, kind, "send")
            totals[(s.peer_connection_id, kind)] += (d.packets or 0) if d else 0
    for mid, kind in (("0", "audio"), ("1", "video")):
        stream = _stream("alice-pub", VIDEOROOM, mid)
        assert totals[(stream, kind)] == VIDEOROOM["admin"]["alice-pub"][mid]["stats"]["in"][
            "packets"
        ]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda e: e.pop("type"), "events[{i}].type: required"),
        (lambda e: e.update(timestamp=e["timestamp"] // 1000), "events[{i}].timestamp"),
        (lambda e: e["event"].update(lost="3"), "events[{i}].event.lost: must be"),
        (lambda e: e["event"].update({"packets-sent": -1}), "events[{i}].event.packets-sent"),
        (lambda e: e["event"].update(mid=1), "events[{i}].event.mid: must be a string"),
        (lambda e: e.pop("handle_id"), "events[{i}]: media statistics need"),
        (lambda e: e.update(opaque_id=7), "events[{i}].opaque_id"),
    ],
)
def test_an_event_that_is_not_janus_s_is_refused_naming_its_field(
    change: Any, message: str
) -> None:
    def stats(e: dict[str, Any]) -> bool:
        return e["type"] == 32 and "lost" in e["event"]

    body = copy.deepcopy(next(b for b in POSTS if any(stats(e) for e in b)))
    i = next(n for n, e in enumerate(body) if stats(e))
    change(body[i])
    with pytest.raises(JanusEventError, match=message.format(i=i).replace("[", r"\[")):
        parse_events(body)


def test_a_body_that_is_not_events_is_refused() -> None:
    with pytest.raises(JanusEventError, match=r"events\[1\]: must be a JSON object"):
        parse_events([POSTS[0][0], "hello"])


def test_one_event_alone_is_read_as_grouping_false_sends_it() -> None:
    first = POSTS[0][0]
    assert parse_events(first) == parse_events([first])

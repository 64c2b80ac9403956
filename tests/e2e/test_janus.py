"""Server-side statistics from a real media server: the machine's Janus posts to callquality.

Janus (Debian's ``janus`` 1.x, tests/support/janus.py) runs with its configuration written
into a temporary folder, its APIs on loopback ports of its own, and its HTTP event handler
posting to a real callquality server (both databases) with the credentials docs/collector.md
gives: user = API key, password = a token with the ``janus`` role. Two VideoRoom calls of
aiortc peers (tests/support/janus_calls.py), one after the other: Alice publishes audio and
video, Bob subscribes to her; every media packet between a peer and Janus crosses an
impairing path. Room 4322: the reference call, no loss and 10 ms added each way (12 s; Janus
reports RTT in whole milliseconds and 0 until measured, so a loopback call's RTT reads as
unknown). Room 4321: 5 % of RTP/RTCP dropped and 50 ms added each way (20 s). Janus's
statistics period is 2 s.

The truth is Janus's own count, read through its Admin API (``handle_info``) while the media
was frozen at the end, not through the events callquality received:
- loss: the whole call's ``send*PacketLost`` of Alice (her publisher handle) is Janus's
  ``lost`` of each medium, ``recvAudioPacketLost`` of Bob (his subscriber handle) is
  ``lost-by-remote``, exactly, and so are the percentages (of Janus's packet counts); the
  5 s buckets add up to them. Bob's video: at least Janus's final ``lost-by-remote`` (a
  signed count, RFC 3550 §6.4.1, lowered by retransmitted duplicates; callquality counts
  its rises). Within the relay's range: reference 0; impaired, Alice's audio 2.5–8 %
  (one impaired hop, no retransmission for audio), Bob's audio 5.5–14.5 % (two hops: what
  Janus never got from Alice is lost to Bob too, 1 − 0.95² ≈ 9.75 %), video ≤ 12 % (NACK);
- RTT: Bob's median RTT (extended ``rttMs.audio.p50``: Janus measures it on the media it
  sends him) rises by 2 × (50 − 10) ms ± 30 ms from the reference call to the impaired one;
- scores: the impaired call's session audio MOS is at least 0.2 below the reference's.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from support.calls import close, get_stats, loss_pct
from support.janus import run_janus
from support.janus_calls import RecordedJanusCall, run_calls, videoroom_call
from support.server import RunningServer, Tenant

from callquality.store.schema import janus_states

pytestmark = pytest.mark.slow

LOSS, DELAY_S, REFERENCE_DELAY_S = 0.05, 0.050, 0.010
STATS_PERIOD_S = 2
ROOMS = {"reference": 4322, "impaired": 4321}
WHOLE_CALL_S = 120  # one bucket holds a whole call
BUCKET_S = 5
LABEL = {"audio": "Audio", "video": "Video"}


@dataclass
class Measured:
    """One call as Janus counted it and as callquality's API answers for its room."""

    call: RecordedJanusCall
    session: dict[str, Any]
    whole: dict[str | None, dict[str, Any]]  # participant id (None: session) -> one bucket
    series: dict[str | None, list[dict[str, Any]]]  # participant id -> 5 s buckets

    def pid(self, peer: str) -> str:
        return str(self.call.feeds[peer])


def _until(check: Callable[[], bool], what: str, timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.25)


def _session(client: httpx.Client, room: int) -> dict[str, Any] | None:
    answer = client.get("/v2/sessions/", params={"roomId": str(room)})
    assert answer.status_code == 200, answer.text
    data = answer.json()["data"]
    assert len(data) <= 1, data
    return data[0] if data else None


def _delivered(server: RunningServer, tenant: Tenant) -> bool:
    """Whether callquality has Janus's last events: it forgets a Janus session's state on
    its ``destroyed`` event, which Janus sends after the session's last statistics."""
    with server.engine.connect() as conn:  # type: ignore[attr-defined]
        left = conn.execute(
            sa.select(sa.func.count()).select_from(janus_states).where(
                janus_states.c.api_key == tenant.api_key
            )
        ).scalar()
    return left == 0


def _measure(client: httpx.Client, call: RecordedJanusCall) -> Measured:
    session = _session(client, call.room or 0)
    assert session is not None
    whole: dict[str | None, dict[str, Any]] = {}
    series: dict[str | None, list[dict[str, Any]]] = {}
    for who in (None, *(str(f) for f in call.feeds.values())):
        (whole[who],) = get_stats(
            client, session["id"], participant=who, interval_s=WHOLE_CALL_S
        )["stats"]
        series[who] = get_stats(client, session["id"], participant=who, interval_s=BUCKET_S)[
            "stats"
        ]
    return Measured(call, session, whole, series)


@pytest.fixture(scope="module")
def measured(
    server: RunningServer, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Measured]:
    tenant: Tenant = server.new_tenant()
    folder: Path = tmp_path_factory.mktemp("janus")
    with run_janus(
        folder,
        backend=f"{server.url}/v2/ingest/janus",
        backend_user=tenant.api_key,
        backend_pwd=tenant.token(roles=("janus",), ttl_s=3600),
        stats_period_s=STATS_PERIOD_S,
    ) as janus:
        reference, impaired = run_calls(janus, [
            lambda j, h: videoroom_call(
                j, h, "reference", ROOMS["reference"], delay_s=REFERENCE_DELAY_S, secs=12
            ),
            lambda j, h: videoroom_call(
                j, h, "impaired", ROOMS["impaired"], loss=LOSS, delay_s=DELAY_S, secs=20,
                seed=11,
            ),
        ])
        with server.client(tenant) as client:
            out = {}
            _until(lambda: _delivered(server, tenant), "Janus's last events")
            for name, call in (("reference", reference), ("impaired", impaired)):
                out[name] = _measure(client, call)
        log = janus.log
    assert "Couldn't relay event" not in log, log[-3000:]  # every post was answered
    for name, m in out.items():
        print(name, "relay:", m.call.relay, "API:", {
            who: {"loss%": w["packetLossPercent"], "rttP50": w["rttMs"]["audio"]["p50"],
                  "score": w["qualityScore"]}
            for who, w in m.whole.items()
        })
    return out


def test_the_room_holds_the_publisher_and_the_subscriber_by_their_display_names(
    measured: dict[str, Measured],
) -> None:
    for m in measured.values():
        names = {p["participantId"]: p["name"] for p in m.session["participants"]}
        assert names == {m.pid("alice"): "Alice", m.pid("bob"): "Bob"}, names
        assert m.session["roomId"] == str(m.call.room)


@pytest.mark.parametrize("name", ["reference", "impaired"])
def test_loss_and_packets_are_what_janus_counted(measured: dict[str, Measured], name: str) -> None:
    """Whole call: Alice's send loss is Janus's ``lost``, Bob's receive loss its
    ``lost-by-remote``; the percentages are lost / (packets + lost) of Janus's packets; the 5 s
    buckets add up to the same counts."""
    m = measured[name]
    for kind in ("audio", "video"):
        pub = m.call.media("alice-pub", kind)
        sub = m.call.media("bob-sub", kind)
        checks = (
            ("alice", "send", pub["rtcp"]["lost"], pub["stats"]["in"]["packets"]),
            ("bob", "recv", signed24(sub["rtcp"]["lost-by-remote"]),
             sub["stats"]["out"]["packets"]),
        )
        for peer, direction, lost, packets in checks:
            field = f"{direction}{LABEL[kind]}PacketLost"
            whole = m.whole[m.pid(peer)]
            where = (name, peer, kind)
            got = whole[field]
            buckets = sum(b[field] or 0 for b in m.series[m.pid(peer)])
            assert buckets == got and m.whole[None][field] == got, (where, buckets, got)
            if peer == "bob" and kind == "video":  # NACK: duplicates lower the count
                assert got >= max(0, lost), (where, got, lost)
                continue
            assert got == lost, (where, got, lost)
            pct = whole["packetLossPercent"][f"{direction}{LABEL[kind]}"]
            assert close(pct, loss_pct(lost, packets), 0.0011), (where, pct, lost, packets)


def signed24(value: int) -> int:
    """A receiver report's cumulative loss as RFC 3550 §6.4.1 means it (signed 24 bits)."""
    return value - 0x1000000 if value & 0x800000 else value


def test_injected_loss_shows_within_the_relays_range(measured: dict[str, Measured]) -> None:
    for name, m in measured.items():
        alice = m.whole[m.pid("alice")]["packetLossPercent"]
        bob = m.whole[m.pid("bob")]["packetLossPercent"]
        if name == "reference":
            assert alice["sendAudio"] == 0 and alice["sendVideo"] == 0, alice
            assert bob["recvAudio"] == 0 and bob["recvVideo"] == 0, bob
            continue
        assert 2.5 <= alice["sendAudio"] <= 8.0, alice
        assert 0.0 <= alice["sendVideo"] <= 12.0, alice
        assert 5.5 <= bob["recvAudio"] <= 14.5, bob
        assert 0.0 <= bob["recvVideo"] <= 12.0, bob


def test_subscriber_rtt_rises_by_twice_the_added_delay(measured: dict[str, Measured]) -> None:
    p50 = {
        name: m.whole[m.pid("bob")]["rttMs"]["audio"]["p50"] for name, m in measured.items()
    }
    assert p50["reference"] is not None and p50["impaired"] is not None, p50
    added = p50["impaired"] - p50["reference"]
    assert abs(added - 2000 * (DELAY_S - REFERENCE_DELAY_S)) <= 30, p50
    # Janus's RTT is the subscriber's: it measures none on a handle it sends nothing to.
    for m in measured.values():
        assert m.whole[m.pid("alice")]["averageAudioRtt"] is None
        assert m.whole[None]["averageAudioRtt"] == m.whole[m.pid("bob")]["averageAudioRtt"]


def test_quality_drops_with_loss_and_delay(measured: dict[str, Measured]) -> None:
    reference = measured["reference"].whole[None]["qualityScore"]["audio"]
    impaired = measured["impaired"].whole[None]["qualityScore"]["audio"]
    assert reference is not None and impaired is not None, (reference, impaired)
    assert reference - impaired >= 0.2, (reference, impaired)

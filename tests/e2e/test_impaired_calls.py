"""Real WebRTC calls with injected loss and delay, ingested by a real callquality server.

Two calls per kind of peer, recorded once per test run: ``clean`` (nothing injected) and
``impaired`` (5 % of RTP/RTCP packets dropped in each direction, 50 ms added one way), each
about 20 s with a report every 2 s. Peers: two aiortc peer connections in this process, each
sending audio and video, through the harness's own relay; and headless Chromium with fake
devices (peer connection ``a`` sends, ``b`` receives) through the shared ``relay.py``
(tests/support/calls.py). Every report is POSTed to the server as it would be live, and the
session's stats are read back on SQLite and on PostgreSQL.

The truth is what the peers counted, not the relay's settings. Tolerances (also in
docs/metrics.md, "Validation against real impaired calls"):

- receive loss: in every 5 s bucket, session and per participant, ``recv*PacketLost`` equals
  the receivers' inbound-rtp ``packetsLost`` deltas exactly (a dip of the signed counter, a
  duplicate, is not loss: only rises above its high-water mark count), and
  ``packetLossPercent.recv*`` equals lost / (received + lost) of the same counters to the
  API's 3 decimals;
- the injected loss shows, whole call: 5 % injected → audio (never retransmitted) 2.5–8 %
  received lost (about 900 packets per direction: 3.4 σ below, 4.1 σ above); video at most
  12 % (NACK retransmissions repair part of it in Chromium, nearly all in aiortc; a loaded
  machine adds late datagrams); the clean
  call loses nothing;
- send loss: per sender and bucket, ``send*PacketLost`` equals its remote-inbound-rtp
  ``packetsLost`` deltas exactly; whole call, audio send loss is 0 (clean), 1–8 %
  (impaired) and within 3.5 points of the receive loss the other end counted (RTCP receiver
  reports trail the receiver's counters by up to 5 s, and 5 % of them are dropped too);
- RTT: per sender and bucket, ``average*Rtt`` is the mean of the senders' interval RTTs
  (remote-inbound-rtp: Δ totalRoundTripTime / Δ roundTripTimeMeasurements, else the latest
  roundTripTime; before the first RTCP receiver report, the selected candidate pair's
  currentRoundTripTime) to 0.5 ms; the impaired call's median RTT (``rttMs.*.p50``) minus the clean
  call's is 2 × 50 ms ± 30 ms;
- bitrates, whole call: within 5 % of the peers' byte counters;
- scores: the impaired call's audio MOS is at least 0.2 below the clean call's.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from conftest import SHARED
from support.calls import (
    KINDS,
    Measured,
    RecordedCall,
    assert_rtt_rises_by,
    close,
    loss_pct,
    measure_call,
    participants_with,
    record_aiortc_calls,
    record_chromium_calls,
)
from support.server import RunningServer

pytestmark = pytest.mark.slow

LOSS = 0.05
DELAY_S = 0.050
SECS = 20
BUCKET_S = 5
WHOLE_CALL_S = 60  # one bucket holds the whole 20 s call
SPECS: dict[str, dict[str, Any]] = {
    "clean": {"secs": SECS},
    "impaired": {"loss": LOSS, "delay_s": DELAY_S, "secs": SECS, "seed": 3},
}
# ~900 audio packets per direction at 5 %: σ ≈ 0.73 points; 2.5 is 3.4 σ below, 8 is 4.1 σ above.
AUDIO_LOSS_RANGE = (2.5, 8.0)
MAX_LOSS_PCT = 8.0
# Video loss may exceed the injected 5 %: with the browser, the relay and the server on two
# loaded cores, late or dropped datagrams add to it (9.4 % seen once under a load average of
# 4.7). The exact checks against the browser's own counters are unaffected.
MAX_VIDEO_LOSS_PCT = 12.0
LABEL = {"audio": "Audio", "video": "Video"}


@dataclass
class Recorder:
    """Records each peer's calls once per module, and posts them once per server."""

    out_dir: Path
    recorded: dict[str, dict[str, RecordedCall]] = field(default_factory=dict)
    measured: dict[tuple[str, str], dict[str, Measured]] = field(default_factory=dict)

    def calls(self, peer: str) -> dict[str, RecordedCall]:
        if peer not in self.recorded:
            if peer == "aiortc":
                self.recorded[peer] = record_aiortc_calls(SPECS)
            else:
                self.recorded[peer] = record_chromium_calls(SHARED, self.out_dir, SPECS)
            for call in self.recorded[peer].values():
                print(peer, call.summary())
        return self.recorded[peer]

    def measure(self, server: RunningServer, peer: str) -> dict[str, Measured]:
        key = (server.url, peer)
        if key not in self.measured:
            tenant = server.new_tenant()
            out = {}
            with server.client(tenant) as client:
                for name, call in self.calls(peer).items():
                    room = f"impaired-{peer}-{name}-{uuid.uuid4().hex[:6]}"
                    out[name] = measure_call(
                        client, call, room, bucket_s=BUCKET_S, whole_call_s=WHOLE_CALL_S,
                        label=f"{peer} {name}",
                    )
            self.measured[key] = out
        return self.measured[key]


@pytest.fixture(scope="module")
def recorder(tmp_path_factory: pytest.TempPathFactory) -> Recorder:
    return Recorder(tmp_path_factory.mktemp("calls"))


@pytest.fixture(params=["aiortc", pytest.param("chromium", marks=pytest.mark.browser)])
def measured(
    request: pytest.FixtureRequest, server: RunningServer, recorder: Recorder
) -> dict[str, Measured]:
    return recorder.measure(server, request.param)


def _receivers(call: RecordedCall, kind: str) -> list[str]:
    return participants_with(call, "inbound-rtp", kind)


def _senders(call: RecordedCall, kind: str) -> list[str]:
    return participants_with(call, "outbound-rtp", kind)


def _bucketed(values: list[tuple[int, float]], t0_ms: int) -> dict[int, list[float]]:
    out: dict[int, list[float]] = {}
    for t_ms, v in values:
        out.setdefault((t_ms - t0_ms) // (BUCKET_S * 1000), []).append(v)
    return out


@pytest.mark.parametrize("name", ["clean", "impaired"])
def test_recv_loss_is_what_the_receivers_counted(
    measured: dict[str, Measured], name: str
) -> None:
    """Each 5 s bucket, session and per participant: lost packets exactly, % to rounding."""
    m = measured[name]
    call = m.call
    for kind in KINDS:
        receivers = _receivers(call, kind)
        assert receivers, f"nobody received {kind}"
        for who in (None, *receivers):
            ps = receivers if who is None else [who]
            lost = [call.by_bucket(p, "inbound-rtp", kind, "packetsLost", BUCKET_S) for p in ps]
            got = [call.by_bucket(p, "inbound-rtp", kind, "packetsReceived", BUCKET_S) for p in ps]
            for b, entry in enumerate(m.series[who]):
                want_lost = sum(d.get(b, 0) for d in lost)
                want_received = sum(d.get(b, 0) for d in got)
                where = f"{name} {kind} {who or 'session'} bucket {b}"
                if not any(b in d for d in lost):
                    continue
                assert entry[f"recv{LABEL[kind]}PacketLost"] == want_lost, where
                pct = entry["packetLossPercent"][f"recv{LABEL[kind]}"]
                assert close(pct, loss_pct(want_lost, want_received), 0.0011), (where, pct)


def test_injected_loss_shows_in_the_receive_loss(measured: dict[str, Measured]) -> None:
    """Whole call: clean loses nothing; 5 % injected → audio 2.5–8 %, video ≤ 12 % received
    lost."""
    for name, m in measured.items():
        pct = m.whole[None]["packetLossPercent"]
        for kind in KINDS:
            want = sum(m.call.total(p, "inbound-rtp", kind, "packetsLost")
                       for p in _receivers(m.call, kind))
            received = sum(m.call.total(p, "inbound-rtp", kind, "packetsReceived")
                           for p in _receivers(m.call, kind))
            assert m.whole[None][f"recv{LABEL[kind]}PacketLost"] == want
            assert close(pct[f"recv{LABEL[kind]}"], loss_pct(want, received), 0.0011)
        if name == "clean":
            assert pct["recvAudio"] == 0 and pct["recvVideo"] == 0, pct
        else:
            assert AUDIO_LOSS_RANGE[0] <= pct["recvAudio"] <= AUDIO_LOSS_RANGE[1], pct
            assert 0.0 <= pct["recvVideo"] <= MAX_VIDEO_LOSS_PCT, pct
            for p in _receivers(m.call, "audio"):
                got = m.whole[p]["packetLossPercent"]["recvAudio"]
                assert AUDIO_LOSS_RANGE[0] <= got <= AUDIO_LOSS_RANGE[1], (p, got)


@pytest.mark.parametrize("name", ["clean", "impaired"])
def test_send_loss_is_what_the_remote_end_reported(
    measured: dict[str, Measured], name: str
) -> None:
    """Per sender and 5 s bucket: remote-inbound-rtp packetsLost deltas, exactly. Whole call:
    audio send loss % within 3.5 points of the receive loss the other end counted, 0 for the
    clean call and 1–8 % for the impaired one (RTCP receiver reports trail the receiver's own
    counters by up to 5 s, and 5 % of them are dropped too)."""
    m = measured[name]
    call = m.call
    for kind in KINDS:
        for p in _senders(call, kind):
            lost = call.by_bucket(p, "remote-inbound-rtp", kind, "packetsLost", BUCKET_S)
            for b, entry in enumerate(m.series[p]):
                if b in lost:
                    assert entry[f"send{LABEL[kind]}PacketLost"] == lost[b], (name, kind, p, b)
            assert m.whole[p][f"send{LABEL[kind]}PacketLost"] == sum(lost.values())
    send = m.whole[None]["packetLossPercent"]["sendAudio"]
    recv = m.whole[None]["packetLossPercent"]["recvAudio"]
    assert send is not None and abs(send - recv) <= 3.5, (send, recv)
    if name == "clean":
        assert send == 0, send
    else:
        assert 1.0 <= send <= MAX_LOSS_PCT, send


@pytest.mark.parametrize("name", ["clean", "impaired"])
def test_rtt_is_what_the_senders_measured(measured: dict[str, Measured], name: str) -> None:
    """Per sender and 5 s bucket, and for the session: average*Rtt is the mean of the
    senders' interval RTTs in the bucket (remote-inbound-rtp, else the candidate pair's ICE
    round trip), to 0.5 ms."""
    m = measured[name]
    call = m.call
    for kind in KINDS:
        senders = _senders(call, kind)
        per_sender = {
            p: _bucketed(call.interval_send_rtts_ms(p, kind), call.t0_ms) for p in senders
        }
        for who in (None, *senders):
            for b, entry in enumerate(m.series[who]):
                means = [
                    sum(v[b]) / len(v[b])
                    for p, v in per_sender.items()
                    if (who is None or p == who) and v.get(b)
                ]
                want = sum(means) / len(means) if means else None
                got = entry[f"average{LABEL[kind]}Rtt"]
                assert close(got, want, 0.5), (name, kind, who, b, got, want)


def test_rtt_rises_by_twice_the_added_delay(measured: dict[str, Measured]) -> None:
    """Whole call: the median RTT (extended ``rttMs.*.p50``, robust to a start-up spike) of
    the impaired call minus the clean call's is 2 × 50 ms ± 30 ms."""
    assert_rtt_rises_by(measured, DELAY_S, tol_ms=30)


def test_bitrates_are_what_the_peers_counted(measured: dict[str, Measured]) -> None:
    """Whole call: average{Send,Recv}*Bitrate within 5 % of the peers' own byte counters
    (aiortc receivers count no bytes: the sender's RTCP sender reports stand in)."""
    for name, m in measured.items():
        for kind in KINDS:
            for direction, who in (("send", _senders), ("recv", _receivers)):
                own = [m.call.bitrate_bps(p, direction, kind) for p in who(m.call, kind)]
                assert own and None not in own, (name, kind, direction, own)
                want = sum(v for v in own if v is not None) / len(own)
                got = m.whole[None][f"average{direction.title()}{LABEL[kind]}Bitrate"]
                assert got is not None and abs(got - want) <= 0.05 * want, (
                    name, kind, direction, got, want,
                )


def test_quality_drops_with_loss_and_delay(measured: dict[str, Measured]) -> None:
    """The impaired call's audio MOS is at least 0.2 below the clean call's."""
    clean = measured["clean"].whole[None]["qualityScore"]
    impaired = measured["impaired"].whole[None]["qualityScore"]
    assert clean["audio"] is not None and impaired["audio"] is not None, (clean, impaired)
    assert clean["audio"] - impaired["audio"] >= 0.2, (clean, impaired)

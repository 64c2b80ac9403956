"""Real WebRTC calls through an impairing UDP path, recorded for callquality to ingest.

Two kinds of peers make a call, each recorded as a :class:`RecordedCall`: every ``poll_s``
seconds the raw ``getStats()`` report of each peer, as W3C dictionaries.

- :func:`record_aiortc_calls`: two aiortc ``RTCPeerConnection`` objects in this process,
  each sending audio and video (``aiortc.mediastreams`` tracks) to the other. Their only ICE
  candidates are on 127.0.0.1 and are rewritten in the SDP so that every packet crosses an
  :class:`ImpairedPath`, an asyncio UDP relay that drops RTP/RTCP packets with probability
  ``loss`` and delays every packet by ``delay_s`` (one way). ICE and DTLS are never dropped.
- :func:`record_chromium_calls`: headless Chromium with fake devices, one page, two peer
  connections, through the shared relay ``$SHARED/tools/impair/relay.py`` (run as a
  subprocess, as is). Peer connection ``a`` sends audio and video, ``b`` receives.
- :func:`record_firefox_calls`: the same page in headless Firefox (firefox-esr), which refuses
  loopback candidates: it runs in a network namespace (``netns-host.sh``; root), the relay on
  10.77.0.1 outside it, the browser's candidates on 10.77.0.2 inside.

The truth a test compares callquality's API with is what the peers themselves counted
(:meth:`RecordedCall.deltas` and friends read their cumulative counters), not the relay's
settings: retransmissions (NACK), Opus FEC, RTCP loss and congestion control all stand between
what the network did and what the call saw. The relay's own counts are kept in
``RecordedCall.relay`` for the report.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import re
import socket
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import httpx

from callquality.ingest.aiortc_compat import aiortc_report_to_dicts

KINDS = ("audio", "video")
RELAY_PAGE_PORT = 8766  # fixed in relay.py


# --------------------------------------------------------------------------------------------
# The recorded call and the peers' own truth


@dataclass
class Snapshot:
    """One poll: epoch ms, and each participant's raw report (W3C dictionaries)."""

    t_ms: int
    reports: dict[str, list[dict[str, Any]]]


@dataclass
class RecordedCall:
    """A finished call: what the peers reported, and what the relay did."""

    name: str
    peer: str  # "aiortc" | "chromium" | "firefox"
    loss: float  # injected drop probability of RTP/RTCP packets, each direction
    delay_s: float  # injected one-way delay
    snapshots: list[Snapshot]
    peer_connection_ids: dict[str, str]  # participant -> peerConnectionId
    relay: dict[str, Any] = field(default_factory=dict)
    wall_s: float = 0.0  # how long recording took
    loss_ended_ms: int | None = None  # when the path stopped dropping, if it did mid-call

    @property
    def participants(self) -> list[str]:
        return sorted(self.peer_connection_ids)

    @property
    def t0_ms(self) -> int:
        """The first report's timestamp: where the server's session (and its buckets) start."""
        return self.snapshots[0].t_ms

    def items(self, room_id: str, snapshot: Snapshot) -> list[dict[str, Any]]:
        """The ``POST /v2/stats`` items of one snapshot, one per participant."""
        return [
            {
                "roomId": room_id,
                "participantId": participant,
                "participantName": f"{self.peer} {participant}",
                "peerConnectionId": self.peer_connection_ids[participant],
                "timestamp": snapshot.t_ms,
                "report": report,
            }
            for participant, report in sorted(snapshot.reports.items())
        ]

    # -- the peers' own counters ------------------------------------------------------------

    @staticmethod
    def stream(report: list[dict[str, Any]], stats_type: str, kind: str) -> dict[str, Any] | None:
        """The one stream of that type and kind in a report (these calls have one per kind)."""
        found = [s for s in report if s.get("type") == stats_type and s.get("kind") == kind]
        assert len(found) <= 1, f"{len(found)} {stats_type} {kind} streams: {found}"
        return found[0] if found else None

    def deltas(
        self, participant: str, stats_type: str, kind: str, counter: str
    ) -> list[tuple[int, float]]:
        """(timestamp of the later report, counter delta) for each pair of consecutive reports
        in which the stream exists with the same SSRC and the counter, as the peer counted it.

        ``packetsLost`` is signed (RFC 3550 §6.4.1): a duplicate, such as the retransmission of
        a packet that was late rather than lost, lowers it. Its delta is the rise of its
        high-water mark, so that a dip and recovery is not loss counted twice."""
        out = []
        high: float | None = None
        for before, after in zip(self.snapshots, self.snapshots[1:], strict=False):
            s0 = self.stream(before.reports[participant], stats_type, kind)
            s1 = self.stream(after.reports[participant], stats_type, kind)
            if s0 is None or s1 is None or s0.get("ssrc") != s1.get("ssrc"):
                high = None
                continue
            if counter not in s0 or counter not in s1:
                continue
            v0, v1 = float(s0[counter]), float(s1[counter])
            if counter == "packetsLost":
                high = v0 if high is None else max(high, v0)
                out.append((after.t_ms, max(0.0, v1 - high)))
                high = max(high, v1)
            else:
                out.append((after.t_ms, v1 - v0))
        return out

    def total(self, participant: str, stats_type: str, kind: str, counter: str) -> float:
        """The counter's rise over the whole call."""
        return sum(d for _, d in self.deltas(participant, stats_type, kind, counter))

    def by_bucket(
        self, participant: str, stats_type: str, kind: str, counter: str, interval_s: int
    ) -> dict[int, float]:
        """Counter deltas summed per stats bucket (buckets start at the first report)."""
        buckets: dict[int, float] = defaultdict(float)
        for t_ms, d in self.deltas(participant, stats_type, kind, counter):
            buckets[(t_ms - self.t0_ms) // (interval_s * 1000)] += d
        return dict(buckets)

    def reported_send_loss_pct(self, participant: str, kind: str) -> float | None:
        """Loss on the way out over the part of the call the receiver reports covered: the
        rise of remote-inbound-rtp ``packetsLost`` / (the packets sent from the first
        snapshot with one until the last that brought a new report (a new round trip
        measured, or packetsLost moved) + that loss), in %. Packets sent after the last
        report are left out: no report told their loss."""
        sent, untold = 0.0, 0.0
        for before, after in zip(self.snapshots, self.snapshots[1:], strict=False):
            r0 = self.stream(before.reports[participant], "remote-inbound-rtp", kind)
            r1 = self.stream(after.reports[participant], "remote-inbound-rtp", kind)
            o0 = self.stream(before.reports[participant], "outbound-rtp", kind)
            o1 = self.stream(after.reports[participant], "outbound-rtp", kind)
            if r0 is None or r1 is None or o0 is None or o1 is None:
                continue
            untold += max(0.0, float(o1.get("packetsSent", 0)) - float(o0.get("packetsSent", 0)))
            if r1.get("roundTripTimeMeasurements", 0) > r0.get(
                "roundTripTimeMeasurements", 0
            ) or r1.get("packetsLost") != r0.get("packetsLost"):
                sent, untold = sent + untold, 0.0
        lost = self.total(participant, "remote-inbound-rtp", kind, "packetsLost")
        return 100.0 * lost / (sent + lost) if sent + lost > 0 else None

    def recv_loss_pct(self, participant: str, kind: str) -> float | None:
        """Loss on the way in over the call: inbound-rtp lost / (received + lost), in %."""
        lost = self.total(participant, "inbound-rtp", kind, "packetsLost")
        received = self.total(participant, "inbound-rtp", kind, "packetsReceived")
        return 100.0 * lost / (lost + received) if lost + received > 0 else None

    def interval_rtts_ms(self, participant: str, kind: str) -> list[tuple[int, float]]:
        """(timestamp, RTT in ms) of what the participant sent, per interval between reports,
        from its remote-inbound-rtp: the mean of the interval's measurements where the peer
        keeps totals (``totalRoundTripTime`` / ``roundTripTimeMeasurements``, browsers), else
        the latest ``roundTripTime`` it reported (aiortc keeps only a moving average; a browser
        between two RTCP receiver reports)."""
        out = []
        for before, after in zip(self.snapshots, self.snapshots[1:], strict=False):
            s0 = self.stream(before.reports[participant], "remote-inbound-rtp", kind)
            s1 = self.stream(after.reports[participant], "remote-inbound-rtp", kind)
            if s1 is None:
                continue
            if s0 is not None and s0.get("ssrc") == s1.get("ssrc"):
                count = s1.get("roundTripTimeMeasurements", 0) - s0.get(
                    "roundTripTimeMeasurements", 0
                )
                if count > 0 and "totalRoundTripTime" in s1 and "totalRoundTripTime" in s0:
                    total = s1["totalRoundTripTime"] - s0["totalRoundTripTime"]
                    out.append((after.t_ms, 1000.0 * total / count))
                    continue
            rtt = s1.get("roundTripTime")
            if rtt:  # None or 0: not measured yet
                out.append((after.t_ms, 1000.0 * rtt))
        return out

    def interval_send_rtts_ms(self, participant: str, kind: str) -> list[tuple[int, float]]:
        """The interval RTTs of what the participant sent (:meth:`interval_rtts_ms`); in an
        interval without any, while it sends, the ICE round trip of its selected candidate
        pair (``currentRoundTripTime``), which the peer measured on the same path."""
        by_time = dict(self.interval_rtts_ms(participant, kind))
        for snap in self.snapshots[1:]:
            report = snap.reports[participant]
            if snap.t_ms in by_time or self.stream(report, "outbound-rtp", kind) is None:
                continue
            pair = selected_pair(report)
            if pair is not None and pair.get("currentRoundTripTime"):
                by_time[snap.t_ms] = 1000.0 * pair["currentRoundTripTime"]
        return sorted(by_time.items())

    def rtt_ms(self, participant: str, kind: str) -> float | None:
        """Mean RTT of what the participant sent over the call: totals' ratio where the peer
        keeps totals, else the mean of its interval RTTs."""
        total = self.total(participant, "remote-inbound-rtp", kind, "totalRoundTripTime")
        count = self.total(participant, "remote-inbound-rtp", kind, "roundTripTimeMeasurements")
        if count > 0:
            return 1000.0 * total / count
        values = [v for _, v in self.interval_rtts_ms(participant, kind)]
        return sum(values) / len(values) if values else None

    def bitrate_bps(self, participant: str, direction: str, kind: str) -> float | None:
        """Bits per second over the call, by the stats' own clocks: bytesSent of outbound-rtp
        (send); bytesReceived of inbound-rtp, or where the peer has none (aiortc) the sender's
        bytesSent from its RTCP sender reports, remote-outbound-rtp (recv)."""
        choices = {
            "send": [("outbound-rtp", "bytesSent", "timestamp")],
            "recv": [
                ("inbound-rtp", "bytesReceived", "timestamp"),
                ("remote-outbound-rtp", "bytesSent", "remoteTimestamp"),
            ],
        }[direction]
        for stats_type, counter, clock in choices:
            seen = [
                s
                for snap in self.snapshots
                if (s := self.stream(snap.reports[participant], stats_type, kind))
                and counter in s
                and clock in s
            ]
            if len(seen) >= 2 and seen[0].get("ssrc") == seen[-1].get("ssrc"):
                seconds = (seen[-1][clock] - seen[0][clock]) / 1000.0
                if seconds > 0:
                    return float(8.0 * (seen[-1][counter] - seen[0][counter]) / seconds)
        return None

    def summary(self) -> dict[str, Any]:
        """The peers' own whole-call figures, for logs and the report."""
        out: dict[str, Any] = {
            "call": self.name,
            "injected": {"loss": self.loss, "one_way_delay_ms": self.delay_s * 1000},
            "snapshots": len(self.snapshots),
            "wall_s": round(self.wall_s, 1),
            "relay": self.relay,
        }
        for p in self.participants:
            for kind in KINDS:
                out[f"{p}.{kind}"] = {
                    "recv_lost": self.total(p, "inbound-rtp", kind, "packetsLost"),
                    "recv_received": self.total(p, "inbound-rtp", kind, "packetsReceived"),
                    "recv_loss_pct": _r(self.recv_loss_pct(p, kind)),
                    "send_lost_remote": self.total(p, "remote-inbound-rtp", kind, "packetsLost"),
                    "sent": self.total(p, "outbound-rtp", kind, "packetsSent"),
                    "rtt_ms": _r(self.rtt_ms(p, kind)),
                }
        return out


def selected_pair(report: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The candidate pair the transport uses (``selectedCandidatePairId``), else a nominated,
    succeeded one."""
    pairs = {s["id"]: s for s in report if s.get("type") == "candidate-pair"}
    for s in report:
        if s.get("type") == "transport" and s.get("selectedCandidatePairId") in pairs:
            return pairs[s["selectedCandidatePairId"]]
    chosen = [p for p in pairs.values() if p.get("nominated") and p.get("state") == "succeeded"]
    return chosen[0] if chosen else None


def _r(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


# --------------------------------------------------------------------------------------------
# Sending a recorded call to callquality and reading it back


def post_call(client: httpx.Client, call: RecordedCall, room_id: str) -> str:
    """POST the call's reports, one request per snapshot as a live collector would; the
    session id."""
    session_ids: set[str] = set()
    for snapshot in call.snapshots:
        answer = client.post("/v2/stats", json=call.items(room_id, snapshot))
        assert answer.status_code == 202, answer.text
        body = answer.json()
        assert body["accepted"] == len(snapshot.reports) and body["duplicates"] == 0, body
        session_ids.update(body["sessionIds"])
    assert len(session_ids) == 1, session_ids
    return session_ids.pop()


def get_stats(
    client: httpx.Client,
    session_id: str,
    *,
    participant: str | None = None,
    interval_s: int = 5,
    extended: bool = True,
) -> dict[str, Any]:
    """GET the session's (or one participant's) stats time series."""
    path = f"/v2/sessions/{session_id}/stats"
    if participant is not None:
        path = f"/v2/sessions/{session_id}/participant/{participant}/stats"
    answer = client.get(
        path, params={"interval": interval_s, "extended": str(extended).lower()}
    )
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


# --------------------------------------------------------------------------------------------
# An impairing UDP path, in process



@dataclass
class Measured:
    """One recorded call as the API saw it."""

    call: RecordedCall
    session_id: str
    series: dict[str | None, list[dict[str, Any]]]  # participant (None: session) -> buckets
    whole: dict[str | None, dict[str, Any]]  # participant (None: session) -> the one bucket


def measure_call(
    client: httpx.Client,
    call: RecordedCall,
    room_id: str,
    *,
    bucket_s: int,
    whole_call_s: int,
    label: str,
) -> Measured:
    """Post a recorded call, then read its series (``bucket_s``) and whole-call bucket back,
    for the session and each participant."""
    sid = post_call(client, call, room_id)
    series: dict[str | None, list[dict[str, Any]]] = {}
    whole: dict[str | None, dict[str, Any]] = {}
    for p in (None, *call.participants):
        body = get_stats(client, sid, participant=p, interval_s=bucket_s)
        assert body["sessionId"] == sid and body.get("participantId") == p
        series[p] = body["stats"]
        (whole[p],) = get_stats(client, sid, participant=p, interval_s=whole_call_s)["stats"]
    w = whole[None]
    print(label, "API whole call:", {
        "loss%": w["packetLossPercent"],
        "rtt": [w["averageAudioRtt"], w["averageVideoRtt"]],
        "rttP50": [w["rttMs"][k]["p50"] for k in KINDS],
        "score": w["qualityScore"],
    })
    return Measured(call, sid, series, whole)


def assert_rtt_rises_by(measured: Mapping[str, Measured], delay_s: float, tol_ms: float) -> None:
    """The whole-call median RTT (``rttMs.*.p50``, robust to a start-up spike) of the
    ``impaired`` call minus the ``clean`` call's is twice the added one-way delay ± tol."""
    p50 = {
        name: {kind: m.whole[None]["rttMs"][kind]["p50"] for kind in KINDS}
        for name, m in measured.items()
    }
    for kind in KINDS:
        assert p50["clean"][kind] is not None and p50["impaired"][kind] is not None, p50
        added = p50["impaired"][kind] - p50["clean"][kind]
        assert abs(added - 2000 * delay_s) <= tol_ms, (kind, p50)


def participants_with(call: RecordedCall, stats_type: str, kind: str) -> list[str]:
    """The participants whose reports ever had a ``stats_type`` stream of ``kind``."""
    return [
        p
        for p in call.participants
        if any(call.stream(s.reports[p], stats_type, kind) for s in call.snapshots)
    ]


def loss_pct(lost: float, packets: float) -> float | None:
    """lost / (lost + packets) in %, to the API's three decimals."""
    return round(100.0 * lost / (lost + packets), 3) if lost + packets > 0 else None


def close(got: float | None, want: float | None, tol: float) -> bool:
    """Both unknown, or within ``tol`` of each other."""
    if got is None or want is None:
        return got is want
    return abs(got - want) <= tol

class ImpairedPath:
    """A user-space lossy, slow network between peers on 127.0.0.1.

    For each real peer port it is asked to expose, it listens on a port of its own; that port
    is what the other peer is told (the candidate is rewritten). A packet arriving from a new
    source gets its own outbound socket towards the real port, so the real peer's answers come
    back to that socket and are relayed to the source from the listening port: both directions
    cross the path. ``loss`` drops RTP and RTCP packets (first byte 128..191, RFC 7983), never
    STUN or DTLS, independently with that probability per packet; ``delay_s`` delays every
    packet, one way. ``counts`` has, per direction, the media packets seen and dropped.
    """

    def __init__(self, loss: float = 0.0, delay_s: float = 0.0, seed: int | None = None):
        self.loss, self.delay_s = loss, delay_s
        self.rng = random.Random(seed)
        self.counts: dict[str, dict[str, int]] = defaultdict(lambda: {"media": 0, "dropped": 0})
        self._transports: list[asyncio.DatagramTransport] = []
        self._closed = False

    async def expose(self, name: str, real_port: int, host: str = "127.0.0.1") -> int:
        """Listen for traffic meant for ``host:real_port`` (called ``name``); the port to
        advertise instead."""
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _Listener(self, name, (host, real_port)), local_addr=(host, 0)
        )
        self.track(transport)
        return int(transport.get_extra_info("sockname")[1])

    def forward(self, direction: str, data: bytes, send: Callable[[], None]) -> None:
        if data and 128 <= data[0] <= 191:
            counts = self.counts[direction]
            counts["media"] += 1
            if self.loss and self.rng.random() < self.loss:
                counts["dropped"] += 1
                return
        if self.delay_s:
            asyncio.get_running_loop().call_later(self.delay_s, send)
        else:
            send()

    def close(self) -> None:
        self._closed = True
        for t in self._transports:
            t.close()
        self._transports.clear()

    def track(self, transport: asyncio.DatagramTransport) -> None:
        """Close ``transport`` with the path (at once if the path is already closed)."""
        if self._closed:
            transport.close()
        else:
            self._transports.append(transport)


class _Listener(asyncio.DatagramProtocol):
    def __init__(self, path: ImpairedPath, name: str, target: tuple[str, int]):
        self.path, self.name, self.target = path, name, target
        self.transport: asyncio.DatagramTransport | None = None
        self.returns: dict[tuple[str, int], _Return] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        back = self.returns.get(addr)
        if back is None:
            back = self.returns[addr] = _Return(self, addr)
            loop = asyncio.get_running_loop()
            loop.create_task(
                loop.create_datagram_endpoint(lambda: back, local_addr=(self.target[0], 0))
            )
        self.path.forward(f"to {self.name}", data, lambda: back.send(data))


class _Return(asyncio.DatagramProtocol):
    """The outbound socket of one source towards the listener's real peer."""

    def __init__(self, listener: _Listener, source: tuple[str, int]):
        self.listener, self.source = listener, source
        self.transport: asyncio.DatagramTransport | None = None
        self.pending: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)
        self.listener.path.track(self.transport)
        for data in self.pending:
            self.send(data)
        self.pending.clear()

    def send(self, data: bytes) -> None:
        if self.transport is None:
            self.pending.append(data)
        elif not self.transport.is_closing():
            self.transport.sendto(data, self.listener.target)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        listener = self.listener

        def send() -> None:
            if listener.transport is not None and not listener.transport.is_closing():
                listener.transport.sendto(data, self.source)

        listener.path.forward(f"from {listener.name}", data, send)


# --------------------------------------------------------------------------------------------
# aiortc peers


_CANDIDATE = re.compile(
    r"^a=candidate:(\S+) (\d+) (udp) (\d+) (\S+) (\d+) typ (\S+)(.*)$", re.IGNORECASE
)


async def _route_candidates(sdp: str, path: ImpairedPath, name: str) -> str:
    """The SDP with only UDP host candidates on 127.0.0.1, each moved onto the path."""
    lines = []
    exposed: dict[int, int] = {}
    for line in sdp.split("\r\n"):
        m = _CANDIDATE.match(line)
        if m is None:
            lines.append(line)
            continue
        foundation, component, proto, priority, ip, port, typ, rest = m.groups()
        if ip != "127.0.0.1" or typ != "host":
            continue
        real = int(port)
        if real not in exposed:
            exposed[real] = await path.expose(f"{name}:{real}", real)
        lines.append(
            f"a=candidate:{foundation} {component} {proto} {priority} {ip} {exposed[real]} "
            f"typ {typ}{rest}"
        )
    assert exposed, f"no 127.0.0.1 host candidate in {name}'s SDP:\n{sdp}"
    return "\r\n".join(lines)


@contextlib.contextmanager
def _loopback_only_ice() -> Iterator[None]:
    """aioice gathers host candidates on every interface but loopback: use loopback only, so
    that the call works on any machine and all of it can be routed through the relay."""
    import aioice.ice

    original = aioice.ice.get_host_addresses
    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]
    try:
        yield
    finally:
        aioice.ice.get_host_addresses = original


async def _aiortc_call(
    name: str, loss: float, delay_s: float, secs: float, poll_s: float, seed: int | None,
    loss_for_s: float | None = None, video: bool = True,
) -> RecordedCall:
    """One call; with ``loss_for_s`` the path drops packets for that long from the first
    poll, then nothing while the call goes on (an impairment that ends)."""
    from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpSender, RTCSessionDescription
    from aiortc.mediastreams import AudioStreamTrack, VideoStreamTrack

    started = time.monotonic()
    path = ImpairedPath(loss, delay_s, seed)
    config = RTCConfiguration(iceServers=[])  # no STUN: there is no internet
    pcs = {"a": RTCPeerConnection(config), "b": RTCPeerConnection(config)}
    tracks = []
    try:
        # No RTX: aiortc files the RTX stream's statistics under the same inbound-rtp id as
        # the media stream's (rtcrtpreceiver.py), so with RTX its video counters flip between
        # two SSRCs. Without RTX, NACKed packets are resent on the media SSRC, as counted.
        preferred = {
            kind: [
                c
                for c in RTCRtpSender.getCapabilities(kind).codecs
                if c.mimeType.lower() in ("audio/opus", "video/vp8")
            ]
            for kind in KINDS
        }
        for pc in pcs.values():
            for track in (AudioStreamTrack(), *([VideoStreamTrack()] if video else [])):
                tracks.append(track)
                pc.addTrack(track)
        for transceiver in pcs["a"].getTransceivers():
            transceiver.setCodecPreferences(preferred[transceiver.kind])
        await pcs["a"].setLocalDescription(await pcs["a"].createOffer())
        offer = await _route_candidates(pcs["a"].localDescription.sdp, path, "a")
        await pcs["b"].setRemoteDescription(RTCSessionDescription(offer, "offer"))
        await pcs["b"].setLocalDescription(await pcs["b"].createAnswer())
        answer = await _route_candidates(pcs["b"].localDescription.sdp, path, "b")
        await pcs["a"].setRemoteDescription(RTCSessionDescription(answer, "answer"))

        deadline = time.monotonic() + 15
        while any(pc.connectionState != "connected" for pc in pcs.values()):
            assert time.monotonic() < deadline, {n: pc.connectionState for n, pc in pcs.items()}
            await asyncio.sleep(0.05)

        snapshots = []
        first_poll = next_poll = time.monotonic()
        loss_ended_ms = None
        for _ in range(round(secs / poll_s) + 1):
            await asyncio.sleep(max(0.0, next_poll - time.monotonic()))
            next_poll += poll_s
            t_ms = int(time.time() * 1000)
            if loss_for_s is not None and loss_ended_ms is None and (
                    time.monotonic() - first_poll >= loss_for_s):
                path.loss, loss_ended_ms = 0.0, t_ms
            reports = {n: aiortc_report_to_dicts(await pc.getStats()) for n, pc in pcs.items()}
            snapshots.append(Snapshot(t_ms, reports))
    finally:
        for track in tracks:
            track.stop()
        for pc in pcs.values():
            await pc.close()
        path.close()
    return RecordedCall(
        name=name,
        peer="aiortc",
        loss=loss,
        delay_s=delay_s,
        snapshots=snapshots,
        peer_connection_ids={"a": f"aiortc-{name}-a", "b": f"aiortc-{name}-b"},
        relay={k: dict(v) for k, v in sorted(path.counts.items())},
        wall_s=time.monotonic() - started,
        loss_ended_ms=loss_ended_ms,
    )


def record_aiortc_calls(
    specs: Mapping[str, Mapping[str, Any]], *, together: bool = False
) -> dict[str, RecordedCall]:
    """Two-way aiortc calls (audio and, unless ``video`` is false, video each way) through an
    :class:`ImpairedPath`, one after the other: on a small CI machine two at once load the
    event loop enough to show in aiortc's RTT (``together``: at once, for a test that does
    not measure RTT closely). ``specs``: name → {loss, delay_s, secs, poll_s, seed,
    loss_for_s, video}."""
    def call(name: str, spec: Mapping[str, Any]) -> Any:
        return _aiortc_call(
            name,
            spec.get("loss", 0.0),
            spec.get("delay_s", 0.0),
            spec.get("secs", 20.0),
            spec.get("poll_s", 2.0),
            spec.get("seed"),
            spec.get("loss_for_s"),
            spec.get("video", True),
        )

    async def run() -> dict[str, RecordedCall]:
        if together:
            done = await asyncio.gather(*(call(n, s) for n, s in specs.items()))
            return dict(zip(specs, done, strict=True))
        return {name: await call(name, spec) for name, spec in specs.items()}

    with _loopback_only_ice():
        return asyncio.run(run())


# --------------------------------------------------------------------------------------------
# Chromium, through the shared relay


def relay_script(shared: Path) -> Path:
    script = shared / "tools" / "impair" / "relay.py"
    assert script.exists(), f"missing the shared impairing relay {script}"
    return script


def _page_port_free(host: str) -> bool:
    with socket.socket() as s:
        try:
            s.bind((host, RELAY_PAGE_PORT))
        except OSError:
            return False
    return True


async def _relay_call(
    name: str,
    script: Path,
    out_dir: Path,
    loss: float,
    delay_s: float,
    secs: int,
    browser: str = "chromium",
    relay_host: str = "127.0.0.1",
    extra_args: tuple[str, ...] = (),
) -> RecordedCall:
    started = time.monotonic()
    # relay.py serves its page on a fixed port of the relay host: one call at a time there
    # (another test run's calls included: wait for up to two of them).
    deadline = time.monotonic() + 2 * secs + 30
    while not _page_port_free(relay_host):
        assert time.monotonic() < deadline, f"port {relay_host}:{RELAY_PAGE_PORT} stays busy"
        await asyncio.sleep(0.5)
    out = out_dir / f"{browser}-{name}.json"
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(script),
        str(out),
        "--loss",
        str(loss),
        "--delay",
        str(delay_s),
        "--secs",
        str(secs),
        "--browser",
        browser,
        "--relay-host",
        relay_host,
        *extra_args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        output, _ = await asyncio.wait_for(proc.communicate(), secs + 90)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode == 0 and out.exists(), (
        f"relay.py failed ({proc.returncode}): {output.decode(errors='replace')[-2000:]}"
    )
    body = json.loads(out.read_text())
    assert "error" not in body, f"the call page failed: {body['error']}"
    snapshots = [Snapshot(int(d["t"]), {"a": d["a"], "b": d["b"]}) for d in body["dumps"]]
    assert len(snapshots) >= 3, f"only {len(snapshots)} snapshots"
    return RecordedCall(
        name=name,
        peer=browser,
        loss=loss,
        delay_s=delay_s,
        snapshots=snapshots,
        peer_connection_ids={"a": f"{browser}-{name}-a", "b": f"{browser}-{name}-b"},
        relay={**body.get("relay", {}), "ua": body.get("ua")},
        wall_s=time.monotonic() - started,
    )


def _recording_problem(call: RecordedCall) -> str | None:
    """Why a browser's call is not a measurement to test against, if it is not: no media
    through the relay, or a sender whose browser never got two receiver reports in a row
    (remote-inbound-rtp) or never measured a round trip, of one kind, in the whole call.
    Seen once with Firefox on a clean path under CI's load: its own stats held no RTT and no
    send loss of either kind, so there was nothing to compare callquality's figures with."""
    if not call.relay.get("media"):
        return "call carried no media through the relay"
    for participant in participants_with(call, "outbound-rtp", "audio"):
        for kind in KINDS:
            if not call.deltas(participant, "remote-inbound-rtp", kind, "packetsLost"):
                return f"{participant}'s browser got no {kind} receiver report"
            if not call.interval_send_rtts_ms(participant, kind):
                return f"{participant}'s browser measured no {kind} round trip"
    return None


def _record_relay_calls(
    shared: Path,
    out_dir: Path,
    specs: Mapping[str, Mapping[str, Any]],
    browser: str,
    relay_host: str = "127.0.0.1",
    extra_args: tuple[str, ...] = (),
) -> dict[str, RecordedCall]:
    script = relay_script(shared)

    async def run() -> dict[str, RecordedCall]:
        calls = {}
        for name, spec in specs.items():
            # A headless browser now and then never gets media flowing through the relay
            # (seen with Firefox: ICE done, zero RTP packets relayed). That is a failed
            # recording, not a measurement: record such a call once more.
            for attempt in range(2):
                call = await _relay_call(
                    name,
                    script,
                    out_dir,
                    spec.get("loss", 0.0),
                    spec.get("delay_s", 0.0),
                    int(spec.get("secs", 20)),
                    browser,
                    relay_host,
                    extra_args,
                )
                problem = _recording_problem(call)
                if problem is None or attempt == 1:
                    break
                print(browser, name, problem, "; recording again")
            calls[name] = call
        return calls

    return asyncio.run(run())


def record_chromium_calls(
    shared: Path, out_dir: Path, specs: Mapping[str, Mapping[str, Any]]
) -> dict[str, RecordedCall]:
    """Chromium calls through ``relay.py``, one after the other (its page port is fixed).
    ``specs``: name → {loss, delay_s, secs}; the relay's drops are not seeded."""
    return _record_relay_calls(shared, out_dir, specs, "chromium")


# --------------------------------------------------------------------------------------------
# Firefox, through the shared relay, in a network namespace

FIREFOX_NETNS = "cqff"
FIREFOX_RELAY_HOST = "10.77.0.1"  # this side of the namespace's veth pair (netns-host.sh)
FIREFOX_PEER_HOST = "10.77.0.2"  # the browser's side, inside the namespace


def firefox_test_host(shared: Path, netns: str = FIREFOX_NETNS) -> None:
    """Make (idempotently; needs root) the network namespace Firefox runs in: it refuses
    loopback ICE candidates, so its host candidate is 10.77.0.2 inside the namespace and the
    relay listens on 10.77.0.1 outside it."""
    script = shared / "tools" / "impair" / "netns-host.sh"
    assert script.exists(), f"missing the shared namespace script {script}"
    for _ in range(2):  # a second try: another test run may be making it just now
        done = subprocess.run(["bash", str(script), netns], capture_output=True, text=True)
        if done.returncode == 0:
            break
        time.sleep(1)
    assert done.returncode == 0, f"{script} {netns} failed: {done.stderr or done.stdout}"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.bind((FIREFOX_RELAY_HOST, 0))
        except OSError as e:
            raise AssertionError(
                f"namespace {netns} exists but {FIREFOX_RELAY_HOST} is not on this side "
                f"({e}): 'ip netns del {netns}' and run again"
            ) from e


def record_firefox_calls(
    shared: Path, out_dir: Path, specs: Mapping[str, Mapping[str, Any]]
) -> dict[str, RecordedCall]:
    """Headless Firefox (firefox-esr) calls through ``relay.py``, one after the other, the
    browser in the namespace :func:`firefox_test_host` makes (made here if missing). As for
    Chromium, peer connection ``a`` sends audio and video and ``b`` receives."""
    firefox_test_host(shared)
    extra = ("--peer-host", FIREFOX_PEER_HOST, "--netns", FIREFOX_NETNS)
    return _record_relay_calls(shared, out_dir, specs, "firefox", FIREFOX_RELAY_HOST, extra)

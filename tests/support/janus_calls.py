"""Real calls through the machine's Janus: aiortc peers, media through an impairing path.

:func:`videoroom_call`: "Alice" (one Janus session) joins a VideoRoom room as a publisher and
sends audio and video; "Bob" (another session) joins the room as a publisher too (so his
session has a display name, as a janus.js VideoRoom client does) without publishing, and
subscribes to Alice's feed. :func:`echotest_call`: one peer sends audio and video to the
EchoTest plugin, which sends them back. Every media packet between a peer and Janus crosses
an :class:`ImpairedPath` (``support/calls.py``): RTP/RTCP dropped with probability ``loss``,
every packet delayed by ``delay_s`` one way.

After ``secs`` of media the path drops every RTP/RTCP packet for ``freeze_s``: the counters
stop, Janus's statistics events catch up with them, and the Admin API's ``handle_info`` is
read then (``RecordedJanusCall.admin``): Janus's own totals, read by another channel than
its event handler, for the tests to compare callquality's answers with. Then the peers hang
up and the sessions are destroyed, and Janus sends its last events.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from support.calls import ImpairedPath, _loopback_only_ice, _route_candidates
from support.janus import JanusClient, RunningJanus, route_janus_candidates

VIDEOROOM = "janus.plugin.videoroom"
ECHOTEST = "janus.plugin.echotest"


@dataclass
class RecordedJanusCall:
    """What a call did: who was where in Janus, what the path dropped, Janus's own totals."""

    name: str
    room: int | None
    loss: float
    delay_s: float
    sessions: dict[str, int] = field(default_factory=dict)  # peer -> Janus session id
    handles: dict[str, int] = field(default_factory=dict)  # "alice-pub", "bob-sub", "echo"
    feeds: dict[str, int] = field(default_factory=dict)  # peer -> VideoRoom publisher id
    # handle name -> mid -> {"type", "rtcp": rtcp.main, "stats": {"in", "out"}} (Admin API)
    admin: dict[str, dict[str, Any]] = field(default_factory=dict)
    relay: dict[str, dict[str, int]] = field(default_factory=dict)  # counts until the freeze

    def media(self, handle: str, kind: str) -> dict[str, Any]:
        """The Admin API's counters of one handle's medium of ``kind``."""
        found = [m for m in self.admin[handle].values() if m["type"] == kind]
        assert len(found) == 1, found
        return found[0]


async def _connected(pc: Any, what: str, timeout_s: float = 15) -> None:
    deadline = time.monotonic() + timeout_s
    while pc.connectionState != "connected":
        assert time.monotonic() < deadline, f"{what}: {pc.connectionState}"
        await asyncio.sleep(0.05)


def _drain(pc: Any, tasks: list[asyncio.Task[None]]) -> None:
    """Consume the tracks a peer receives (aiortc decodes only what is read)."""

    @pc.on("track")  # type: ignore[misc]
    def on_track(track: Any) -> None:
        async def read() -> None:
            while True:
                try:
                    await track.recv()
                except Exception:  # the track ended
                    return

        tasks.append(asyncio.ensure_future(read()))


async def _media_then_freeze(
    call: RecordedJanusCall,
    path: ImpairedPath,
    clients: dict[str, JanusClient],
    secs: float,
    freeze_s: float,
) -> None:
    await asyncio.sleep(secs)
    call.relay = {k: dict(v) for k, v in sorted(path.counts.items())}  # before the freeze
    path.loss = 1.0  # no more media either way: the counters stop
    await asyncio.sleep(freeze_s)
    for name, handle_id in call.handles.items():
        info = await clients[name.split("-")[0]].handle_info(handle_id)
        call.admin[name] = {
            mid: {"type": m["type"], "rtcp": m["rtcp"]["main"], "stats": m["stats"]}
            for mid, m in info["webrtc"]["media"].items()
        }


async def videoroom_call(
    janus: RunningJanus,
    http: httpx.AsyncClient,
    name: str,
    room: int,
    *,
    loss: float = 0.0,
    delay_s: float = 0.0,
    secs: float = 20,
    freeze_s: float = 3,
    seed: int | None = None,
) -> RecordedJanusCall:
    """Alice publishes into ``room``, Bob subscribes to her; see the module docstring."""
    from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
    from aiortc.mediastreams import AudioStreamTrack, VideoStreamTrack

    call = RecordedJanusCall(name, room, loss, delay_s)
    path = ImpairedPath(loss, delay_s, seed)
    config = RTCConfiguration(iceServers=[])
    alice, bob = JanusClient(janus, http), JanusClient(janus, http)
    pcs: list[Any] = []
    tasks: list[asyncio.Task[None]] = []
    try:
        call.sessions["alice"] = await alice.create()
        pub = call.handles["alice-pub"] = await alice.attach(VIDEOROOM, f"{name}-alice")
        joined = await alice.message(
            pub, {"request": "join", "ptype": "publisher", "room": room, "display": "Alice"}
        )
        call.feeds["alice"] = int(joined["plugindata"]["data"]["id"])
        pc = RTCPeerConnection(config)
        pcs.append(pc)
        pc.addTrack(AudioStreamTrack())
        pc.addTrack(VideoStreamTrack())
        await pc.setLocalDescription(await pc.createOffer())
        offer = await _route_candidates(pc.localDescription.sdp, path, "alice")
        answer = await alice.message(
            pub, {"request": "configure", "audio": True, "video": True},
            {"type": "offer", "sdp": offer},
        )
        sdp = await route_janus_candidates(answer["jsep"]["sdp"], path, "janus-alice")
        await pc.setRemoteDescription(RTCSessionDescription(sdp, "answer"))
        await _connected(pc, "alice")
        await asyncio.sleep(0.5)  # the feed is listed once Janus has its media

        call.sessions["bob"] = await bob.create()
        bob_pub = await bob.attach(VIDEOROOM, f"{name}-bob")
        joined = await bob.message(
            bob_pub, {"request": "join", "ptype": "publisher", "room": room, "display": "Bob"}
        )
        call.feeds["bob"] = int(joined["plugindata"]["data"]["id"])
        sub = call.handles["bob-sub"] = await bob.attach(VIDEOROOM, f"{name}-bob")
        offered = await bob.message(
            sub,
            {"request": "join", "ptype": "subscriber", "room": room,
             "streams": [{"feed": call.feeds["alice"]}]},
        )
        spc = RTCPeerConnection(config)
        pcs.append(spc)
        _drain(spc, tasks)
        sdp = await route_janus_candidates(offered["jsep"]["sdp"], path, "janus-bob")
        await spc.setRemoteDescription(RTCSessionDescription(sdp, "offer"))
        await spc.setLocalDescription(await spc.createAnswer())
        answer_sdp = await _route_candidates(spc.localDescription.sdp, path, "bob")
        await bob.message(sub, {"request": "start"}, {"type": "answer", "sdp": answer_sdp})
        await _connected(spc, "bob")

        await _media_then_freeze(call, path, {"alice": alice, "bob": bob}, secs, freeze_s)
    finally:
        await _hang_up(pcs, tasks, [alice, bob], path)
    return call


async def echotest_call(
    janus: RunningJanus,
    http: httpx.AsyncClient,
    name: str,
    *,
    loss: float = 0.0,
    delay_s: float = 0.0,
    secs: float = 10,
    freeze_s: float = 3,
    seed: int | None = None,
) -> RecordedJanusCall:
    """One peer sends audio and video to the EchoTest plugin, which echoes them back."""
    from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
    from aiortc.mediastreams import AudioStreamTrack, VideoStreamTrack

    call = RecordedJanusCall(name, None, loss, delay_s)
    path = ImpairedPath(loss, delay_s, seed)
    client = JanusClient(janus, http)
    pcs: list[Any] = []
    tasks: list[asyncio.Task[None]] = []
    try:
        call.sessions["echo"] = await client.create()
        handle = call.handles["echo"] = await client.attach(ECHOTEST, f"{name}-echo")
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        pcs.append(pc)
        _drain(pc, tasks)
        pc.addTrack(AudioStreamTrack())
        pc.addTrack(VideoStreamTrack())
        await pc.setLocalDescription(await pc.createOffer())
        offer = await _route_candidates(pc.localDescription.sdp, path, "echo")
        answer = await client.message(
            handle, {"audio": True, "video": True}, {"type": "offer", "sdp": offer}
        )
        sdp = await route_janus_candidates(answer["jsep"]["sdp"], path, "janus-echo")
        await pc.setRemoteDescription(RTCSessionDescription(sdp, "answer"))
        await _connected(pc, "echo")
        await _media_then_freeze(call, path, {"echo": client}, secs, freeze_s)
    finally:
        await _hang_up(pcs, tasks, [client], path)
    return call


async def _hang_up(
    pcs: list[Any], tasks: list[asyncio.Task[None]], clients: list[JanusClient],
    path: ImpairedPath,
) -> None:
    for pc in pcs:  # the path still drops media: the counters stay as the Admin API read them
        await pc.close()
    for task in tasks:
        task.cancel()
    await asyncio.sleep(1)  # Janus sends its last statistics at hang-up
    for client in clients:
        await client.destroy()
    path.close()


def run_calls(
    janus: RunningJanus,
    calls: list[Callable[[RunningJanus, httpx.AsyncClient], Awaitable[RecordedJanusCall]]],
) -> list[RecordedJanusCall]:
    """Run calls one after another (aiortc on loopback candidates only)."""

    async def run() -> list[RecordedJanusCall]:
        async with httpx.AsyncClient() as http:
            return [await call(janus, http) for call in calls]

    with _loopback_only_ice():
        return asyncio.run(run())

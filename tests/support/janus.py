"""The machine's Janus (Debian package ``janus``, 1.x) for tests, and a small client for it.

:func:`run_janus` writes a configuration into a temporary folder and starts ``/usr/bin/janus``
on loopback only: its HTTP API and Admin API on their own free ports of 127.0.0.1, ICE
gathering on ``lo`` alone, and only the VideoRoom and EchoTest plugins, the HTTP transport
and the sample event handler (``janus.eventhandler.sampleevh``) loaded, from symbolic links
to the package's libraries. The event handler posts every event to ``backend`` (callquality's
``POST /v2/ingest/janus``) with HTTP basic credentials, as docs/collector.md tells users to.

:class:`JanusClient` speaks the Janus HTTP API (``create``, ``attach``, ``message`` and the
long poll for events) and the Admin API (``handle_info``): just what the tests need.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from support.calls import ImpairedPath, _Listener
from support.server import free_port

JANUS = "/usr/bin/janus"
LIBDIR = Path("/usr/lib/x86_64-linux-gnu/janus")
ROOMS = (4321, 4322)  # the VideoRoom rooms the configuration creates
LIBRARIES = {
    "plugins": ("libjanus_videoroom.so", "libjanus_echotest.so"),
    "transports": ("libjanus_http.so",),
    "events": ("libjanus_sampleevh.so",),
}


@dataclass
class RunningJanus:
    """A started Janus: its API URLs, admin secret, folder and log."""

    api_url: str
    admin_url: str
    admin_secret: str
    folder: Path
    process: subprocess.Popen[bytes]

    @property
    def log(self) -> str:
        path = self.folder / "janus.log"
        return path.read_text(errors="replace") if path.exists() else ""


def janus_config(
    folder: Path,
    *,
    http_port: int,
    admin_port: int,
    admin_secret: str,
    backend: str,
    backend_user: str,
    backend_pwd: str,
    stats_period_s: int,
) -> None:
    """Write janus.jcfg and the configurations of the loaded modules into ``folder``."""
    for kind, names in LIBRARIES.items():
        (folder / kind).mkdir(parents=True, exist_ok=True)
        for name in names:
            link = folder / kind / name
            if not link.exists():
                link.symlink_to(LIBDIR / kind / name)
    (folder / "loggers").mkdir(exist_ok=True)
    files = {
        "janus.jcfg": f"""
general: {{
    configs_folder = "{folder}"
    plugins_folder = "{folder / 'plugins'}"
    transports_folder = "{folder / 'transports'}"
    events_folder = "{folder / 'events'}"
    loggers_folder = "{folder / 'loggers'}"
    debug_level = 4
    admin_secret = "{admin_secret}"
    server_name = "callquality-test"
    session_timeout = 60
}}
certificates: {{
}}
media: {{
}}
nat: {{
}}
plugins: {{
}}
transports: {{
}}
loggers: {{
}}
events: {{
    broadcast = true
    stats_period = {stats_period_s}
}}
""",
        "janus.transport.http.jcfg": f"""
general: {{
    json = "plain"
    base_path = "/janus"
    http = true
    port = {http_port}
    ip = "127.0.0.1"
    https = false
}}
admin: {{
    admin_base_path = "/admin"
    admin_http = true
    admin_port = {admin_port}
    admin_ip = "127.0.0.1"
    admin_https = false
}}
cors: {{
}}
""",
        "janus.plugin.videoroom.jcfg": "general: {\n}\n" + "".join(
            f"""room-{room}: {{
    description = "callquality test room {room}"
    publishers = 4
    bitrate = 512000
    fir_freq = 10
    audiocodec = "opus"
    videocodec = "vp8"
}}
"""
            for room in ROOMS
        ),
        "janus.plugin.echotest.jcfg": """
general: {
}
""",
        # docs/collector.md gives these same lines to users.
        "janus.eventhandler.sampleevh.jcfg": f"""
general: {{
    enabled = true
    events = "sessions,handles,webrtc,media,plugins"
    grouping = true
    json = "plain"
    backend = "{backend}"
    backend_user = "{backend_user}"
    backend_pwd = "{backend_pwd}"
    max_retransmissions = 5
    retransmissions_backoff = 100
}}
""",
    }
    for name, text in files.items():
        (folder / name).write_text(text.lstrip())


def janus_available() -> bool:
    return shutil.which(JANUS) is not None or os.path.exists(JANUS)


@contextmanager
def run_janus(
    folder: Path, *, backend: str, backend_user: str, backend_pwd: str, stats_period_s: int = 1
) -> Iterator[RunningJanus]:
    """Janus with its configuration in ``folder``, stopped (SIGTERM, then SIGKILL) at the end."""
    assert janus_available(), f"{JANUS} is missing: apt-get install janus (scripts/test does)"
    http_port, admin_port = free_port(), free_port()
    admin_secret = secrets.token_hex(8)
    janus_config(
        folder,
        http_port=http_port,
        admin_port=admin_port,
        admin_secret=admin_secret,
        backend=backend,
        backend_user=backend_user,
        backend_pwd=backend_pwd,
        stats_period_s=stats_period_s,
    )
    log = open(folder / "janus.log", "wb")  # noqa: SIM115 (closed below)
    process = subprocess.Popen(
        [JANUS, "-C", str(folder / "janus.jcfg"), "-F", str(folder), "-o", "-e"],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    running = RunningJanus(
        f"http://127.0.0.1:{http_port}/janus",
        f"http://127.0.0.1:{admin_port}/admin",
        admin_secret,
        folder,
        process,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            assert process.poll() is None, f"janus exited:\n{running.log[-3000:]}"
            try:
                if httpx.get(running.api_url + "/info", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"janus did not answer:\n{running.log[-3000:]}"
            time.sleep(0.1)
        yield running
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        log.close()


_CANDIDATE = re.compile(r"^a=candidate:(\S+) (\d+) (udp) (\d+) (\S+) (\d+) typ host(.*)$", re.I)


async def route_janus_candidates(sdp: str, path: ImpairedPath, name: str) -> str:
    """Janus's SDP with its IPv4 host candidates moved onto the impairing path.

    Janus 1.1.2 gathers ICE candidates on the machine's own non-loopback addresses only
    (libnice leaves loopback out). The path listens on 127.0.0.1 for each of them and relays
    to the real address: the peer (on 127.0.0.1) reaches Janus only through the path, and
    no packet leaves the machine (the kernel delivers a datagram to its own address locally).
    """
    loop = asyncio.get_running_loop()
    lines, exposed = [], 0
    for line in sdp.split("\r\n"):
        m = _CANDIDATE.match(line)
        if m is None:
            lines.append(line)
            continue
        foundation, component, proto, priority, ip, port, rest = m.groups()
        if ":" in ip:  # IPv6: left out, one address family is enough
            continue
        target = (ip, int(port))
        transport, _ = await loop.create_datagram_endpoint(
            lambda target=target: _Listener(path, f"{name}:{target[1]}", target),
            local_addr=("127.0.0.1", 0),
        )
        path.track(transport)
        relay_port = transport.get_extra_info("sockname")[1]
        lines.append(
            f"a=candidate:{foundation} {component} {proto} {priority} 127.0.0.1 {relay_port} "
            f"typ host{rest}"
        )
        exposed += 1
    assert exposed, f"no IPv4 host candidate in Janus's SDP:\n{sdp}"
    return "\r\n".join(lines)


class JanusError(RuntimeError):
    """Janus answered with an error."""


class JanusClient:
    """One Janus session over the HTTP API: attach handles, send messages, read events."""

    def __init__(self, janus: RunningJanus, http: httpx.AsyncClient) -> None:
        self.janus = janus
        self.http = http
        self.session_id = 0
        self.events: dict[int, asyncio.Queue[dict[str, Any]]] = {}
        self._poller: asyncio.Task[None] | None = None

    async def _post(self, url: str, body: dict[str, Any]) -> dict[str, Any]:
        body = {"transaction": secrets.token_hex(6), **body}
        answer = await self.http.post(url, json=body, timeout=30)
        answer.raise_for_status()
        data: dict[str, Any] = answer.json()
        if data.get("janus") == "error":
            raise JanusError(str(data.get("error")))
        return data

    async def create(self) -> int:
        data = await self._post(self.janus.api_url, {"janus": "create"})
        self.session_id = int(data["data"]["id"])
        self._poller = asyncio.get_running_loop().create_task(self._poll())
        return self.session_id

    async def attach(self, plugin: str, opaque_id: str | None = None) -> int:
        body: dict[str, Any] = {"janus": "attach", "plugin": plugin}
        if opaque_id is not None:
            body["opaque_id"] = opaque_id
        data = await self._post(f"{self.janus.api_url}/{self.session_id}", body)
        handle_id = int(data["data"]["id"])
        self.events[handle_id] = asyncio.Queue()
        return handle_id

    async def message(
        self, handle_id: int, body: dict[str, Any], jsep: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Send a plugin message; the plugin's answer (its asynchronous event, with any jsep)."""
        request: dict[str, Any] = {"janus": "message", "body": body}
        if jsep is not None:
            request["jsep"] = jsep
        data = await self._post(f"{self.janus.api_url}/{self.session_id}/{handle_id}", request)
        if data.get("janus") == "success":  # a synchronous request
            return data
        return await self.next_event(handle_id)

    async def next_event(self, handle_id: int, timeout_s: float = 20) -> dict[str, Any]:
        """The handle's next plugin event ("event" with plugindata), skipping others."""
        deadline = time.monotonic() + timeout_s
        while True:
            left = deadline - time.monotonic()
            assert left > 0, f"no plugin event on handle {handle_id}"
            event = await asyncio.wait_for(self.events[handle_id].get(), left)
            if event.get("janus") == "event":
                return event

    async def _poll(self) -> None:
        url = f"{self.janus.api_url}/{self.session_id}"
        while True:
            try:
                answer = await self.http.get(url, params={"maxev": 10}, timeout=40)
            except httpx.TransportError:
                await asyncio.sleep(0.2)
                continue
            if answer.status_code != 200:
                return
            data = answer.json()
            for event in data if isinstance(data, list) else [data]:
                sender = event.get("sender")
                if sender in self.events:
                    self.events[sender].put_nowait(event)

    async def handle_info(self, handle_id: int) -> dict[str, Any]:
        """The Admin API's view of a handle (its own counters)."""
        answer = await self.http.post(
            f"{self.janus.admin_url}/{self.session_id}/{handle_id}",
            json={
                "janus": "handle_info",
                "transaction": secrets.token_hex(6),
                "admin_secret": self.janus.admin_secret,
            },
            timeout=10,
        )
        answer.raise_for_status()
        data: dict[str, Any] = answer.json()
        if data.get("janus") != "success":
            raise JanusError(str(data))
        info: dict[str, Any] = data["info"]
        return info

    async def destroy(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
        if self.session_id:
            try:
                await self._post(f"{self.janus.api_url}/{self.session_id}", {"janus": "destroy"})
            except (httpx.HTTPError, JanusError):
                pass

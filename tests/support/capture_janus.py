"""Capture what the machine's Janus posts, for tests/ingest/data/janus-events.json.

    cd tests && ../.venv/bin/python -m support.capture_janus ingest/data/janus-events.json

Janus's sample event handler posts to a recorder on loopback (as it would to callquality)
while two calls run (support/janus_calls.py): a VideoRoom call, Alice publishing and Bob
subscribing, through a path dropping 5 % of the media and adding 50 ms each way; then an
EchoTest call through a path dropping 5 % and adding 25 ms. Written: every request body as
posted, the basic credentials' user, and each call's Janus ids, relay counts and the Admin
API's counters per handle and medium (read while the media was frozen, after the last
statistics event of the frozen counters).
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import tempfile
import threading
from dataclasses import asdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from support.janus import JANUS, run_janus
from support.janus_calls import echotest_call, run_calls, videoroom_call
from support.server import free_port

STATS_PERIOD_S = 2


def capture(out: Path) -> None:
    posts: list[dict[str, Any]] = []

    class Recorder(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            body = self.rfile.read(int(self.headers["content-length"]))
            auth = self.headers.get("authorization", "")
            user = base64.b64decode(auth[6:]).decode().partition(":")[0] if auth else None
            posts.append({"user": user, "body": json.loads(body)})
            self.send_response(202)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    port = free_port()
    recorder = ThreadingHTTPServer(("127.0.0.1", port), Recorder)
    threading.Thread(target=recorder.serve_forever, daemon=True).start()
    version = subprocess.run([JANUS, "--version"], capture_output=True, text=True).stdout
    with tempfile.TemporaryDirectory() as folder, run_janus(
        Path(folder),
        backend=f"http://127.0.0.1:{port}/v2/ingest/janus",
        backend_user="capture",
        backend_pwd="not-a-token",
        stats_period_s=STATS_PERIOD_S,
    ) as janus:
        calls = run_calls(janus, [
            lambda j, h: videoroom_call(
                j, h, "videoroom", 4321, loss=0.05, delay_s=0.05, secs=12, seed=7
            ),
            lambda j, h: echotest_call(j, h, "echotest", loss=0.05, delay_s=0.025, secs=8, seed=8),
        ])
        threading.Event().wait(2)  # the last events
    recorder.shutdown()
    document = {
        "janus": version.splitlines()[0] if version else None,
        "stats_period_s": STATS_PERIOD_S,
        "calls": [asdict(c) for c in calls],
        "posts": posts,
    }
    out.write_text(json.dumps(document, indent=1) + "\n")
    events = sum(len(p["body"]) if isinstance(p["body"], list) else 1 for p in posts)
    print(f"{out}: {len(posts)} requests, {events} events")


if __name__ == "__main__":
    capture(Path(sys.argv[1]))

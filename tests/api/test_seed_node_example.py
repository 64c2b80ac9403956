"""VideoSDK's own NodeJS example (node-fetch), run with the machine's node against our server."""

from __future__ import annotations

import json
import os
import re
import subprocess
import uuid
from pathlib import Path

from conftest import SHARED
from support.items import T0, sample_item
from support.server import RunningServer

NODE_DIR = Path(__file__).resolve().parents[1] / "node"


def seed_example_response() -> dict[str, object]:
    """The example response printed on the seed page."""
    text = (SHARED / "seed" / "fetch-session-quality-stats.txt").read_text()
    match = re.search(r"```\n(\{\s+\"sessionId\".*?)\n```", text, re.S)
    assert match, "the seed page's example response was not found"
    return json.loads(match.group(1))  # type: ignore[no-any-return]


def shape(value: object) -> object:
    """Keys and JSON types, recursively (ints and floats are both 'number')."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(v) for v in value[:1]]
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


def test_the_seed_nodejs_example_gets_the_seed_shape(server: RunningServer) -> None:
    if not (NODE_DIR / "node_modules" / "node-fetch").exists():
        subprocess.run(["npm", "ci", "--silent", "--no-audit", "--no-fund"], cwd=NODE_DIR,
                       check=True)
    tenant = server.new_tenant()
    room = f"room-{uuid.uuid4().hex[:8]}"
    items = [sample_item(room, p, T0 + i * 5000) for i in range(6) for p in ("a", "b")]
    with server.client(tenant) as client:
        session_id = client.post("/v2/stats", json=items).json()["sessionIds"][0]
    env = {
        **os.environ,
        "YOUR_TOKEN": tenant.token(),
        "SESSION_ID": session_id,
        "BASE_URL": server.url,
    }
    done = subprocess.run(
        ["node", "seed_example.mjs"], cwd=NODE_DIR, env=env, capture_output=True, text=True,
        timeout=60, check=True,
    )
    data = json.loads(done.stdout)
    assert data["sessionId"] == session_id and data["meetingId"] == room
    assert shape(data) == shape(seed_example_response())

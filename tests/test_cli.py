"""The CLI as the README uses it: `serve --demo`, `keys create`, `token`, `settings`."""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

import httpx
import jwt
from support.processes import CLI
from support.server import free_port


def test_serve_demo_prints_a_working_token_and_a_demo_session(tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [CLI, "serve", "--demo", "--port", str(port), "--data-dir", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        lines = []
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("Demo stats"):
                break
        out = "".join(lines)
        token = re.search(r"export CQ_TOKEN=(\S+)", out).group(1)  # type: ignore[union-attr]
        stats_url = re.search(r"(http://\S+/stats)", out).group(1)  # type: ignore[union-attr]
        assert f"http://127.0.0.1:{port}/dashboard" in out
        deadline = time.time() + 20
        while True:
            try:
                response = httpx.get(stats_url, headers={"Authorization": token})
                break
            except httpx.TransportError:
                assert time.time() < deadline, "the server did not come up"
                time.sleep(0.1)
        assert response.status_code == 200
        stats = response.json()["stats"]
        assert len(stats) >= 10 and stats[0]["qualityScore"]["audio"] is not None
        people = httpx.get(stats_url.rsplit("/", 1)[0], headers={"Authorization": token}).json()
        assert len(people["participants"]) == 4
    finally:
        proc.terminate()
        proc.wait(10)
    # A second start reuses the demo key and session.
    again = subprocess.Popen(
        [CLI, "serve", "--demo", "--port", str(free_port()), "--data-dir", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        assert again.stdout is not None
        second = ""
        for line in again.stdout:
            second += line
            if line.startswith("Demo stats"):
                break
    finally:
        again.terminate()
        again.wait(10)
    assert re.search(r"API key: (\w+)", second).group(1) in out  # type: ignore[union-attr]
    assert stats_url.rsplit(":", 1)[1].split("/", 1)[1] in second


def test_keys_create_and_token(tmp_path: Path) -> None:
    created = subprocess.run(
        [CLI, "keys", "create", "--json", "--data-dir", str(tmp_path)],
        capture_output=True, text=True, check=True,
    )
    key = json.loads(created.stdout)
    token = subprocess.run(
        [CLI, "token", "--api-key", key["apiKey"], "--secret", key["secret"], "--role", "rtc",
         "--room-id", "r1", "--participant-id", "p1", "--ttl", "60"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()
    claims = jwt.decode(token, key["secret"], algorithms=["HS256"])
    assert claims["apikey"] == key["apiKey"] and claims["roles"] == ["rtc"]
    assert claims["roomId"] == "r1" and claims["participantId"] == "p1"
    assert claims["version"] == 2 and claims["permissions"] == ["allow_join"]
    assert claims["exp"] - claims["iat"] == 60
    bad = subprocess.run(
        [CLI, "token", "--api-key", "k", "--secret", "s", "--role", "admin"],
        capture_output=True, text=True,
    )
    assert bad.returncode != 0 and "crawler, rtc or janus" in bad.stderr
    janus = subprocess.run(
        [CLI, "token", "--api-key", key["apiKey"], "--secret", key["secret"], "--role", "janus",
         "--ttl", "31536000"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()
    claims = jwt.decode(janus, key["secret"], algorithms=["HS256"])
    assert claims["roles"] == ["janus"] and claims["exp"] - claims["iat"] == 31536000


def test_settings_lists_every_environment_variable() -> None:
    out = subprocess.run([CLI, "settings"], capture_output=True, text=True, check=True).stdout
    for name in ("DATABASE_URL", "RETENTION_DAYS", "IDLE_TIMEOUT_S", "MAX_BODY_BYTES"):
        assert name in out

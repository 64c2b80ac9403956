"""schemathesis against the served OpenAPI document: no 5xx, no response outside the schema."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from support.items import T0, sample_item
from support.server import RunningServer


def test_schemathesis_finds_no_server_error(server: RunningServer, tmp_path: Path) -> None:
    tenant = server.new_tenant()
    with server.client(tenant) as client:
        client.post("/v2/stats", json=[sample_item("fuzz-room", "a", T0 + i * 5000)
                                      for i in range(3)])
    st = Path(sys.executable).parent / "st"
    done = subprocess.run(
        [
            str(st), "run", f"{server.url}/openapi.json",
            "--header", f"Authorization: {tenant.token()}",
            "--checks", "not_a_server_error,status_code_conformance,"
            "content_type_conformance,response_schema_conformance",
            "--max-examples", "25",
            "--seed", "1",
            "--generation-database", "none",
            "--exclude-path", "/metrics",
        ],
        capture_output=True, text=True, timeout=240, cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]

"""schemathesis over the whole served OpenAPI document, all phases (examples, coverage,
fuzzing, stateful through the inferred links): no 5xx, no status, content type or body
outside the document. The document describes every request body, so the generated ingest
items (raw ``report`` and ``sample`` forms) reach ingest: the test checks that some were
stored and that raw reports were differenced.

CI runs ``CQ_FUZZ_EXAMPLES`` (default 20) examples per operation; docs/operations.md has the
command for the long run (>= 200 per operation).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import sqlalchemy as sa
from support.items import sample_item
from support.server import serve

from callquality.config import Settings
from callquality.store.db import create_store_engine, migrate, write_transaction
from callquality.store.keys import create_api_key
from callquality.store.schema import sessions, stream_states
from callquality.tokens import make_token

EXAMPLES = int(os.environ.get("CQ_FUZZ_EXAMPLES", "20"))
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance," \
    "response_schema_conformance"


def _statuses(report_dir: Path) -> Counter[tuple[str, str, int]]:
    """(method, path, status) of every request in schemathesis' NDJSON report."""
    seen: Counter[tuple[str, str, int]] = Counter()

    def walk(node: object) -> None:
        if isinstance(node, dict):
            request, response = node.get("request"), node.get("response")
            if isinstance(request, dict) and isinstance(response, dict):
                path = "/" + str(request.get("uri", "")).split("/", 3)[-1].split("?")[0]
                seen[(str(request.get("method")), path, int(response["status_code"]))] += 1
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for report in report_dir.glob("*.ndjson"):
        for line in report.read_text().splitlines():
            walk(json.loads(line))
    return seen


def test_schemathesis_finds_no_server_error_and_no_schema_violation(
    backend: str, tmp_path: Path
) -> None:
    engine = create_store_engine(backend)
    migrate(engine)
    with write_transaction(engine) as conn:
        api_key, secret = create_api_key(conn, name="fuzz", now_ms=int(time.time() * 1000))
    engine.dispose()
    token = make_token(api_key, secret, roles=("crawler", "rtc", "janus"))  # every route
    settings = Settings(
        database_url=backend, rate_limit_per_s=0, rate_limit_items_per_s=0,
        unknown_key_rate_per_s=0,
        metrics_token=token,  # so that /metrics answers 200 to the one header st sends
    )
    with serve(settings) as server:
        with server.client(token=token) as client:
            now = int(time.time() * 1000)
            seeded = client.post(
                "/v2/stats", json=[sample_item("fuzz-room", "a", now - 60_000 + i * 5000)
                                   for i in range(3)]
            )
            assert seeded.status_code == 202, seeded.text
        done = subprocess.run(
            [
                str(Path(sys.executable).parent / "st"), "run", f"{server.url}/openapi.json",
                "--header", f"Authorization: {token}",
                "--checks", CHECKS,
                "--phases", "examples,coverage,fuzzing,stateful",
                "--max-examples", str(EXAMPLES),
                "--seed", "1",
                "--generation-database", "none",
                "--report", "ndjson", "--report-dir", str(tmp_path / "report"),
            ],
            capture_output=True, text=True, timeout=max(900, 20 * EXAMPLES), cwd=tmp_path,
        )
        with server.engine.connect() as conn:  # type: ignore[attr-defined]
            states = conn.execute(
                sa.select(sa.func.count())
                .select_from(stream_states.join(
                    sessions, sessions.c.session_id == stream_states.c.session_id))
                .where(sessions.c.api_key == api_key)
            ).scalar_one()
    assert done.returncode == 0, done.stdout[-8000:] + done.stderr[-2000:]
    statuses = _statuses(tmp_path / "report")
    assert not [k for k in statuses if k[2] >= 500], statuses
    accepted = sum(n for (method, path, status), n in statuses.items()
                   if (method, path, status) == ("POST", "/v2/stats", 202))
    assert accepted > EXAMPLES, statuses  # generated items were stored
    assert states > 0  # and raw reports among them were differenced (a counter state kept)

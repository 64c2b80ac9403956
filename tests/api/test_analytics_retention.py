"""Retention of the fleet analytics (docs/metrics.md, "Fleet analytics"): the participant-
session summaries and their daily rollups outlive the samples RETENTION_DAYS purges, and go
SUMMARY_RETENTION_DAYS after their participant-session ended.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from sqlalchemy import Engine, func, select
from support.items import T0, sample_item
from support.server import RunningServer, Tenant

from callquality.config import Settings
from callquality.service.retention import purge_expired
from callquality.store.db import read_transaction
from callquality.store.schema import analytics_daily, participant_summaries

DAY_MS = 86_400_000
D0 = (T0 // DAY_MS) * DAY_MS
RETENTION = Settings(retention_days=30, summary_retention_days=90)


def _quality(server: RunningServer, tenant: Tenant, **params: Any) -> list[dict[str, Any]]:
    with server.client(tenant) as client:
        answer = client.get("/v2/analytics/quality", params={"groupBy": "all", **params})
    assert answer.status_code == 200, answer.text
    data: list[dict[str, Any]] = answer.json()["data"]
    return data


def _rows(engine: Engine, api_key: str) -> tuple[int, int]:
    """(summaries, rollup rows) of a tenant."""
    with read_transaction(engine) as conn:
        return tuple(  # type: ignore[return-value]
            conn.execute(select(func.count()).select_from(t).where(t.c.api_key == api_key))
            .scalar_one() for t in (participant_summaries, analytics_daily))


def test_summaries_outlive_the_samples_and_go_after_their_own_period(
    own_server: RunningServer,
) -> None:
    tenant = own_server.new_tenant()
    engine: Engine = own_server.engine  # type: ignore[assignment]
    room = f"keep-{uuid.uuid4().hex[:6]}"
    items = [sample_item(room, f"p{n}", T0 + i * 5000, audio_recv_lost=60 if n == 0 else 0)
             for n in range(4) for i in range(1, 3)]
    with own_server.client(tenant) as client:
        answer = client.post("/v2/stats", json=items)
        assert answer.status_code == 202, answer.text
        session_id = answer.json()["sessionIds"][0]
    # whole days (from the rollups) and one hour (from the summaries)
    periods = [{"from": D0, "to": D0 + 2 * DAY_MS},
               {"from": T0 - 1_800_000, "to": T0 + 1_800_000}]
    before = [_quality(own_server, tenant, **p) for p in periods]
    assert [g["participantSessions"] for (g,) in before] == [4, 4]
    assert before[0][0]["poorStreams"] == 1

    # 31 days after the samples arrived: RETENTION_DAYS (30) purges them, the summaries stay
    received = int(time.time() * 1000)
    assert purge_expired(engine, RETENTION, received + 31 * DAY_MS) == len(items)
    with own_server.client(tenant) as client:
        assert client.get(f"/v2/sessions/{session_id}/stats").json()["stats"] == []
    assert [_quality(own_server, tenant, **p) for p in periods] == before
    assert _rows(engine, tenant.api_key)[0] == 4

    # SUMMARY_RETENTION_DAYS (90) after the participant-sessions ended: they go, and their
    # part of the daily rollups with them
    ended = T0 + 2 * 5000
    purge_expired(engine, RETENTION, ended + 89 * DAY_MS)
    assert _rows(engine, tenant.api_key)[0] == 4
    purge_expired(engine, RETENTION, ended + 90 * DAY_MS + 1)
    assert _rows(engine, tenant.api_key) == (0, 0)
    assert [_quality(own_server, tenant, **p) for p in periods] == [[], []]

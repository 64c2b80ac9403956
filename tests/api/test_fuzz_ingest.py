"""Property: a real browser report with one field mutated (dropped, of a wrong type, huge,
negative, or moved backwards) is either stored or refused with a 400 that names the field,
never a 5xx; a refused request changes nothing that is stored, and the room keeps taking
reports. The reports are the Chromium and Firefox fixtures' (both peer connections); any
field of any stats object, and any field of the item around it, may be the one mutated.

``CQ_FUZZ_INGEST_EXAMPLES`` sets the number of examples per backend (default 100).
"""

from __future__ import annotations

import copy
import json
import os
import time
import uuid
from typing import Any

import sqlalchemy as sa
from conftest import fixture_path
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from support.server import RunningServer

from callquality.store.schema import (
    participant_intervals,
    participants,
    sample_rollups,
    samples,
    session_rollups,
    sessions,
    stream_states,
)

EXAMPLES = int(os.environ.get("CQ_FUZZ_INGEST_EXAMPLES", "100"))
SNAPSHOTS = {
    name: json.loads(fixture_path(name).read_text())
    for name in ("chromium-156-loopback-getstats.json", "firefox-153-getstats.json")
}
CASES = [(name, pc) for name in SNAPSHOTS for pc in ("a", "b")]
ITEM_FIELDS = (
    "roomId", "participantId", "peerConnectionId", "participantName", "sessionId",
    "customRoomId", "timestamp", "report",
)
HUGE_NUMBERS = (2**31, 2**53, 2**53 + 1, 2**63 - 1, 2**63, 2**64 - 1, 10**30, 1e308)
WRONG_TYPES = ("250", "", True, False, None, [], {}, [1, 2], {"a": 1})
TABLES = (participants, participant_intervals, stream_states, samples, sample_rollups,
          session_rollups)


def _item(room: str, name: str, pc: str, index: int, t0: int) -> dict[str, Any]:
    snapshots = SNAPSHOTS[name]
    return {
        "roomId": room,
        "participantId": pc,
        "peerConnectionId": pc,
        "timestamp": t0 + snapshots[index]["t"] - snapshots[0]["t"],
        "report": copy.deepcopy(snapshots[index][pc]),
    }


@st.composite
def mutations(draw: st.DrawFn) -> tuple[str, str, str, str, object]:
    """(fixture, peer connection, where, field, new value or the DROP marker)."""
    name, pc = draw(st.sampled_from(CASES))
    report = SNAPSHOTS[name][1][pc]
    if draw(st.integers(0, 4)) == 0:
        where, field = "item", draw(st.sampled_from(ITEM_FIELDS))
        original: object = {"timestamp": 1.0, "report": []}.get(field, "x")
    else:
        index = draw(st.integers(0, len(report) - 1))
        where = f"stats:{index}"
        field = draw(st.sampled_from(sorted(report[index])))
        original = report[index][field]
    how = draw(st.sampled_from(("drop", "wrong type", "huge", "negative", "backwards")))
    number = isinstance(original, int | float) and not isinstance(original, bool)
    if how == "drop":
        value: object = DROP
    elif how == "wrong type":
        value = draw(st.sampled_from(WRONG_TYPES if number else (5, 1.5, True, [], {"a": 1})))
    elif how == "huge":
        value = draw(st.sampled_from(HUGE_NUMBERS)) if number else "x" * draw(
            st.sampled_from((201, 65_536, 1_000_000)))
    elif how == "negative":
        value = draw(st.sampled_from((-1, -(2**53), -1e308))) if not number else -abs(
            original) - draw(st.sampled_from((0, 1, 2**40)))
    else:  # backwards: a counter that went down, a time earlier than the one before
        assert how == "backwards"
        if not number:
            value = draw(st.sampled_from((0, -1)))
        else:
            value = original - draw(st.sampled_from((1, 2_000, 3_600_000, 90_000_000)))
    return name, pc, where, field, value


DROP = object()


def _mutate(item: dict[str, Any], where: str, field: str, value: object, t0: int) -> None:
    target = item if where == "item" else item["report"][int(where.split(":")[1])]
    if value is DROP:
        target.pop(field, None)
    elif where == "item" and field == "timestamp" and isinstance(value, int | float) \
            and not isinstance(value, bool) and abs(value) < 10**7:
        target[field] = item["timestamp"] + value  # "backwards"/"negative": relative to now
    else:
        target[field] = value


def _stored(server: RunningServer, api_key: str) -> dict[str, list[tuple[Any, ...]]]:
    """Everything stored for one API key, table by table, in a stable order."""
    with server.engine.connect() as conn:  # type: ignore[attr-defined]
        ids = [r.session_id for r in conn.execute(
            sa.select(sessions.c.session_id).where(sessions.c.api_key == api_key))]
        stored = {"sessions": sorted(tuple(r) for r in conn.execute(
            sa.select(sessions).where(sessions.c.api_key == api_key)))}
        for table in TABLES:
            rows = conn.execute(sa.select(table).where(table.c.session_id.in_(ids)))
            stored[table.name] = sorted((tuple(r) for r in rows), key=repr)
    return stored


def _names_the_field(message: str, where: str, field: str) -> bool:
    if where == "item":
        return f"items[0].{field}" in message or (
            message.startswith("items[0]") and f"'{field}'" in message)
    return "items[0].report" in message and (repr(field) in message or field in message)


@settings(
    max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(mutation=mutations())
def test_a_mutated_real_report_is_stored_or_refused_naming_the_field(
    server: RunningServer, mutation: tuple[str, str, str, str, object]
) -> None:
    name, pc, where, field, value = mutation
    tenant = server.new_tenant()
    room, t0 = f"fuzz-{uuid.uuid4().hex[:8]}", int(time.time() * 1000) - 60_000
    with server.client(tenant) as client:
        baseline = client.post("/v2/stats", json=_item(room, name, pc, 0, t0))
        assert baseline.status_code == 202, baseline.text
        before = _stored(server, tenant.api_key)
        item = _item(room, name, pc, 1, t0)
        _mutate(item, where, field, value, t0)
        response = client.post("/v2/stats", json=item)
        event(f"{response.status_code} for a {where.split(':')[0]} field")
        assert response.status_code < 500, response.text[:2000]
        if response.status_code == 400:
            message = response.json()["message"]
            assert _names_the_field(message, where, field), message[:2000]
            assert _stored(server, tenant.api_key) == before, "a refused request stored data"
        else:
            assert response.status_code == 202, response.text[:2000]
        later = client.post("/v2/stats", json=_item(room, name, pc, 2, t0))
        assert later.status_code == 202, later.text[:2000]

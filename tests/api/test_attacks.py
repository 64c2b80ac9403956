"""The outside attacks of issue 22, one test per finding, against a real server on SQLite and
PostgreSQL. Each failed on the code before its fix (see the commit messages)."""

from __future__ import annotations

import copy
import dataclasses
import gzip
import json
import time
import tracemalloc
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import jwt
import pytest
import sqlalchemy as sa
from conftest import fixture_path
from support.items import sample_item
from support.server import RunningServer, Tenant, serve

from callquality.config import Settings
from callquality.domain.bounds import SAMPLE_MAXIMA, bounded_sample
from callquality.domain.sample import DirectionStats, MediaStats, Sample
from callquality.ingest.dumps import DumpError, _gunzip
from callquality.store.db import create_store_engine, migrate, write_transaction
from callquality.store.schema import api_keys, sample_rollups, samples

HOUR_MS = 3_600_000


def now_ms() -> int:
    return int(time.time() * 1000)


def room() -> str:
    return f"room-{uuid.uuid4().hex[:8]}"


def assert_error(response: httpx.Response, status: int, *words: str) -> str:
    assert response.status_code == status, response.text[:2000]
    body = response.json()
    assert set(body) == {"statusCode", "error", "message"}
    assert body["statusCode"] == status
    for word in words:
        assert word in body["message"], body["message"]
    message: str = body["message"]
    return message


@contextmanager
def server_with(backend: str, **settings: Any) -> Iterator[RunningServer]:
    """A second server on the same database, with its own settings."""
    with serve(Settings(database_url=backend, **settings)) as running:
        yield running


def chromium_reports() -> list[dict[str, Any]]:
    snapshots: list[dict[str, Any]] = json.loads(
        fixture_path("chromium-156-loopback-getstats.json").read_text()
    )
    return snapshots


def report_item(r: str, snapshot: dict[str, Any], t0: int, pc: str = "a") -> dict[str, Any]:
    """One peer connection's report of a fixture snapshot, moved to start at ``t0``."""
    first = chromium_reports()[0]["t"]
    return {
        "roomId": r,
        "participantId": pc,
        "timestamp": t0 + (snapshot["t"] - first),
        "report": copy.deepcopy(snapshot[pc]),
    }


def stats_of(server: RunningServer, tenant: Tenant, sid: str, **params: Any) -> Any:
    with server.client(tenant) as client:
        response = client.get(f"/v2/sessions/{sid}/stats", params=params)
    assert response.status_code == 200, response.text
    return response.json()


# 1. One sample blocks a room ----------------------------------------------------------------

POISON = {"intervalMs": 5000, "audio": {"send": {"packets": 9223372036854775807}}}


def test_the_poison_sample_is_400_and_the_room_keeps_taking_reports(
    server: RunningServer,
) -> None:
    tenant = server.new_tenant()
    r, t = room(), now_ms() - 60_000
    with server.client(tenant) as crawler:
        sid = crawler.post("/v2/stats", json=sample_item(r, "a", t)).json()["sessionIds"][0]
    before = stats_of(server, tenant, sid)
    poison = {"roomId": r, "participantId": "mallory", "timestamp": t + 5000, "sample": POISON}
    with server.client(token=tenant.token(roles=("rtc",), room_id=r)) as rtc:
        assert_error(
            rtc.post("/v2/stats", json=poison), 400, "items[0].sample.audio.send.packets"
        )
        assert stats_of(server, tenant, sid) == before  # nothing of it was stored
        for i in range(1, 4):
            answer = rtc.post("/v2/stats", json=sample_item(r, "b", t + i * 5000))
            assert answer.status_code == 202, answer.text
    assert len(stats_of(server, tenant, sid)["stats"]) == 1


@pytest.mark.parametrize(
    ("field", "value"),
    [("packetsSent", 2**63), ("packetsSent", 1e308), ("bytesSent", 2**64 - 1),
     ("frameWidth", 2**63), ("framesPerSecond", 1e308)],
)
def test_a_report_counter_beyond_its_bound_is_400_naming_the_field(
    server: RunningServer, field: str, value: float
) -> None:
    tenant = server.new_tenant()
    r, t0 = room(), now_ms() - 60_000
    snapshots = chromium_reports()
    bad = report_item(r, snapshots[1], t0)
    video_out = next(
        s for s in bad["report"] if s["type"] == "outbound-rtp" and s["kind"] == "video"
    )
    video_out[field] = value
    with server.client(tenant) as client:
        first = client.post("/v2/stats", json=report_item(r, snapshots[0], t0))
        assert first.status_code == 202, first.text
        assert_error(client.post("/v2/stats", json=bad), 400, "items[0].report", field)
        for snapshot in snapshots[1:4]:  # the room, and that stream, keep taking reports
            answer = client.post("/v2/stats", json=report_item(r, snapshot, t0))
            assert answer.status_code == 202, answer.text
        sid = first.json()["sessionIds"][0]
    assert stats_of(server, tenant, sid, interval=5)["stats"]


def test_a_counter_jump_within_bounds_is_stored_as_unknown(server: RunningServer) -> None:
    tenant = server.new_tenant()
    r, t0 = room(), now_ms() - 60_000
    snapshots = chromium_reports()
    jump = report_item(r, snapshots[1], t0)
    for stats in jump["report"]:
        if stats["type"] == "outbound-rtp":
            stats["packetsSent"] += 2**52  # one counter: 4.5e15 packets in 2 s
    with server.client(tenant) as client:
        sid = client.post("/v2/stats", json=report_item(r, snapshots[0], t0)).json()[
            "sessionIds"
        ][0]
        assert client.post("/v2/stats", json=jump).status_code == 202
    with server.engine.connect() as conn:  # type: ignore[attr-defined]
        packets = conn.execute(
            sa.select(samples.c.video_send_packets, samples.c.audio_send_packets).where(
                samples.c.session_id == sid, samples.c.interval_ms.is_not(None)
            )
        ).one()
    assert tuple(packets) == (None, None)
    assert stats_of(server, tenant, sid, extended="true")["stats"]


def test_every_sample_figure_has_a_bound_and_each_bound_is_checked() -> None:
    numbers = {f.name for f in dataclasses.fields(DirectionStats)} - {
        "quality_limitation_reason"}
    assert set(SAMPLE_MAXIMA) == numbers
    for name, limit in SAMPLE_MAXIMA.items():
        at_bound = Sample(5000, audio=MediaStats(recv=DirectionStats(**{name: limit})))
        beyond = Sample(5000, audio=MediaStats(recv=DirectionStats(**{name: limit * 2 + 1})))
        assert bounded_sample(at_bound) is at_bound, name
        assert bounded_sample(beyond).audio == MediaStats(recv=DirectionStats()), name
    long_name = Sample(5000, codec_audio="x" * 33,
                       video=MediaStats(send=DirectionStats(quality_limitation_reason="y" * 33)))
    bounded = bounded_sample(long_name)
    assert bounded.codec_audio is None and bounded.video == MediaStats(send=DirectionStats())


def test_a_sum_beyond_64_bits_is_never_a_503(server: RunningServer) -> None:
    """Should a stored sum overflow (data from before the bounds), the read that meets it
    gets a 4xx, and the database is not reported down."""
    tenant = server.new_tenant()
    r, t = room(), now_ms() - 60_000
    with server.client(tenant) as client:
        sid = client.post("/v2/stats", json=sample_item(r, "a", t)).json()["sessionIds"][0]
    with write_transaction(server.engine) as conn:  # type: ignore[arg-type]
        conn.execute(
            sample_rollups.update()
            .where(sample_rollups.c.session_id == sid)
            .values(audio_send_packets_sum=2**62 + 2**61)
        )
        row = conn.execute(
            sa.select(sample_rollups).where(sample_rollups.c.session_id == sid)
        ).mappings().one()
        conn.execute(sample_rollups.insert().values({**row, "peer_connection_id": "second"}))
    with server.client(tenant) as client:
        response = client.get(f"/v2/sessions/{sid}/stats", params={"interval": 120})
        assert response.status_code < 500, response.text
        assert client.get("/healthz").status_code == 200


# 2. Future timestamps make one read unbounded ------------------------------------------------


def test_a_report_ahead_of_the_server_clock_is_400_naming_timestamp(
    server: RunningServer,
) -> None:
    tenant = server.new_tenant()
    r = room()
    with server.client(token=tenant.token(roles=("rtc",))) as rtc:
        week_ahead = sample_item(r, "a", now_ms() + 7 * 24 * HOUR_MS)
        assert_error(rtc.post("/v2/stats", json=week_ahead), 400, "items[0].timestamp",
                     "MAX_CLOCK_SKEW_S")
        assert rtc.post("/v2/stats", json=sample_item(r, "a", now_ms() + 60_000)).status_code \
            == 202  # a minute ahead: within the skew
    with server.client(tenant) as client:
        assert client.get("/v2/sessions/", params={"roomId": r}).json()["pageInfo"]["total"] == 1


def test_a_read_of_more_buckets_than_the_cap_is_400_naming_interval_and_the_limit(
    server: RunningServer,
) -> None:
    tenant = server.new_tenant()
    r, sid, now = room(), f"long-{uuid.uuid4().hex[:8]}", now_ms()
    with server.client(tenant) as client:
        for t in (now - 20 * HOUR_MS, now):
            answer = client.post("/v2/stats", json=sample_item(r, "a", t, sessionId=sid))
            assert answer.status_code == 202, answer.text
        message = assert_error(
            client.get(f"/v2/sessions/{sid}/stats", params={"interval": 5, "extended": "true"}),
            400, "interval", "10000", "MAX_STATS_BUCKETS",
        )
        assert "interval=8" in message  # 72,000 s / 10,000 buckets, rounded up, fits
        assert client.get(
            f"/v2/sessions/{sid}/participant/a/stats", params={"interval": 5}
        ).status_code == 400
        fits = client.get(f"/v2/sessions/{sid}/stats", params={"interval": 8})
    assert fits.status_code == 200 and len(fits.json()["stats"]) == 9001


def test_a_named_session_spans_at_most_max_session_span(server: RunningServer) -> None:
    tenant = server.new_tenant()
    r, sid, now = room(), f"span-{uuid.uuid4().hex[:8]}", now_ms()
    with server.client(tenant) as client:
        old = sample_item(r, "a", now - 25 * HOUR_MS, sessionId=sid)
        assert client.post("/v2/stats", json=old).status_code == 202
        assert_error(
            client.post("/v2/stats", json=sample_item(r, "a", now, sessionId=sid)),
            400, "items[0].timestamp", "MAX_SESSION_SPAN_S",
        )
        unnamed = room()
        assert client.post("/v2/stats", json=sample_item(unnamed, "a", now)).status_code == 202
        assert_error(  # late data from before the room's session, by more than the span
            client.post("/v2/stats", json=sample_item(unnamed, "a", now - 25 * HOUR_MS)),
            400, "items[0].timestamp", "MAX_SESSION_SPAN_S",
        )


def test_reports_beyond_the_span_open_the_rooms_next_session(server: RunningServer) -> None:
    tenant = server.new_tenant()
    r, start = room(), now_ms() - 25 * HOUR_MS
    step = server.settings.idle_timeout_s * 1000  # never idle: one report per idle timeout
    items = [sample_item(r, "a", start + i * step) for i in range(25 * HOUR_MS // step)]
    with server.client(tenant) as client:
        answer = client.post("/v2/stats", json=items)
        assert answer.status_code == 202, answer.text
        first, second = answer.json()["sessionIds"]
        spans = [client.get(f"/v2/sessions/{s}").json() for s in (first, second)]
    assert [s["roomId"] for s in spans] == [r, r]


# 3. A participant-scoped token is not confined ----------------------------------------------


@pytest.fixture
def two_participants(server: RunningServer) -> tuple[Tenant, str, str]:
    """A tenant's session in which participants a and b sent: (tenant, room, session id)."""
    tenant = server.new_tenant()
    r, t = room(), now_ms() - 60_000
    with server.client(tenant) as client:
        answer = client.post("/v2/stats", json=[
            sample_item(r, "a", t, name="Alice"), sample_item(r, "b", t, name="Bob"),
        ])
    return tenant, r, answer.json()["sessionIds"][0]


def test_a_participant_token_reads_only_its_own_series(
    server: RunningServer, two_participants: tuple[Tenant, str, str]
) -> None:
    tenant, r, sid = two_participants
    with server.client(token=tenant.token(participant_id="a")) as alice:
        assert alice.get(f"/v2/sessions/{sid}/participant/a/stats").status_code == 200
        refused = {
            "list": alice.get("/v2/sessions/"),
            "session": alice.get(f"/v2/sessions/{sid}"),
            "participants": alice.get(f"/v2/sessions/{sid}/participants"),
            "session series": alice.get(f"/v2/sessions/{sid}/stats"),
            "summary": alice.get(f"/v2/sessions/{sid}/summary"),
            "another's series": alice.get(f"/v2/sessions/{sid}/participant/b/stats"),
            "end": alice.post("/v2/sessions/end", json={"roomId": r}),
            "import": alice.post(
                "/v2/sessions/import",
                files={"file": ("x.json", fixture_path(
                    "webrtc-internals/chrome144-two-pcs.json").read_bytes())},
            ),
        }
    for what, response in refused.items():
        assert response.status_code in (403, 404), (what, response.text)
        assert "Bob" not in response.text, what
    with server.client(tenant) as client:
        session = client.get(f"/v2/sessions/{sid}").json()
        assert session["status"] == "ongoing"  # the end was refused
        assert client.get("/v2/sessions/").json()["pageInfo"]["total"] == 1  # no import


def test_an_rtc_token_never_lists_ends_or_imports(
    server: RunningServer, two_participants: tuple[Tenant, str, str]
) -> None:
    tenant, r, sid = two_participants
    dump = fixture_path("webrtc-internals/chrome144-two-pcs.json").read_bytes()
    with server.client(token=tenant.token(roles=("rtc",))) as rtc:
        assert_error(rtc.get("/v2/sessions/"), 403, "rtc")
        assert_error(rtc.post("/v2/sessions/end", json={"roomId": r}), 403, "rtc")
        assert_error(
            rtc.post("/v2/sessions/import", files={"file": ("x.json", dump)}), 403, "rtc"
        )
    with server.client(tenant) as client:
        assert client.get("/v2/sessions/").json()["pageInfo"]["total"] == 1
        assert client.get(f"/v2/sessions/{sid}").json()["status"] == "ongoing"


def test_the_rooms_moderator_may_end_its_session_and_no_other(
    server: RunningServer, two_participants: tuple[Tenant, str, str]
) -> None:
    tenant, r, sid = two_participants
    other = room()
    with server.client(tenant) as client:
        other_sid = client.post("/v2/stats", json=sample_item(other, "c", now_ms())).json()[
            "sessionIds"
        ][0]
    moderator = tenant.token(roles=("rtc",), room_id=r, permissions=("allow_join", "allow_mod"))
    with server.client(token=moderator) as client:
        assert_error(client.post("/v2/sessions/end", json={"roomId": other}), 403, r)
        assert_error(client.post("/v2/sessions/end", json={"sessionId": other_sid}), 403, r)
        ended = client.post("/v2/sessions/end", json={"roomId": r})
    assert ended.status_code == 200, ended.text
    assert ended.json()["id"] == sid and ended.json()["status"] == "ended"


# 4. Import roomId unvalidated; a gzip's ratio decides the memory ---------------------------


@pytest.mark.parametrize("room_id", ["bad\x00room", "x" * 201, "line\nbreak", "\x7f"])
def test_an_import_room_id_is_checked_as_on_ingest(server: RunningServer, room_id: str) -> None:
    tenant = server.new_tenant()
    dump = fixture_path("webrtc-internals/chrome144-two-pcs.json").read_bytes()
    with server.client(tenant) as client:
        response = client.post(
            "/v2/sessions/import", files={"file": ("d.json", dump)}, data={"roomId": room_id}
        )
        assert_error(response, 400, "roomId")
        assert client.get("/v2/sessions/").json()["pageInfo"]["total"] == 0


def test_a_gzip_bomb_costs_one_piece_of_memory_not_the_limit() -> None:
    bomb = gzip.compress(b"\0" * (64 << 20))  # 64 MiB of zeros in 64 KB
    tracemalloc.start()
    try:
        with pytest.raises(DumpError, match="larger than"):
            _gunzip(bomb, 16 << 20)
        bomb_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        fits = gzip.compress(b"{" * (8 << 20))
        assert len(_gunzip(fits, 16 << 20)) == 8 << 20
        fits_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert bomb_peak < 4 << 20  # one 1-MiB piece, not the 16-MiB limit
    assert fits_peak < (8 << 20) * 1.2  # the file once, not twice


# 5. Cross-tenant oracle and squatting; another room's name ----------------------------------


def test_another_tenants_session_id_is_answered_as_an_unknown_one(server: RunningServer) -> None:
    a, b = server.new_tenant(), server.new_tenant()
    taken, unknown, t = f"s-{uuid.uuid4().hex[:8]}", f"s-{uuid.uuid4().hex[:8]}", now_ms()
    with server.client(a) as client:
        assert client.post("/v2/stats", json=sample_item("ra", "alice", t, sessionId=taken)) \
            .status_code == 202
    with server.client(b) as client:
        answers = [
            client.post("/v2/stats", json=sample_item("rb", "bob", t, sessionId=sid))
            for sid in (taken, unknown)
        ]
        mine = client.get(f"/v2/sessions/{taken}").json()
    assert [r.status_code for r in answers] == [202, 202]
    assert [r.json()["sessionIds"] for r in answers] == [[taken], [unknown]]
    assert mine["roomId"] == "rb" and [p["participantId"] for p in mine["participants"]] == ["bob"]
    with server.client(a) as client:
        theirs = client.get(f"/v2/sessions/{taken}").json()
    assert theirs["roomId"] == "ra"
    assert [p["participantId"] for p in theirs["participants"]] == ["alice"]


def test_a_tenant_cannot_squat_another_tenants_session_id(server: RunningServer) -> None:
    a, b = server.new_tenant(), server.new_tenant()
    sid, t = f"s-{uuid.uuid4().hex[:8]}", now_ms()
    with server.client(b) as client:  # B takes the id first
        assert client.post("/v2/stats", json=sample_item("rb", "bob", t, sessionId=sid)) \
            .status_code == 202
    with server.client(a) as client:
        answer = client.post("/v2/stats", json=sample_item("ra", "alice", t, sessionId=sid))
        assert answer.status_code == 202, answer.text
        assert answer.json()["sessionIds"] == [sid]
        session = client.get(f"/v2/sessions/{sid}").json()
        assert session["id"] == sid and session["roomId"] == "ra"
        assert session["links"]["get_session"].endswith(f"/v2/sessions/{sid}")
        series = client.get(f"/v2/sessions/{sid}/stats").json()
        assert series["sessionId"] == sid and len(series["stats"]) == 1
        ended = client.post("/v2/sessions/end", json={"sessionId": sid})
        assert ended.status_code == 200 and ended.json()["roomId"] == "ra"
    with server.client(b) as client:
        assert client.get(f"/v2/sessions/{sid}").json()["status"] == "ongoing"


def test_a_room_token_learns_no_other_rooms_name(server: RunningServer) -> None:
    tenant = server.new_tenant()
    secret_room, t = f"board-meeting-{uuid.uuid4().hex[:6]}", now_ms()
    with server.client(tenant) as client:
        sid = client.post("/v2/stats", json=sample_item(secret_room, "ceo", t)).json()[
            "sessionIds"
        ][0]
    with server.client(token=tenant.token(roles=("rtc",), room_id="lobby")) as rtc:
        response = rtc.post("/v2/stats", json=sample_item("lobby", "x", t, sessionId=sid))
    assert_error(response, 400, "items[0].sessionId")
    assert secret_room not in response.text


# 6. Fairness ---------------------------------------------------------------------------------


def test_rate_limits_are_on_by_default() -> None:
    defaults = Settings()
    assert defaults.rate_limit_per_s > 0
    assert defaults.rate_limit_items_per_s > 0
    assert defaults.unknown_key_rate_per_s > 0


def test_the_item_limit_counts_items_per_tenant(backend: str) -> None:
    with server_with(backend, rate_limit_items_per_s=50, max_batch_items=500) as limited:
        flooder, other = limited.new_tenant(), limited.new_tenant()
        t = now_ms() - HOUR_MS
        flood = [sample_item(room(), f"p{i}", t) for i in range(500)]
        with limited.client(flooder) as client:
            assert client.post("/v2/stats", json=flood).status_code == 202  # the burst
            refused = client.post("/v2/stats", json=flood[:100])
            assert_error(refused, 429, "items per second")
            assert 1 <= int(refused.headers["Retry-After"]) <= 2  # 100 items at 50/s
        with limited.client(other) as client:
            assert client.post("/v2/stats", json=flood[:100]).status_code == 202


def test_unknown_keys_are_limited_per_address_before_the_database(backend: str) -> None:
    with server_with(backend, unknown_key_rate_per_s=0.1) as limited:
        statements: list[str] = []

        def count(*args: Any) -> None:
            statements.append(str(args[2]))

        def unknown_key() -> str:
            return jwt.encode({"apikey": uuid.uuid4().hex}, "x" * 32, algorithm="HS256")

        engine = limited.engine
        sa.event.listen(engine, "before_cursor_execute", count)
        try:  # the burst, max(1, 2 x 0.1): one unknown key is looked up
            with limited.client(token=unknown_key()) as client:
                assert_error(client.get("/v2/sessions/"), 401, "not known")
        finally:
            sa.event.remove(engine, "before_cursor_execute", count)
        assert [s for s in statements if "api_keys" in s]  # the lookup is seen
        statements.clear()
        sa.event.listen(engine, "before_cursor_execute", count)
        try:
            with limited.client(token=unknown_key()) as client:
                refused = client.get("/v2/sessions/")
        finally:
            sa.event.remove(engine, "before_cursor_execute", count)
        assert_error(refused, 429, "not known here")
        assert "127.0.0.1" not in refused.text
        # refused before the key was looked up (background jobs may use the database)
        assert [s for s in statements if "api_keys" in s] == []


# 7. Looseness -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "value"),
    [(("audio", "send", "packets"), "250"), (("audio", "send", "packets"), True),
     (("video", "recv", "width"), "640"), (("audio", "send", "rttMs"), False),
     (("audio", "recv", "packets"), 250.0)],
)
def test_numbers_are_json_numbers_never_strings_or_booleans(
    server: RunningServer, path: tuple[str, str, str], value: object
) -> None:
    tenant = server.new_tenant()
    item = sample_item(room(), "a", now_ms())
    item["sample"][path[0]][path[1]][path[2]] = value
    with server.client(tenant) as client:
        assert_error(client.post("/v2/stats", json=item), 400,
                     f"items[0].sample.{'.'.join(path)}")
    for field, bad in (("timestamp", str(now_ms())), ("timestamp", True)):
        other = sample_item(room(), "a", now_ms())
        other[field] = bad
        with server.client(tenant) as client:
            assert_error(client.post("/v2/stats", json=other), 400, f"items[0].{field}")


@pytest.mark.parametrize("claim", ["exp", "iat", "nbf"])
def test_token_times_are_numbers_only(server: RunningServer, claim: str) -> None:
    tenant = server.new_tenant()
    now = int(time.time())
    claims = {"apikey": tenant.api_key, "roles": ["crawler"], "iat": now, "exp": now + 3600}
    claims[claim] = str(claims.get(claim, now))
    token = jwt.encode(claims, tenant.secret, algorithm="HS256")
    with server.client(token=token) as client:
        assert_error(client.get("/v2/sessions/"), 401, claim)


def test_metrics_are_off_by_default(server: RunningServer) -> None:
    with server.client() as client:
        assert_error(client.get("/metrics"), 404, "METRICS_TOKEN")


def test_metrics_need_their_token_and_show_no_tenant_figures_by_default(backend: str) -> None:
    with server_with(backend, metrics_token="scrape-me") as running:
        tenant = running.new_tenant()
        with running.client(tenant) as client:
            client.post("/v2/stats", json=sample_item(room(), "a", now_ms()))
            assert_error(client.get("/metrics"), 401, "METRICS_TOKEN")  # a tenant's token
        with running.client(token="Bearer wrong") as client:
            assert_error(client.get("/metrics"), 401)
        with running.client(token="Bearer scrape-me") as client:
            text = client.get("/metrics").text
    assert 'callquality_ingest_items_total{outcome="accepted"}' in text
    assert "callquality_sessions" not in text and "callquality_stored_samples" not in text
    with server_with(backend, metrics_token="m", metrics_store_figures=True) as running:
        with running.client(token="Bearer m") as client:
            assert "callquality_sessions " in client.get("/metrics").text


def test_a_405_says_which_methods_are_allowed(server: RunningServer) -> None:
    with server.client() as client:
        response = client.get("/v2/stats")
    assert_error(response, 405, "GET")
    assert response.headers["Allow"] == "POST"


def test_a_database_error_carries_no_parameters(backend: str) -> None:
    engine = create_store_engine(backend)
    migrate(engine)
    key, secret = f"k-{uuid.uuid4().hex[:8]}", f"secret-{uuid.uuid4().hex}"
    row = {"api_key": key, "secret": secret, "name": "n", "created_ms": 0}
    try:
        with write_transaction(engine) as conn:
            conn.execute(api_keys.insert().values(row))
        with pytest.raises(sa.exc.IntegrityError) as duplicate, write_transaction(engine) as conn:
            conn.execute(api_keys.insert().values(row))
    finally:
        engine.dispose()
    assert "INSERT INTO api_keys" in str(duplicate.value)
    assert secret not in str(duplicate.value)


def test_postgres_connections_ask_for_no_statements_in_its_log(pg_database: str) -> None:
    engine = create_store_engine(pg_database)
    try:
        with engine.connect() as conn:
            shown = {
                name: conn.execute(sa.text(f"SHOW {name}")).scalar()
                for name in ("log_min_error_statement", "log_parameter_max_length_on_error",
                             "log_error_verbosity")
            }
    finally:
        engine.dispose()
    # The tests' role is a superuser; docs/operations.md says what a lesser role gets.
    assert shown == {"log_min_error_statement": "panic", "log_parameter_max_length_on_error": "0",
                     "log_error_verbosity": "terse"}


def test_the_openapi_document_describes_every_request_body(server: RunningServer) -> None:
    with server.client() as client:
        paths = client.get("/openapi.json").json()["paths"]
    body = paths["/v2/stats"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    one, many = body["oneOf"]
    assert many["type"] == "array" and many["items"] == one
    shapes = {tuple(sorted(s["required"])) for s in one["oneOf"]}
    assert shapes == {
        ("participantId", "report", "roomId", "timestamp"),
        ("participantId", "roomId", "sample", "timestamp"),
    }
    report = next(s for s in one["oneOf"] if "report" in s["required"])
    assert report["properties"]["report"]["items"]["required"] == ["id", "type"]
    sample = next(s for s in one["oneOf"] if "sample" in s["required"])
    packets = sample["properties"]["sample"]["properties"]["audio"]["anyOf"][0]["properties"][
        "send"]["anyOf"][0]["properties"]["packets"]["anyOf"][0]
    assert packets == {"type": "integer", "minimum": 0, "maximum": 2**32 - 1}
    end = paths["/v2/sessions/end"]["post"]["requestBody"]["content"]["application/json"]
    assert "$ref" in end["schema"]
    upload = paths["/v2/sessions/import"]["post"]["requestBody"]["content"][
        "multipart/form-data"]["schema"]
    assert upload["properties"]["roomId"]["maxLength"] == 200


# Issue 21: error messages as a user meets them ----------------------------------------------


def test_an_item_is_named_items_0_whether_sent_alone_or_in_a_list(
    server: RunningServer,
) -> None:
    tenant = server.new_tenant()
    bad = sample_item(room(), "a", now_ms())
    bad["sample"]["audio"]["recv"]["packetsLost"] = -1
    with server.client(tenant) as client:
        alone = assert_error(client.post("/v2/stats", json=bad), 400)
        listed = assert_error(client.post("/v2/stats", json=[bad]), 400)
    assert alone == listed
    assert alone.startswith("items[0].sample.audio.recv.packetsLost: ")


def test_every_wrong_field_is_listed_up_to_five(server: RunningServer) -> None:
    tenant = server.new_tenant()
    three = sample_item(room(), "a", now_ms())
    three["sample"]["audio"]["send"]["packets"] = -1
    three["sample"]["video"]["recv"]["width"] = "640"
    del three["participantId"]
    eight = [copy.deepcopy(three), copy.deepcopy(three), copy.deepcopy(three)]
    eight[2]["sample"]["audio"]["send"].pop("packets")
    with server.client(tenant) as client:
        message = assert_error(client.post("/v2/stats", json=three), 400)
        many = assert_error(client.post("/v2/stats", json=eight), 400)
    for where in ("items[0].participantId", "items[0].sample.audio.send.packets",
                  "items[0].sample.video.recv.width"):
        assert where in message, message
    assert "more errors" not in message
    assert many.count("; ") == 4 and many.endswith("(and 3 more errors)"), many


def test_a_body_without_content_type_is_read_as_json(server: RunningServer) -> None:
    tenant = server.new_tenant()
    body = json.dumps(sample_item(room(), "a", now_ms())).encode()
    with server.client(tenant) as client:
        plain = client.post("/v2/stats", content=body)  # httpx sets no Content-Type here
        form = client.post(
            "/v2/stats", content=body,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
    assert plain.status_code == 202, plain.text
    assert_error(form, 400, "Content-Type", "application/json")

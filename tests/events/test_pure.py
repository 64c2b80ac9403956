"""The pure parts: which presence changes are joins, when a join is over, how a window is
judged with coverage and hysteresis, the retry schedule, what an answer means, the signature."""

from __future__ import annotations

import hashlib
import hmac
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from callquality.config import Settings
from callquality.domain.alerts import Rule, transition, window_value
from callquality.domain.session import Session
from callquality.service import events
from callquality.service.delivery import retry_delay_ms
from callquality.service.webhooks import outcome_of_status, signature

NOW = 1_796_000_000_000


def _session(session_id: str = "s1", *, new: bool = True, last_ms: int = NOW) -> Session:
    return Session(session_id, "key", "room", None, NOW - 60_000, last_ms, None, is_new=new)


def _rule(**kw: object) -> Rule:
    base = dict(rule_id="r", api_key="key", name=None, metric="audioMos", operator="<",
                threshold=3.0, window_s=30, hysteresis=0.15, scope="all", room_id=None,
                participant_id=None, severity="warning", endpoint_ids=(), enabled=True,
                created_ms=0, updated_ms=0)
    base.update(kw)
    return Rule(**base)  # type: ignore[arg-type]


def test_a_new_session_and_its_first_intervals_are_started_and_joined_in_order() -> None:
    rows = events.from_ingest(
        [_session()], {("s1", "bob"): "Bob"}, {},
        {("s1", "bob"): [(NOW - 5000, NOW)], ("s1", "alice"): [(NOW - 5000, NOW)]},
        now_ms=NOW, idle_timeout_s=300)
    assert [(r["webhook_type"], r["participant_id"]) for r in rows] == [
        ("session-started", None), ("participant-joined", "alice"),
        ("participant-joined", "bob")]
    assert rows[0]["watch"] == rows[1]["watch"] == 1 and rows[1]["span_start_ms"] == NOW - 5000


def test_an_interval_that_grew_or_merged_is_no_new_join_but_one_after_a_gap_is() -> None:
    before = {("s1", "alice"): [(NOW - 60_000, NOW - 40_000), (NOW - 20_000, NOW - 10_000)]}
    grew = {("s1", "alice"): [(NOW - 60_000, NOW - 40_000), (NOW - 25_000, NOW)]}
    merged = {("s1", "alice"): [(NOW - 60_000, NOW)]}
    again = {("s1", "alice"): [*before[("s1", "alice")], (NOW - 1000, NOW)]}
    old = _session(new=False)
    for after, joins in ((grew, 0), (merged, 0), (again, 1)):
        rows = events.from_ingest([old], {}, before, after, now_ms=NOW, idle_timeout_s=300)
        assert len(rows) == joins


def test_a_session_over_by_the_servers_clock_makes_no_events() -> None:
    past = _session(last_ms=NOW - 301_000)
    assert events.from_ingest([past], {}, {}, {("s1", "a"): [(NOW - 302_000, NOW - 301_000)]},
                              now_ms=NOW, idle_timeout_s=300) == []


def test_a_join_is_over_after_the_gap_or_a_later_interval_or_the_end() -> None:
    watched = [events.Watched(1, "s1", None, None), events.Watched(2, "s1", "a", NOW - 50_000),
               events.Watched(3, "s1", "b", NOW - 50_000)]
    spans = {"a": [(NOW - 50_000, NOW - 40_000)], "b": [(NOW - 50_000, NOW - 1000)]}
    rows, closed = events.closing_events(_session(), watched, spans, {}, ended_ms=None,
                                         now_ms=NOW, participant_gap_s=30)
    assert [(r["webhook_type"], r["participant_id"]) for r in rows] == [
        ("participant-left", "a")]
    assert closed == [2] and rows[0]["data"].count("end") == 1
    rows, closed = events.closing_events(_session(), watched, spans, {}, ended_ms=NOW,
                                         now_ms=NOW, participant_gap_s=30)
    assert [r["webhook_type"] for r in rows] == ["participant-left", "participant-left",
                                                 "session-ended"]
    assert sorted(closed) == [1, 2, 3]


def test_the_same_event_always_has_the_same_key() -> None:
    a = events.participant_left(_session(), "p/1", None, 5, 5, 9, NOW)
    b = events.participant_left(_session(), "p/1", "P", 5, 5, 10, NOW + 1)
    c = events.participant_left(_session(), "p", None, 5, 5, 9, NOW)
    assert a["event_key"] == b["event_key"] != c["event_key"]
    assert events.idempotency_key(a["event_key"]) == events.idempotency_key(b["event_key"])


def _rows(values: list[float | None], interval_ms: int = 5000) -> list[dict[str, object]]:
    return [{"interval_ms": interval_ms, "audio_mos": v} for v in values]


def test_a_window_is_judged_only_once_80_percent_of_it_holds_data() -> None:
    rule = _rule()
    assert window_value(rule, _rows([2.0] * 4)) is None  # 20 s of 30
    assert window_value(rule, _rows([2.0] * 4 + [None])) is None  # video-only sample
    assert window_value(rule, _rows([2.0] * 5)) == pytest.approx(2.0)  # 25 s
    assert window_value(rule, _rows([2.0, 4.0, 4.0, 4.0, 4.0, 4.0])) == pytest.approx(
        (2 + 5 * 4) / 6)


def test_the_poor_stream_share_is_the_poor_intervals_share_of_the_window_time() -> None:
    rule = _rule(metric="poorStreamSharePct", operator=">", threshold=50)
    rows = [{"interval_ms": 5000, "poor": p} for p in (True, True, True, False, False, False)]
    assert window_value(rule, rows) == pytest.approx(50.0)
    assert window_value(rule, rows[:4]) is None  # 20 s of a 30-s window


def test_it_fires_once_and_resolves_only_past_the_hysteresis() -> None:
    rule = _rule()
    assert transition(rule, False, 2.9) == "fire"
    assert transition(rule, False, 3.0) is None
    assert transition(rule, True, 2.5) is None  # still firing: no second event
    assert transition(rule, True, 3.1) is None  # above the threshold, within the band
    assert transition(rule, True, 3.15) == "resolve"
    assert transition(rule, True, None) is None  # no data: no change
    high = _rule(metric="audioRttMs", operator=">", threshold=300, hysteresis=15)
    assert transition(high, False, 301) == "fire"
    assert transition(high, True, 290) is None and transition(high, True, 285) == "resolve"


@given(st.lists(st.floats(1.0, 4.5), min_size=1, max_size=200))
def test_fires_and_resolves_alternate_whatever_the_values(values: list[float]) -> None:
    rule, firing, changes = _rule(), False, []
    for v in values:
        change = transition(rule, firing, v)
        if change is not None:
            changes.append(change)
            firing = change == "fire"
    assert all(a != b for a, b in zip(changes, changes[1:], strict=False))
    assert not changes or changes[0] == "fire"


def test_the_retry_delay_doubles_within_equal_jitter_up_to_the_cap() -> None:
    settings = Settings(webhook_retry_base_s=10, webhook_retry_max_s=3600)
    rng = random.Random(3)
    for attempt in range(1, 30):
        ceiling = min(3600, 10 * 2 ** (attempt - 1)) * 1000
        for _ in range(20):
            assert ceiling / 2 <= retry_delay_ms(attempt, settings, rng) <= ceiling


@pytest.mark.parametrize(("status", "delivered", "retry"), [
    (200, True, False), (204, True, False), (301, False, False), (400, False, False),
    (401, False, False), (404, False, False), (410, False, False), (408, False, True),
    (429, False, True), (500, False, True), (503, False, True),
])
def test_what_each_answer_means(status: int, delivered: bool, retry: bool) -> None:
    outcome = outcome_of_status(status, None, 1)
    assert (outcome.delivered, outcome.retry) == (delivered, retry)


def test_retry_after_is_read_from_the_answer() -> None:
    assert outcome_of_status(429, "120", 1).retry_after_s == 120
    assert outcome_of_status(503, "soon", 1).retry_after_s is None


def test_the_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    body = b'{"webhookType":"test","data":{}}'
    expected = hmac.new(b"whsec_x", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert signature("whsec_x", 1_700_000_000, body) == f"t=1700000000,v1={expected}"

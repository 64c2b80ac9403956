"""Alert rules: registration, and their evaluation as reports arrive (docs/webhooks.md).

After an ingest commits (with the ingest log: inside the processor's batch transaction,
``judge_in``, service/processor.py), each participant it brought new samples for is judged
against the API key's rules in scope, over the window that ends at its newest sample: the rule's
``quality-alert`` fires once when the condition starts, ``quality-alert-resolved`` once when
it ends (``domain/alerts.py``: coverage and hysteresis). Only those participants' windows are
read, through the samples' primary key; nothing polls the table. Absent data, which no
report announces, is the sweep's (``evaluate_absent``), and a session's end resolves what
still fires in it (``resolve_sessions``).

A state change and its event are written in one transaction, under the room's lock, and the
event's key counts the rule's firings for that participant: two processes judging the same
window store one event.
"""

from __future__ import annotations

import hashlib
import math
import secrets
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import Connection, Engine

from callquality.config import Settings
from callquality.domain.alerts import (
    METRICS,
    NO_STATS,
    OPERATORS,
    POOR_SHARE,
    SCOPES,
    SEVERITIES,
    Rule,
    default_hysteresis,
    transition,
    window_value,
)
from callquality.domain.errors import InvalidInput, NotFound
from callquality.domain.session import Session
from callquality.domain.timefmt import iso_ms
from callquality.query import summary
from callquality.service import events
from callquality.store import alerts as store
from callquality.store import outbox, writes
from callquality.store import webhooks as webhooks_store
from callquality.store.db import read_transaction, write_transaction

MAX_WINDOW_S = 3600
MIN_WINDOW_S = 5
_RULES_TTL_S = 2.0  # a rule created in one process applies in the others within this


# Registration.

def _number(body: Mapping[str, Any], field: str) -> float:
    value = body.get(field)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidInput(f"{field}: a finite number is required")
    return float(value)


def _word(body: Mapping[str, Any], field: str, default: str | None = None) -> Any:
    """A field that must be one of some words: returned as given when it is a string or
    absent, else refused here (a list is no metric name)."""
    value = body.get(field, default)
    if value is not None and not isinstance(value, str):
        raise InvalidInput(f"{field}: a string is required, not {type(value).__name__}")
    return value


def _check_rule(engine: Engine, api_key: str, body: Mapping[str, Any], rule_id: str,
                created_ms: int, now_ms: int) -> Rule:
    metric = _word(body, "metric")
    if metric not in METRICS:
        raise InvalidInput(
            f"metric: unknown metric {metric!r}; use one of " + ", ".join(METRICS)
        )
    op = _word(body, "operator")
    if op not in OPERATORS:
        raise InvalidInput(f"operator: unknown operator {op!r}; use one of "
                           + ", ".join(OPERATORS))
    threshold = _number(body, "threshold")
    if metric == NO_STATS:
        if op not in (">", ">=") or threshold < 1:
            raise InvalidInput("operator, threshold: noStatsS takes '>' or '>=' and a "
                               "number of seconds of at least 1")
        window_s = 0
    else:
        window = body.get("windowS", 30)
        if isinstance(window, bool) or not isinstance(window, int) or not (
                MIN_WINDOW_S <= window <= MAX_WINDOW_S):
            raise InvalidInput(f"windowS: whole seconds from {MIN_WINDOW_S} to {MAX_WINDOW_S}")
        window_s = window
    hysteresis = default_hysteresis(threshold)
    if body.get("hysteresis") is not None:
        hysteresis = _number(body, "hysteresis")
        if hysteresis < 0:
            raise InvalidInput("hysteresis: must not be negative")
    scope = _word(body, "scope", "all")
    if scope not in SCOPES:
        raise InvalidInput(f"scope: use one of {', '.join(SCOPES)}, not {scope!r}")
    room_id, participant_id = body.get("roomId"), body.get("participantId")
    if scope == "room" and not room_id:
        raise InvalidInput("roomId: a rule of scope 'room' names its room")
    if scope == "participant" and not participant_id:
        raise InvalidInput("participantId: a rule of scope 'participant' names its participant")
    if scope == "all" and (room_id or participant_id):
        raise InvalidInput("scope: roomId or participantId given; set scope to 'room' or "
                           "'participant'")
    if scope == "room" and participant_id:
        raise InvalidInput("participantId: set scope to 'participant' to name one")
    for field, value in (("roomId", room_id), ("participantId", participant_id),
                         ("name", body.get("name"))):
        if value is not None and (not isinstance(value, str) or len(value) > 200):
            raise InvalidInput(f"{field}: a string of at most 200 characters")
    severity = _word(body, "severity", "warning")
    if severity not in SEVERITIES:
        raise InvalidInput(f"severity: use one of {', '.join(SEVERITIES)}, not {severity!r}")
    endpoint_ids = body.get("webhookIds") or []
    if not isinstance(endpoint_ids, list) or not all(isinstance(e, str) for e in endpoint_ids):
        raise InvalidInput("webhookIds: a list of webhook ids")
    with read_transaction(engine) as conn:
        for i, endpoint_id in enumerate(endpoint_ids):
            if webhooks_store.get_endpoint(conn, api_key, endpoint_id) is None:
                raise InvalidInput(f"webhookIds[{i}]: no webhook {endpoint_id!r} for this "
                                   "API key; create it with POST /v2/webhooks")
    enabled = body.get("enabled", True)
    if not isinstance(enabled, bool):
        raise InvalidInput("enabled: true or false")
    return Rule(
        rule_id=rule_id, api_key=api_key, name=body.get("name"), metric=metric, operator=op,
        threshold=threshold, window_s=window_s, hysteresis=hysteresis, scope=scope,
        room_id=room_id, participant_id=participant_id, severity=severity,
        endpoint_ids=tuple(dict.fromkeys(endpoint_ids)), enabled=enabled,
        created_ms=created_ms, updated_ms=now_ms,
    )


def create_rule(engine: Engine, api_key: str, body: Mapping[str, Any], now_ms: int) -> Rule:
    """Validate and store a rule."""
    rule = _check_rule(engine, api_key, body, "ar_" + secrets.token_hex(12), now_ms, now_ms)
    with write_transaction(engine) as conn:
        store.insert_rule(conn, rule)
    return rule


def get_rule(engine: Engine, api_key: str, rule_id: str) -> Rule:
    """One rule of this API key (another key's is a 404)."""
    with read_transaction(engine) as conn:
        rule = store.get_rule(conn, api_key, rule_id)
    if rule is None:
        raise NotFound(f"no alert rule {rule_id!r} for this API key")
    return rule


def list_rules(engine: Engine, api_key: str) -> list[Rule]:
    """This API key's rules."""
    with read_transaction(engine) as conn:
        return store.rules_of(conn, api_key)


def update_rule(
    engine: Engine, api_key: str, rule_id: str, changes: Mapping[str, Any], now_ms: int
) -> Rule:
    """Change some fields of a rule (the others keep their values)."""
    old = get_rule(engine, api_key, rule_id)
    body: dict[str, Any] = {
        "name": old.name, "metric": old.metric, "operator": old.operator,
        "threshold": old.threshold, "windowS": old.window_s or 30, "scope": old.scope,
        "roomId": old.room_id, "participantId": old.participant_id,
        "severity": old.severity, "webhookIds": list(old.endpoint_ids), "enabled": old.enabled,
    }
    if "threshold" not in changes:
        body["hysteresis"] = old.hysteresis
    body.update(changes)
    rule = _check_rule(engine, api_key, body, rule_id, old.created_ms, now_ms)
    with write_transaction(engine) as conn:
        store.replace_rule(conn, rule)
    return rule


def delete_rule(engine: Engine, api_key: str, rule_id: str) -> None:
    """Delete a rule and its states."""
    with write_transaction(engine) as conn:
        if not store.delete_rule(conn, api_key, rule_id):
            raise NotFound(f"no alert rule {rule_id!r} for this API key")


class RuleCache:
    """Each API key's enabled report-driven rules, read at most every ``_RULES_TTL_S``: an
    ingest of a key without rules costs a dictionary lookup."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._cache: dict[str, tuple[float, list[Rule]]] = {}
        self._lock = threading.Lock()

    def known_empty(self, api_key: str) -> bool:
        """Whether the key is known, as of the last read, to have no such rule (no I/O)."""
        with self._lock:
            hit = self._cache.get(api_key)
        return hit is not None and not hit[1] and time.monotonic() - hit[0] < _RULES_TTL_S

    def rules(self, api_key: str) -> list[Rule]:
        """The key's enabled rules on report metrics."""
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(api_key)
        if hit is not None and now - hit[0] < _RULES_TTL_S:
            return hit[1]
        with read_transaction(self._engine) as conn:
            found = [r for r in store.rules_of(conn, api_key)
                     if r.enabled and r.metric != NO_STATS]
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[api_key] = (now, found)
        return found


# Evaluation.

def _alert_key(rule: Rule, session_id: str, participant_id: str, n: int) -> str:
    return f"{rule.rule_id}/{session_id}/{len(participant_id)}:{participant_id}/{n}"


def _alert_event(
    rule: Rule, session: Session, participant_id: str, name: str | None,
    state: store.AlertState, *, resolved: bool, occurred_ms: int, now_ms: int,
    reason: str | None = None,
) -> dict[str, Any]:
    key = _alert_key(rule, session.session_id, participant_id, state.fired_count)
    kind = events.QUALITY_ALERT_RESOLVED if resolved else events.QUALITY_ALERT
    data = {
        "alertId": "alt_" + hashlib.sha256(key.encode()).hexdigest()[:24],
        "ruleId": rule.rule_id, "ruleName": rule.name, "metric": rule.metric,
        "operator": rule.operator, "threshold": rule.threshold,
        "windowS": rule.window_s or None, "severity": rule.severity,
        "value": None if state.value is None else round(state.value, 3),
        "meetingId": session.room_id, "sessionId": session.session_id,
        "participantId": participant_id, "participantName": name,
        "start": iso_ms(state.fired_ms or occurred_ms),
        "end": iso_ms(occurred_ms) if resolved else None,
        **({"reason": reason} if resolved else {}),
    }
    return events.event_row(
        f"{kind}/{key}", session.api_key, kind, data, occurred_ms=occurred_ms, now_ms=now_ms,
        session_id=session.session_id, participant_id=participant_id,
        endpoint_ids=rule.endpoint_ids or None,
    )


def _apply(
    rule: Rule, state: store.AlertState, value: float | None, at_ms: int
) -> tuple[store.AlertState, bool] | None:
    """The state after judging ``value`` at ``at_ms`` (and whether it resolved), if it
    changed. A window older than the newest one judged is stale (two requests' judgments
    may run out of order) and changes nothing."""
    if at_ms < max(state.fired_ms or 0, state.resolved_ms or 0, state.judged_ms or 0):
        return None
    change = transition(rule, state.firing, value)
    if change == "fire":
        return replace(state, firing=True, fired_count=state.fired_count + 1, fired_ms=at_ms,
                       resolved_ms=None, value=value), False
    if change == "resolve":
        return replace(state, firing=False, resolved_ms=at_ms, value=value), True
    return None


def _blank(rule: Rule, session_id: str, participant_id: str) -> store.AlertState:
    return store.AlertState(session_id, participant_id, rule.rule_id, rule.api_key, False, 0,
                            None, None, None)


def _window(conn: Connection, rule: Rule, session_id: str, participant_id: str,
            to_ms: int) -> list[dict[str, Any]]:
    """The rows of the rule's window that ends at ``to_ms``."""
    from_ms = to_ms - rule.window_s * 1000
    if rule.metric == POOR_SHARE:  # the summary's classification of each interval
        return [{"interval_ms": r.interval_ms, "poor": summary.bad(r)}
                for r in summary.participant_window(conn, session_id, participant_id,
                                                    from_ms, to_ms)]
    return store.window_rows(conn, session_id, participant_id, from_ms, to_ms,
                             METRICS[rule.metric].columns)


def evaluate_reports(
    engine: Engine, settings: Settings, cache: RuleCache, api_key: str,
    reported: Sequence[tuple[tuple[str, str], int]], now_ms: int,
) -> int:
    """Judge the participants of an ingest that has committed; the events it wrote."""
    rules = cache.rules(api_key) if reported else []
    if not rules:
        return 0
    with write_transaction(engine) as conn:
        return judge_in(conn, settings, rules, api_key, reported, now_ms)


def judge_in(
    conn: Connection, settings: Settings, rules: Sequence[Rule], api_key: str,
    reported: Sequence[tuple[tuple[str, str], int]], now_ms: int,
) -> int:
    """Judge the participants of an ingest against the key's ``rules`` inside a write
    transaction the caller holds (the ingest log's processor: the batch's own); the events
    it wrote."""
    if not rules or not reported:
        return 0
    sessions = outbox.sessions_by_id(conn, {s for (s, _), _ in reported})
    writes.lock_rooms(conn, api_key, sorted({s.room_id for s in sessions.values()}))
    pairs = [((s, p), ts) for (s, p), ts in reported
             if s in sessions and sessions[s].status(now_ms, settings.idle_timeout_s)
             == "ongoing"]
    judged = [(rule, s, p, ts) for (s, p), ts in pairs for rule in rules
              if rule.applies_to(sessions[s].room_id, p)]
    stored = store.states(conn, [(s, p, r.rule_id) for r, s, p, _ in judged])
    names = outbox.participant_names(conn, [(s, p) for _, s, p, _ in judged])
    changed, rows = [], []
    for rule, s, p, ts in judged:
        window = _window(conn, rule, s, p, ts)
        state = stored.get((s, p, rule.rule_id)) or _blank(rule, s, p)
        after = _apply(rule, state, window_value(rule, window), ts)
        if after is None:
            if ts > (state.judged_ms or 0):  # remembered, so no older window fires later
                changed.append(replace(state, judged_ms=ts))
            continue
        new_state, resolved = after
        changed.append(replace(new_state, judged_ms=ts))
        rows.append(_alert_event(rule, sessions[s], p, names.get((s, p)), new_state,
                                 resolved=resolved, occurred_ms=ts, now_ms=now_ms,
                                 reason="recovered" if resolved else None))
    store.save_states(conn, changed)
    outbox.add_events(conn, rows)
    return len(rows)


def resolve_sessions(
    conn: Connection, sessions: Mapping[str, tuple[Session, int]], now_ms: int, *,
    save: bool = True,
) -> list[dict[str, Any]]:
    """Resolve what still fires in sessions that ended ({id: (session, end_ms)}); the
    events, for the caller to write with the session's end (``save``: store the states)."""
    firing = store.firing_of_sessions(conn, sessions)
    if not firing:
        return []
    rules = {r.rule_id: r for api_key in {s.api_key for s in firing}
             for r in store.rules_of(conn, api_key)}
    names = outbox.participant_names(conn, [(s.session_id, s.participant_id) for s in firing])
    changed, rows = [], []
    for state in firing:
        rule = rules.get(state.rule_id)
        session, end_ms = sessions[state.session_id]
        new_state = replace(state, firing=False, resolved_ms=end_ms)
        changed.append(new_state)
        if rule is not None:
            rows.append(_alert_event(rule, session, state.participant_id,
                                     names.get((state.session_id, state.participant_id)),
                                     new_state, resolved=True, occurred_ms=end_ms,
                                     now_ms=now_ms, reason="session-ended"))
    if save:
        store.save_states(conn, changed)
    return rows


def evaluate_absent(
    conn: Connection, ongoing: Mapping[str, Session],
    intervals: Mapping[tuple[str, str], list[tuple[int, int]]], now_ms: int, *,
    save: bool = True,
) -> list[dict[str, Any]]:
    """The absent-data rules (``noStatsS``) over the participants of ongoing sessions
    (``intervals``: their presence); the events, for the sweep to write (``save``: store
    the states)."""
    rules = store.rules_with_metric(conn, NO_STATS)
    if not rules or not ongoing:
        return []
    judged = [
        (rule, s, p, spans[-1][1]) for (s, p), spans in intervals.items()
        if spans and s in ongoing for rule in rules
        if rule.api_key == ongoing[s].api_key and rule.applies_to(ongoing[s].room_id, p)
    ]
    stored = store.states(conn, [(s, p, r.rule_id) for r, s, p, _ in judged])
    names = outbox.participant_names(conn, [(s, p) for _, s, p, _ in judged])
    changed, rows = [], []
    for rule, s, p, last_ms in judged:
        silent_s = max(0.0, (now_ms - last_ms) / 1000)
        state = stored.get((s, p, rule.rule_id)) or _blank(rule, s, p)
        # Fired when the silence passed the threshold; resolved at the report that ended it.
        at_ms = min(last_ms + int(rule.threshold * 1000) if not state.firing else last_ms,
                    now_ms)
        after = _apply(rule, state, silent_s, at_ms)
        if after is None:
            continue
        new_state, resolved = after
        changed.append(new_state)
        rows.append(_alert_event(rule, ongoing[s], p, names.get((s, p)), new_state,
                                 resolved=resolved, occurred_ms=at_ms, now_ms=now_ms,
                                 reason="recovered" if resolved else None))
    if save:
        store.save_states(conn, changed)
    return rows

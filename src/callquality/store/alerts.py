"""Alert rules, alert states, and the samples window a rule reads."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection, and_, delete, select, update

from callquality.domain.alerts import Rule
from callquality.store import bulk
from callquality.store.schema import alert_rules, alert_states, samples


def _rule(row: Any) -> Rule:
    return Rule(
        rule_id=row.rule_id, api_key=row.api_key, name=row.name, metric=row.metric,
        operator=row.operator, threshold=float(row.threshold), window_s=int(row.window_s),
        hysteresis=float(row.hysteresis), scope=row.scope, room_id=row.room_id,
        participant_id=row.participant_id, severity=row.severity,
        endpoint_ids=tuple(orjson.loads(row.endpoint_ids)), enabled=bool(row.enabled),
        created_ms=int(row.created_ms), updated_ms=int(row.updated_ms),
    )


def _values(rule: Rule) -> dict[str, Any]:
    return {
        "api_key": rule.api_key, "name": rule.name, "metric": rule.metric,
        "operator": rule.operator, "threshold": rule.threshold, "window_s": rule.window_s,
        "hysteresis": rule.hysteresis, "scope": rule.scope, "room_id": rule.room_id,
        "participant_id": rule.participant_id, "severity": rule.severity,
        "endpoint_ids": orjson.dumps(list(rule.endpoint_ids)).decode(),
        "enabled": int(rule.enabled), "created_ms": rule.created_ms,
        "updated_ms": rule.updated_ms,
    }


def insert_rule(conn: Connection, rule: Rule) -> None:
    """Store a new rule."""
    conn.execute(alert_rules.insert().values(rule_id=rule.rule_id, **_values(rule)))


def replace_rule(conn: Connection, rule: Rule) -> None:
    """Store a changed rule."""
    conn.execute(update(alert_rules).where(alert_rules.c.rule_id == rule.rule_id,
                                           alert_rules.c.api_key == rule.api_key)
                 .values(**_values(rule)))


def get_rule(conn: Connection, api_key: str, rule_id: str) -> Rule | None:
    """One rule of an API key."""
    row = conn.execute(select(alert_rules).where(
        alert_rules.c.rule_id == rule_id, alert_rules.c.api_key == api_key)).first()
    return _rule(row) if row is not None else None


def rules_of(conn: Connection, api_key: str) -> list[Rule]:
    """An API key's rules, oldest first."""
    rows = conn.execute(select(alert_rules).where(alert_rules.c.api_key == api_key)
                        .order_by(alert_rules.c.created_ms, alert_rules.c.rule_id))
    return [_rule(r) for r in rows]


def rules_with_metric(conn: Connection, metric: str) -> list[Rule]:
    """Every enabled rule on one metric, of every API key (the sweep's absent-data rules)."""
    rows = conn.execute(select(alert_rules).where(alert_rules.c.metric == metric,
                                                  alert_rules.c.enabled == 1))
    return [_rule(r) for r in rows]


def delete_rule(conn: Connection, api_key: str, rule_id: str) -> bool:
    """Delete a rule and its states; whether it existed."""
    result = conn.execute(delete(alert_rules).where(
        alert_rules.c.rule_id == rule_id, alert_rules.c.api_key == api_key))
    conn.execute(delete(alert_states).where(alert_states.c.rule_id == rule_id,
                                            alert_states.c.api_key == api_key))
    return bool(result.rowcount)


@dataclass(slots=True)
class AlertState:
    """Whether a rule fires for one participant of one session."""

    session_id: str
    participant_id: str
    rule_id: str
    api_key: str
    firing: bool
    fired_count: int
    fired_ms: int | None
    resolved_ms: int | None
    value: float | None
    judged_ms: int | None = None


_STATE_KEY = ("session_id", "participant_id", "rule_id")
_STATE_COLUMNS = (*_STATE_KEY, "api_key", "firing", "fired_count", "fired_ms", "resolved_ms",
                  "value", "judged_ms")


def _state(row: Any) -> AlertState:
    return AlertState(row[0], row[1], row[2], row[3], bool(row[4]), int(row[5]), row[6],
                      row[7], row[8], row[9])


def states(conn: Connection, keys: Sequence[tuple[str, str, str]]) -> dict[
        tuple[str, str, str], AlertState]:
    """The stored states of (session, participant, rule)s."""
    rows = bulk.select_by_keys(conn, alert_states, _STATE_KEY, sorted(set(keys)),
                               _STATE_COLUMNS)
    return {(r[0], r[1], r[2]): _state(r) for r in rows}


def firing_of_sessions(conn: Connection, session_ids: Iterable[str]) -> list[AlertState]:
    """The alerts firing in some sessions."""
    ids = sorted(set(session_ids))
    if not ids:
        return []
    rows = conn.execute(select(*(alert_states.c[c] for c in _STATE_COLUMNS)).where(
        alert_states.c.firing == 1, alert_states.c.session_id.in_(ids)))
    return [_state(r) for r in rows]


def save_states(conn: Connection, changed: Sequence[AlertState]) -> None:
    """Store new and changed states (one statement)."""
    bulk.insert_many(conn, alert_states, [
        {"session_id": s.session_id, "participant_id": s.participant_id, "rule_id": s.rule_id,
         "api_key": s.api_key, "firing": int(s.firing), "fired_count": s.fired_count,
         "fired_ms": s.fired_ms, "resolved_ms": s.resolved_ms, "value": s.value,
         "judged_ms": s.judged_ms}
        for s in changed
    ], _states_conflict)


def _states_conflict(stmt: Any) -> Any:
    return stmt.on_conflict_do_update(
        index_elements=list(_STATE_KEY),
        set_={c: stmt.excluded[c] for c in _STATE_COLUMNS if c not in _STATE_KEY},
    )


def window_rows(
    conn: Connection, session_id: str, participant_id: str, from_ms: int, to_ms: int,
    columns: Sequence[str],
) -> list[dict[str, Any]]:
    """A participant's samples with ``from_ms < timestamp_ms <= to_ms`` (through the
    primary key's (session, participant) prefix): interval_ms and ``columns``."""
    names = ("interval_ms", *dict.fromkeys(columns))
    rows = conn.execute(
        select(*(samples.c[c] for c in names)).where(and_(
            samples.c.session_id == session_id, samples.c.participant_id == participant_id,
            samples.c.timestamp_ms > from_ms, samples.c.timestamp_ms <= to_ms,
        ))
    )
    return [dict(zip(names, r, strict=True)) for r in rows]
